"""Every op of the table, by hand: ordinary cases, edge cases and rejections (interp is the spec)."""
from __future__ import annotations

import pytest

from ksynth.dsl.interp import VALUE_LIMIT, run
from ksynth.dsl.ops import OPS, PREDICATES, op
from ksynth.dsl.program import Program, Ref
from ksynth.errors import ExecError, ProgramError


def ev(name: str, *args, max_len: int = 1 << 16):
    """Run `name(*args)`; a Python list argument becomes a set_list line passed by reference
    where the op takes a sequence (set_list, modeled_list and lpc's coefficients take it literally)."""
    from ksynth.dsl.ops import ArgKind

    kinds = OPS[name].args
    lines, call = [], []
    for k, a in enumerate(args):
        literal = kinds[min(k, len(kinds) - 1)] is ArgKind.INTS
        if isinstance(a, list) and not literal:
            lines.append(("set_list", (tuple(a),)))
            call.append(Ref(len(lines) - 1))
        else:
            call.append(tuple(a) if isinstance(a, list) else a)
    lines.append((name, tuple(call)))
    return run(Program.build(lines), max_len=max_len)


R10 = list(range(10))

CASES = [
    # (op, args, expected)
    ("range_func_up", (3, 7), [3, 4, 5, 6, 7]),
    ("range_func_up", (5, 5), [5]),
    ("range_func_up", (7, 3), []),                       # end below start
    ("range_func_up", (-2, 1), [-2, -1, 0, 1]),
    ("range_func_interval", (0, 10, 3), [0, 3, 6, 9]),    # end exclusive
    ("range_func_interval", (0, 9, 3), [0, 3, 6]),
    ("range_func_interval", (10, 0, -3), [10, 7, 4, 1]),  # negative step
    ("range_func_interval", (10, 0, 2), []),              # end below start, positive step
    ("range_func_interval", (0, 10, -1), []),             # end above start, negative step
    ("range_func_interval", (5, 5, 2), []),
    ("repeat_num", (3, 7), [7, 7, 7]),
    ("repeat_num", (0, 7), []),
    ("set_list", ([4, 0, 4],), [4, 0, 4]),
    ("set_list", ([],), []),
    ("repeat_list", (2, [1, 2]), [1, 2, 1, 2]),
    ("repeat_list", (0, [1, 2]), []),
    ("repeat_list", (3, []), []),
    ("reverse_list", ([1, 2, 3],), [3, 2, 1]),
    ("reverse_list", ([],), []),
    ("substitute", ([1, 2, 1], 1, 9), [9, 2, 9]),
    ("substitute", ([1, 2], 5, 9), [1, 2]),               # pattern absent
    ("substitute", ([], 1, 9), []),
    ("get_subsequence_with_jumps", (R10, 3), [0, 3, 6, 9]),
    ("get_subsequence_with_jumps", (R10, 1), R10),
    ("get_subsequence_with_jumps", (R10, 20), [0]),
    ("get_subsequence_with_jumps", ([], 2), []),
    ("get_subsequence_between_indices", (R10, 2, 5), [2, 3, 4]),
    ("get_subsequence_between_indices", (R10, 5, 2), []),  # b < a
    ("get_subsequence_between_indices", (R10, -3, 99), [7, 8, 9]),  # Python slice rules
    ("get_subsequence_between_indices", ([], 0, 3), []),
    ("max_n", ([3, 1, 4, 1, 5], 3), [5, 4, 3]),           # descending
    ("max_n", ([2, 7, 2, 1], 3), [7, 2, 2]),              # ties both kept
    ("max_n", ([3, 1], 5), [3, 1]),                       # n > len: all, sorted
    ("max_n", ([3, 1], 0), []),
    ("max_n", ([], 2), []),
    ("min_n", ([3, 1, 4, 1, 5], 3), [1, 1, 3]),           # ascending, ties kept
    ("min_n", ([3, 1], 5), [1, 3]),
    ("min_n", ([3, 1], 0), []),
    ("add_item_list", ([1, 2], 3), [4, 5]),
    ("add_item_list", ([250], 10), [260]),                # no wrap-around
    ("add_item_list", ([], 3), []),
    ("subtract_item_list", ([5, 6], 2), [3, 4]),
    ("subtract_item_list", ([1], 3), [-2]),               # no wrap-around
    ("modulo_item_list", ([5, 6, 7], 3), [2, 0, 1]),
    ("modulo_item_list", ([-1, -5], 3), [2, 1]),          # Python sign rules
    ("modulo_item_list", ([5], -3), [-1]),
    ("modulo_item_list", ([], 3), []),
    ("filter", ("is_even", [1, 2, 3, 4, 0]), [2, 4, 0]),
    ("filter", ("is_odd", [1, 2, 3, -3]), [1, 3, -3]),
    ("filter", ("is_not_zero", [0, 1, 0, 2]), [1, 2]),
    ("filter", ("is_even", []), []),
    ("scan_add", ([1, 2, 3],), [1, 3, 6]),
    ("scan_add", ([5],), [5]),
    ("scan_add", ([],), []),
    ("add_two_lists", ([1, 2, 3], [10, 20]), [11, 22]),   # truncated to the shorter
    ("add_two_lists", ([1, 2], []), []),
    ("subtract_two_lists", ([5, 5], [1, 2, 3]), [4, 3]),
    ("subtract_two_lists", ([1], [3]), [-2]),
    ("modulo_two_lists", ([7, 8, 9], [2, 0, 4]), [1, 1]),  # the pair with y == 0 is dropped
    ("modulo_two_lists", ([7, 8], [0, 0]), []),
    ("modulo_two_lists", ([7, 8, 9], [3, 5]), [1, 3]),
    ("concatenate", ([1],), [1]),                          # one list
    ("concatenate", ([1, 2], [3]), [1, 2, 3]),
    ("concatenate", ([1], [], [2, 3], [1]), [1, 2, 3, 1]),
    ("interleave", ([1, 2, 3], [9]), [1, 9, 2, 3]),        # tail of the first
    ("interleave", ([1], [7, 8, 9]), [1, 7, 8, 9]),        # tail of the second
    ("interleave", ([1, 2], [8, 9]), [1, 8, 2, 9]),
    ("interleave", ([], [1, 2]), [1, 2]),
    ("interleave", ([1, 2], []), [1, 2]),
    # the ksynth dialect
    ("modeled_list", (0, 3, [5, -7, 0]), [5, -7, 0]),       # the list itself: the model only codes it
    ("modeled_list", (4, 0, []), []),
    ("lpc", ([3, 1, -2], [0, 1]), [3, 4, 2]),                # first order: running sum
    ("lpc", ([10, 10, 0, 0], [0, 2, -1]), [10, 20, 30, 40]),  # second order: a line
    ("lpc", ([10, 0, 0, 0], [0, 2, -1]), [10, 10, 10, 10]),   # warm-up: y[1] is predicted by y[0]
    ("lpc", ([4, 1, 1, 0], [0, 3, -3, 1]), [4, 5, 7, 10]),    # .. y[2] by 2 y[1] - y[0], then the cubic
    ("lpc", ([7, 1, 1], [2, 3]), [7, 6, 5]),                 # 3/4 y[n-1], floored: 5.25 -> 5, 4.5 -> 4
    ("lpc", ([-5, 0], [1, 1]), [-5, -3]),                    # floor of -2.5 is -3 (>> is floor)
    ("lpc", ([1, 2], [3]), [1, 2]),                        # no coefficients: the residuals
    ("lpc", ([], [0, 1]), []),
    ("bytes_le", ([-1, 0, 255, 256], 1), [255, 0, 255, 0]),  # int8 samples as bytes
    ("bytes_le", ([-2, 258], 2), [254, 255, 2, 1]),          # int16 samples, little-endian
    ("bytes_le", ([], 2), []),
]


