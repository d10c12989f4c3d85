"""Segment pieces that interleave a source, and the program polish (ksynth.search.polish)."""
from itertools import permutations

import pytest

from ksynth.dsl.interp import run
from ksynth.dsl.program import Line, Program, Ref
from ksynth.dsl.sample import sample
from ksynth.dsl.score import kt_bits
from ksynth.search.polish import _Dag, best_order, _to_program, polish
from ksynth.search.ir import assemble, literal_node
from ksynth.search.segment import Segmenter


def P(text: str) -> Program:
    return Program.parse(text)


def _polished(text: str) -> tuple[Program, Program]:
    p = P(text)
    q = polish(p, run(p))
    assert run(q) == run(p)
    return p, q


# ---- polish rewrites ---------------------------------------------------------------------------
def test_flatten_nested_concatenate():
    p, q = _polished("""
        sequence_1 = set_list([9, 4, 250])
        sequence_2 = range_func_up(10, 20)
        sequence_3 = concatenate(sequence_1, sequence_2)
        sequence_4 = range_func_interval(100, 130, 3)
        sequence_5 = concatenate(sequence_3, sequence_4, sequence_1)
        output = sequence_5""")
    assert [l.op for l in q.lines].count("concatenate") == 1
    assert len(q.lines) == 4
    assert kt_bits(q) < kt_bits(p)


def test_unroll_repeat_list_and_repeat_num_inside_concatenate():
    p, q = _polished("""
        sequence_1 = set_list([9, 4, 250, 7])
        sequence_2 = repeat_list(3, sequence_1)
        sequence_3 = repeat_num(6, 77)
        sequence_4 = range_func_up(10, 20)
        sequence_5 = concatenate(sequence_4, sequence_2, sequence_3)
        output = sequence_5""")
    ops = [l.op for l in q.lines]
    assert "repeat_list" not in ops and "repeat_num" not in ops
    # one reference per copy: 3 of the literal, 6 of set_list([77])
    concat = q.lines[q.output]
    assert concat.op == "concatenate" and len(concat.args) == 1 + 3 + 6
    assert kt_bits(p) - kt_bits(q) > 10


def test_adjacent_private_initiators_merge_into_one_literal():
    p, q = _polished("""
        sequence_1 = set_list([9, 4])
        sequence_2 = repeat_num(2, 200)
        sequence_3 = set_list([31, 5, 77])
        sequence_4 = concatenate(sequence_1, sequence_2, sequence_3)
        output = sequence_4""")
    assert len(q.lines) == 1 and q.lines[0].op == "set_list"
    assert kt_bits(q) == pytest.approx(kt_bits(P("sequence_1 = set_list([9, 4, 200, 200, 31, 5, 77])\n"
                                                  "output = sequence_1")))


def test_literalise_a_private_subtree():
    # reverse_list of a literal used nowhere else: the reversed literal is one line cheaper
    p, q = _polished("""
        sequence_1 = set_list([9, 4, 250, 7, 1])
        sequence_2 = reverse_list(sequence_1)
        sequence_3 = range_func_up(10, 40)
        sequence_4 = concatenate(sequence_2, sequence_3)
        output = sequence_4""")
    assert "reverse_list" not in [l.op for l in q.lines]
    assert kt_bits(q) < kt_bits(p)


def test_cheapest_initiator_form_and_dedupe():
    p, q = _polished("""
        sequence_1 = range_func_interval(5, 40, 1)
        sequence_2 = set_list([5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39])
        sequence_3 = reverse_list(sequence_2)
        sequence_4 = interleave(sequence_1, sequence_3)
        output = sequence_4""")
    assert [l.op for l in q.lines] == ["range_func_up", "reverse_list", "interleave"]


def test_polish_keeps_a_program_it_cannot_improve():
    p = P("sequence_1 = range_func_up(3, 9)\noutput = sequence_1")
    assert polish(p, run(p)) is p
    # a wrong target: never "improved" into something else
    assert polish(p, [1, 2, 3]) is p


def _all_orders_min(dag: _Dag) -> float:
    keys = list(dag.lines)
    best = float("inf")
    for perm in permutations(k for k in keys if k != dag.out):
        order = list(perm) + [dag.out]
        pos = {k: i for i, k in enumerate(order)}
        if all(pos[r] < pos[k] for k in keys for r in dag.refs(k)):
            best = min(best, kt_bits(_to_program(dag, order)))
    return best


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_order_matches_exhaustive_optimum_on_small_programs(seed):
    checked = 0
    for d in sample(40, seed):
        p = d.program.pruned()
        if not 3 <= len(p.lines) <= 7:
            continue
        dag = _Dag.from_program(p, [run(Program(p.lines[:i + 1], i)) for i in range(len(p.lines))])
        got = kt_bits(_to_program(dag, best_order(dag, "kt")))
        assert got == pytest.approx(_all_orders_min(dag))
        checked += 1
    assert checked >= 5


