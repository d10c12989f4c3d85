"""search/ir.py: the node DAG, one-line extension by the rows' bodies, shared helpers; the op rows'
search hooks the strategies read."""
from __future__ import annotations

import random

import pytest

from ksynth.config import SearchConfig, Tuning, apply_overrides
from ksynth.dsl import interp
from ksynth.dsl.interp import run, run_lines
from ksynth.dsl.ops import PREDICATES, ArgKind, with_hook
from ksynth.dsl.program import Program, Ref
from ksynth.dsl.sample import sample
from ksynth.search import ir
from ksynth.search.objective import line_cost


def test_assemble_writes_each_distinct_value_once():
    a = ir.run_node(1, 1, 5)
    b = ir.run_node(1, 1, 5)                     # built twice, equal value
    root = ir.extend("concatenate", (a, ir.extend("reverse_list", b), b))
    shared = ir.assemble(root)
    assert [l.op for l in shared.lines] == ["range_func_up", "reverse_list", "concatenate"]
    assert run(shared) == list(root.value)
    unshared = ir.assemble(root, share=False)
    assert [l.op for l in unshared.lines].count("range_func_up") == 2
    assert run(unshared) == list(root.value)


def test_walk_visits_children_first_each_once():
    x = ir.literal_node((3, 1, 2))
    y = ir.extend("add_item_list", x, (4,))
    root = ir.extend("interleave", (x, y))
    assert root.walk() == [x, y, root]


def _lines_by_extend(program: Program) -> list:
    """Each line rebuilt by ir.extend on the nodes of its references."""
    nodes = []
    for line in program.lines:
        inputs = tuple(nodes[a.index] for a in line.args if isinstance(a, Ref))
        params = tuple(a for a in line.args if not isinstance(a, Ref))
        nodes.append(ir.extend(line.op, inputs, params))
    return nodes


def test_extend_equals_the_interpreter_on_sampled_programs():
    ops_seen = set()
    for d in sample(300, 4242):
        values = run_lines(d.program)
        nodes = _lines_by_extend(d.program)
        assert [list(n.value) for n in nodes] == values
        ops_seen |= {l.op for l in d.program.lines}
        # and back: the DAG assembles to a program with the same output
        assert run(ir.assemble(nodes[d.program.output])) == d.sequence
    assert len(ops_seen) >= 18                     # the sampler reaches nearly every row


def test_to_nodes_shares_lines_and_computes_missing_values():
    p = Program.parse("sequence_1 = range_func_up(2, 6)\nsequence_2 = reverse_list(sequence_1)\n"
                      "sequence_3 = concatenate(sequence_1, sequence_2, sequence_1)\noutput = sequence_3")
    nodes = ir.to_nodes(p.lines)
    assert nodes[2].args[0] is nodes[0] and nodes[2].args[2] is nodes[0]
    assert list(nodes[2].value) == run(p)
    keyed = ir.to_nodes({10: ("repeat_num", (3, 7)), 11: ("scan_add", (Ref(10),))}, {10: (7, 7, 7),
                                                                                        11: (7, 14, 21)})
    assert keyed[11].args == (keyed[10],) and keyed[11].value == (7, 14, 21)


def test_line_args_follow_the_row_layout():
    x, y = ir.literal_node((1, 2)), ir.literal_node((3,))
    assert ir.line_args("filter", (x,), ("is_odd",)) == ("is_odd", x)
    assert ir.line_args("repeat_list", (x,), (3,)) == (3, x)
    assert ir.line_args("substitute", (x,), (1, 9)) == (x, 1, 9)
    assert ir.line_args("concatenate", (x, y, x)) == (x, y, x)
    with pytest.raises(ValueError):
        ir.line_args("add_item_list", (x, y), (1,))


def test_checked_extend_refuses_what_the_interpreter_refuses():
    x = ir.literal_node((4, 5, 6))
    assert ir.extend("modulo_item_list", x, (0,), max_len=100) is None
    assert ir.extend("repeat_list", x, (50,), max_len=100) is None          # 150 > the cap
    assert ir.extend("repeat_list", x, (2,), max_len=100).value == (4, 5, 6) * 2


@pytest.mark.parametrize("s,d,n", [(7, 0, 4), (3, 1, 6), (10, 3, 5), (40, -4, 7), (5, 1, 2), (9, 0, 1)])
def test_run_line_is_the_cheapest_run_form_under_kt(s, d, n):
    op, args = ir.run_line(s, d, n)
    value = tuple(s + d * i for i in range(n))
    assert tuple(run(Program.build([(op, args)]))) == value
    assert ir.run_node(s, d, n).value == value
    runs = [f for f in ir.initiator_forms(value) if f[0] != "set_list"] or [(op, args)]
    assert line_cost(op, args, 1) == min(line_cost(o, a, 1) for o, a in runs)