@pytest.mark.parametrize("name,args,expected", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_op(name, args, expected):
    assert ev(name, *args) == expected


REJECTED = [
    ("range_func_interval", (0, 10, 0), "step must not be 0"),
    ("repeat_num", (-1, 7), "count"),
    ("repeat_list", (-1, [1]), "count"),
    ("get_subsequence_with_jumps", ([1, 2], 0), "jump"),
    ("get_subsequence_with_jumps", ([1, 2], -1), "jump"),
    ("max_n", ([1, 2], -1), "n must be"),
    ("min_n", ([1, 2], -1), "n must be"),
    ("modulo_item_list", ([1, 2], 0), "modulus must not be 0"),
    ("add_item_list", ([1], VALUE_LIMIT), r"2\^31"),          # literal outside +/-2^31
    ("add_item_list", ([VALUE_LIMIT - 1], 1), r"2\^31"),      # computed value leaves the range
    ("set_list", ([-VALUE_LIMIT],), r"2\^31"),
    ("lpc", ([1], [16, 1]), "predictor must be"),
    ("lpc", ([1], [0, 1 << 24]), "predictor must be"),
    ("lpc", ([1], [0] + [1] * 33), "predictor must be"),
    ("lpc", ([1], []), "predictor must be"),
    ("lpc", ([VALUE_LIMIT - 1, 0], [0, 2]), r"2\^31"),       # a prediction leaves the range
    ("bytes_le", ([1], 3), "width must be 1 or 2"),
    ("modeled_list", (-1, 0, [1]), "model must be"),
]


@pytest.mark.parametrize("name,args,message", REJECTED, ids=[f"{c[0]}-{i}" for i, c in enumerate(REJECTED)])
def test_rejected_values(name, args, message):
    with pytest.raises(ExecError, match=message) as info:
        ev(name, *args)
    assert info.value.line is not None and name in str(info.value)


@pytest.mark.parametrize("name,args", [("repeat_num", (11, 1)), ("range_func_up", (0, 10)),
                                       ("repeat_list", (11, [1])), ("range_func_interval", (0, 22, 2)),
                                       ("concatenate", ([1] * 6, [2] * 5))])
def test_output_cap(name, args):
    assert len(ev(name, *args, max_len=11)) == 11        # exactly at the cap: accepted
    with pytest.raises(ExecError, match="longer than the cap"):
        ev(name, *args, max_len=10)


@pytest.mark.parametrize("lines,message", [
    ([("set_list", (3,))], "must be a list of integers"),
    ([("reverse_list", (5,))], "must be a sequence name"),
    ([("set_list", ((1,),)), ("concatenate", ())], "one or more"),
    ([("range_func_up", (1,))], "takes 2 argument"),
    ([("set_list", ((1,),)), ("filter", ("is_prime", Ref(0)))], "is_even"),
    ([("set_list", ((1,),)), ("reverse_list", (Ref(1),))], "not defined before"),
    ([("range_func_up", (1, "2"))], "must be an integer"),
])
def test_rejected_forms(lines, message):
    with pytest.raises(ProgramError, match=message):
        Program.build(lines)


def test_unknown_op_suggests_nearest():
    with pytest.raises(ProgramError, match="did you mean reverse_list"):
        op("reverse_lst")


def test_every_row_is_complete():
    """Each row owns its op: parameters, body, size rule, a jit body and a hand-written case."""
    from ksynth.dsl.jit import JIT_BODIES
    from ksynth.dsl.encode import CODERS

    for spec in OPS.values():
        assert callable(spec.body) and callable(spec.size), spec.name
        assert spec.params and all(p.code in CODERS for p in spec.params), spec.name
        assert spec.name in JIT_BODIES, f"{spec.name} has no jit body"
        order = spec.encode_order or tuple(range(len(spec.params)))
        assert sorted(order) == list(range(len(spec.params))), spec.name
        for p in spec.params:
            assert p.base is None or p.base < len(spec.params), spec.name
    assert {c[0] for c in CASES} == set(OPS)
    assert {p for c in CASES if c[0] == "filter" for p in c[1][:1]} == set(PREDICATES)