def test_polish_never_costs_more_on_ground_truth_programs():
    gain = 0.0
    for d in sample(60, 7):
        q = polish(d.program, d.sequence)
        assert run(q) == list(d.sequence)
        assert kt_bits(q) <= kt_bits(d.program) + 1e-9
        gain += kt_bits(d.program) - kt_bits(q)
    assert gain > 0


# ---- segment: interleave of a source with a fresh list ---------------------------------------------
A = (194, 149, 41, 242, 149, 181, 173, 233, 64, 95)
F = (96, 130, 94, 143, 205, 164, 244, 12, 216, 5)


def _interleave(x, y):
    out = [v for pair in zip(x, y) for v in pair]
    m = min(len(x), len(y))
    return tuple(out) + tuple(x[m:]) + tuple(y[m:])


@pytest.mark.parametrize("x,y,side", [(F, A, 1), (A, F, 0), (F[:4], A, 1), (A, F[:3], 0),
                                      (F + (1, 2), A, 1)])
def test_interleave_with_pool_line(x, y, side):
    target = (9, 8, 7, 6, 5) + _interleave(x, y) + (9, 8, 7, 6, 5)
    seg = Segmenter("kt", interleave_pieces=True)
    pool = [literal_node(A)]
    _, node = seg.solve(target, pool)
    prog = assemble(node)
    assert tuple(run(prog)) == target
    ops = [l.op for l in prog.lines]
    assert "interleave" in ops
    # the pool line appears once, as an argument of the interleave
    il = next(l for l in prog.lines if l.op == "interleave")
    args = [prog.lines[r.index].args for r in il.refs()]
    assert (A,) in args
    # without the piece family the pool line cannot be used
    seg_off = Segmenter("kt", type("Abl", (), {"interleaved_copies": False})(), interleave_pieces=True)
    # the search's segmenter does not try the family (only the polish asks for it)
    assert "interleave" not in [l.op for l in assemble(Segmenter("kt").solve(target, pool)[1]).lines]
    _, node_off = seg_off.solve(target, pool)
    assert "interleave" not in [l.op for l in assemble(node_off).lines]


def test_interleave_of_two_sources_is_one_line():
    target = _interleave(F, A) + (9, 8, 7, 6, 5)
    _, node = Segmenter("kt", interleave_pieces=True).solve(target, [literal_node(A), literal_node(F)])
    prog = assemble(node)
    assert tuple(run(prog)) == target
    assert sorted(l.args for l in prog.lines if l.op == "set_list") == sorted([(A,), (F,)])
    assert "interleave" in [l.op for l in prog.lines]


def test_interleave_with_a_reversed_pool_line():
    target = _interleave(F, A[::-1]) + (9, 8, 7, 6, 5)
    _, node = Segmenter("kt", interleave_pieces=True).solve(target, [literal_node(A)])
    prog = assemble(node)
    assert tuple(run(prog)) == target
    ops = [l.op for l in prog.lines]
    assert "reverse_list" in ops and "interleave" in ops
    assert sum(len(l.args[0]) for l in prog.lines if l.op == "set_list") == len(A) + len(F)


def test_resegment_finds_a_transform_hidden_in_a_merged_literal():
    text = (f"sequence_1 = set_list({list(A)})\n"
            f"sequence_2 = set_list({list(F + A[::-1])})\n"
            "sequence_3 = concatenate(sequence_1, sequence_2)\noutput = sequence_3")
    p = P(text)
    plain = polish(p, run(p))
    deep = polish(p, run(p), resegment=True)
    assert run(deep) == run(p)
    assert "reverse_list" in [l.op for l in deep.lines]
    assert "reverse_list" not in [l.op for l in plain.lines]
    assert kt_bits(deep) < kt_bits(plain) - 8 * len(A) + 20


def test_portfolio_polish_switches():
    from ksynth.config import SearchConfig, apply_overrides
    from ksynth.search.portfolio import Portfolio

    target = list(A) + list(range(10, 30)) + list(F) + list(A[::-1]) + [77] * 9
    costs = {}
    for over in ([], ["ablations.polish_resegment=false"], ["ablations.polish=false"]):
        cfg = apply_overrides(SearchConfig(), ["budget.seconds=1"] + over)
        res = Portfolio(cfg).search(target)
        assert run(res.program) == target
        costs[tuple(over)] = res.kt_bits
    assert costs[()] <= costs[("ablations.polish_resegment=false",)] + 1e-9