def test_cheapest_initiator_prices_every_form():
    assert ir.cheapest_initiator((5,), "kt")[0] == "set_list"               # 12.6 bits < repeat_num's 17
    assert ir.cheapest_initiator((9,) * 6, "kt") == ("repeat_num", (6, 9))
    assert ir.cheapest_initiator(tuple(range(3, 30, 4)), "kt")[0] == "range_func_interval"
    assert ir.cheapest_initiator((1, 5, 2), "kt")[0] == "set_list"
    for value in [(2, 3, 4, 5), (0,) * 9, tuple(range(60, 0, -6))]:
        op, args = ir.cheapest_initiator(value, "bits")
        assert tuple(run(Program.build([(op, args)]))) == value


def test_divisors_above_matches_brute_force():
    for g in list(range(-40, 200)) + [2 * 3 * 5 * 7 * 11 * 13, 97 * 89]:
        for floor in (0, 1, 5, 12, 100):
            assert ir.divisors_above(g, floor) == [c for c in range(1, abs(g) + 1)
                                                   if g % c == 0 and c > floor]


def test_reach_and_topo():
    edges = {1: [2, 3], 2: [4], 3: [4], 4: []}
    assert ir.reach(1, edges.__getitem__) == {1, 2, 3, 4}
    assert ir.reach(3, edges.__getitem__) == {3, 4}
    assert ir.topo([1], edges.__getitem__) == [4, 2, 3, 1]


# ---- the rows' search hooks, as the strategies read them ------------------------------------------
def _random_params(spec, rng):
    out = []
    for arg in spec.params:
        if arg.kind in (ArgKind.REF, ArgKind.REFS):
            continue
        if arg.kind is ArgKind.PRED:
            out.append(rng.choice(PREDICATES))
        elif arg.kind is ArgKind.STEP:
            out.append(rng.randrange(1, 6))
        else:
            out.append(rng.randrange(0, 12))
    return tuple(out)


def test_witness_hooks_return_params_that_reproduce_the_target():
    rng = random.Random(5)
    for spec in with_hook("witness"):
        found = 0
        for _ in range(300):
            x = tuple(rng.randrange(0, 12) for _ in range(rng.randrange(3, 14)))
            params = _random_params(spec, rng)
            args = ir.line_args(spec.name, (x,), params)
            try:
                t = tuple(interp.apply(spec, list(args)))
            except interp._Reject:
                continue
            if t == x or not t:
                continue
            answers = spec.hooks.witness(x, t)
            found += bool(answers)
            for p in answers:
                assert ir.apply(spec.name, ir.line_args(spec.name, (x,), p)) == t, (spec.name, x, p)
        assert found >= 50, spec.name


def test_derive_and_preimage_hooks_agree_with_the_bodies():
    rng = random.Random(6)
    for _ in range(200):
        x = tuple(rng.randrange(0, 40) for _ in range(rng.randrange(2, 12)))
        for spec in with_hook("derive"):
            for params, w in spec.hooks.derive(x):
                assert ir.apply(spec.name, ir.line_args(spec.name, (x,), params)) == tuple(w)
        for spec in with_hook("preimage"):
            for pre in spec.hooks.preimage(x):
                assert ir.apply(spec.name, (pre,)) == x


def test_tuning_is_config():
    cfg = apply_overrides(SearchConfig(), ["tuning.beam=3", "tuning.top_splits=5"])
    assert cfg.tuning == Tuning(beam=3, top_splits=5)
    assert SearchConfig.from_dict(cfg.to_dict()) == cfg


def test_strategies_read_their_knobs_from_tuning():
    from ksynth.search.decompose import Decomposer
    from ksynth.search.segment import Segmenter

    x, y = list(range(10, 40, 3)), [7, 1, 9, 4, 4, 8, 2, 6, 5, 3]
    target = [v for pair in zip(x, y) for v in pair]
    ops = lambda tuning: {l.op for l in ir.assemble(Decomposer("kt", tuning=tuning).solve(target)[1]).lines}
    assert "interleave" in ops(Tuning())
    assert "interleave" not in ops(Tuning(max_depth=0))          # no witness below the top
    assert Segmenter("kt", tuning=Tuning(beam=5, max_sources=3)).beam == 5
