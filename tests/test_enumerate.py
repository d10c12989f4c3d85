"""enumerate strategy: known-optimal tiny targets, ablation switches, budgets."""
from __future__ import annotations

import dataclasses
import time

import pytest

from ksynth.config import Ablations, Budget, SearchConfig
from ksynth.dsl.interp import run
from ksynth.dsl.program import Program
from ksynth.dsl.score import kt_bits
from ksynth.search.enumerate import EnumerateStrategy

CFG = SearchConfig(strategies=("enumerate",), budget=Budget(seconds=5.0))


def _search(target, cfg=CFG, seconds: float = 5.0):
    return EnumerateStrategy().search(list(target), cfg, time.monotonic() + seconds)


def _lines(*text: str) -> Program:
    body = "\n".join(f"sequence_{i + 1} = {t}" for i, t in enumerate(text))
    return Program.parse(body + f"\noutput = sequence_{len(text)}")


# (ground-truth program, an upper bound on the optimal cost is its own cost)
KNOWN = [
    _lines("range_func_up(3, 30)", "modulo_item_list(sequence_1, 7)"),
    _lines("repeat_num(10, 3)", "scan_add(sequence_1)"),
    _lines("range_func_up(3, 20)", "substitute(sequence_1, 7, 100)"),
    _lines("range_func_up(3, 8)", "repeat_list(3, sequence_1)"),
    _lines("range_func_up(3, 18)", "scan_add(sequence_1)"),
    _lines("range_func_up(40, 60)", "reverse_list(sequence_1)"),
    _lines("range_func_up(3, 28)", "range_func_interval(50, 150, 4)", "interleave(sequence_1, sequence_2)"),
    _lines("range_func_up(3, 12)", "range_func_interval(50, 150, 4)", "concatenate(sequence_1, sequence_2)"),
    _lines("range_func_up(10, 30)", "repeat_num(21, 5)", "subtract_two_lists(sequence_1, sequence_2)",
           "scan_add(sequence_3)"),
]


@pytest.mark.parametrize("program", KNOWN, ids=lambda p: p.lines[-1].op)
def test_finds_known_small_programs(program):
    target = run(program)
    res = _search(target)
    assert res is not None and res.verified and res.strategy == "enumerate"
    assert run(res.program) == target
    assert res.kt_bits <= kt_bits(program) + 1e-9


def test_plain_range_is_one_line():
    res = _search(list(range(7, 40)))
    assert len(res.program) == 1 and res.program.lines[0].op == "range_func_up"


def test_filter_of_range_is_found_as_cheap_as_a_step_range():
    target = run(_lines("range_func_up(3, 28)", "filter(is_odd, sequence_1)"))
    res = _search(target)
    assert res is not None and res.kt_bits <= kt_bits(_lines("range_func_interval(3, 29, 2)")) + 1e-9


def test_reverse_of_interval_is_a_negative_step():
    target = run(_lines("range_func_interval(3, 40, 3)", "reverse_list(sequence_1)"))
    res = _search(target)
    assert len(res.program) == 1 and res.program.lines[0].args[2] == -3


def test_bits_objective_is_used():
    target = run(KNOWN[0])
    cfg = dataclasses.replace(CFG, objective="bits")
    res = _search(target, cfg)
    assert res is not None and res.verified and res.bits <= res.kt_bits


def test_random_bytes_find_nothing_quickly():
    import random

    rng = random.Random(5)
    target = [rng.randrange(256) for _ in range(300)]
    t0 = time.monotonic()
    assert _search(target, seconds=20.0) is None
    assert time.monotonic() - t0 < 15.0          # exhausts its space well before the deadline


def test_deadline_in_the_past_returns_at_once():
    target = run(KNOWN[6])
    t0 = time.monotonic()
    res = EnumerateStrategy().search(target, CFG, time.monotonic() - 1.0)
    assert time.monotonic() - t0 < 2.0
    assert res is None or res.verified


def test_node_budget_stops_the_search():
    target = run(KNOWN[6])
    cfg = dataclasses.replace(CFG, budget=Budget(seconds=None, nodes=10))
    res = EnumerateStrategy().search(target, cfg, time.monotonic() + 30)
    assert res is None or res.nodes <= 10


def test_observational_equivalence_off_expands_more():
    target = run(KNOWN[0])
    on = _search(target)
    cfg = dataclasses.replace(CFG, ablations=Ablations(observational_equivalence=False),
                              budget=Budget(seconds=None, nodes=200_000))
    off = EnumerateStrategy().search(target, cfg, time.monotonic() + 30)
    assert off is not None and off.kt_bits == pytest.approx(on.kt_bits)
    assert off.stats["pops"] > on.stats["pops"]


def test_target_pruning_off_changes_the_search():
    target = run(KNOWN[1])
    on = _search(target)
    cfg = dataclasses.replace(CFG, ablations=Ablations(target_pruning=False),
                              budget=Budget(seconds=None, nodes=100_000))
    off = EnumerateStrategy().search(target, cfg, time.monotonic() + 30)
    assert off is not None and off.verified
    assert off.kt_bits == pytest.approx(on.kt_bits)
    assert off.nodes > on.nodes


def test_empty_and_tiny_targets():
    assert _search([]) is None
    res = _search([5])
    assert res is None or run(res.program) == [5]


def test_bound_limits_the_search():
    target = run(KNOWN[6])
    free = _search(target)
    assert free is not None
    tight = EnumerateStrategy().search(target, CFG, time.monotonic() + 5, bound=free.kt_bits)
    assert tight is None                        # nothing strictly cheaper than the optimum
    assert EnumerateStrategy().search(target, CFG, time.monotonic() + 5,
                                      bound=free.kt_bits + 0.5).kt_bits == pytest.approx(free.kt_bits)


def test_without_pruning_empty_and_odd_values_are_handled():
    cfg = dataclasses.replace(CFG, ablations=Ablations(target_pruning=False),
                              budget=Budget(seconds=None, nodes=20_000))
    for target in ([0, 0, 0, 5], [3, 1], [200, 0, 200, 0, 200, 0]):
        res = EnumerateStrategy().search(target, cfg, time.monotonic() + 10)
        assert res is None or run(res.program) == target


def test_long_target_respects_a_short_deadline():
    import random

    rng = random.Random(9)
    target = [rng.randrange(256) for _ in range(20000)]
    t0 = time.monotonic()
    EnumerateStrategy().search(target, CFG, t0 + 0.2)
    assert time.monotonic() - t0 < 5.0             # loose: a node costs O(n), the clock is read often
