"""solve strategy: each sketch family fills its holes; every result verifies; budgets."""
from __future__ import annotations

import dataclasses
import random
import time

import pytest

from ksynth.config import Budget, SearchConfig
from ksynth.dsl.interp import run
from ksynth.dsl.program import Program
from ksynth.dsl.score import kt_bits
from ksynth.search.solve import FAMILIES, SolveStrategy

CFG = SearchConfig(strategies=("solve",), budget=Budget(seconds=5.0))


def _lines(*text: str) -> Program:
    body = "\n".join(f"sequence_{i + 1} = {t}" for i, t in enumerate(text))
    return Program.parse(body + f"\noutput = sequence_{len(text)}")


CASES = {
    "mod_ap": _lines("range_func_interval(3, 900, 37)", "modulo_item_list(sequence_1, 101)"),
    "mod_ap+d": _lines("range_func_interval(3, 900, 37)", "modulo_item_list(sequence_1, 101)",
                       "add_item_list(sequence_2, 5)"),
    "mod_quad": _lines("range_func_interval(3, 90, 7)", "scan_add(sequence_1)",
                       "modulo_item_list(sequence_2, 97)"),
    "quad": _lines("range_func_interval(3, 90, 7)", "scan_add(sequence_1)", "add_item_list(sequence_2, 40)"),
    "sub_ap": _lines("range_func_interval(3, 200, 9)", "substitute(sequence_1, 39, 1)",
                     "substitute(sequence_2, 156, 0)"),
    "inter_ap": _lines("range_func_interval(50, 150, 4)", "range_func_up(3, 28)",
                       "interleave(sequence_1, sequence_2)"),
    "mod_range": _lines("range_func_up(100, 160)", "modulo_item_list(sequence_1, 13)"),
}


@pytest.mark.parametrize("name", CASES)
def test_sketch_families_fill_their_holes(name):
    program = CASES[name]
    target = run(program)
    res = SolveStrategy().search(target, CFG, time.monotonic() + 5)
    assert res is not None and res.verified and res.strategy == "solve"
    assert run(res.program) == target
    assert res.kt_bits <= kt_bits(program) + 1e-9


def test_every_family_candidate_is_checked_not_trusted():
    # families may propose wrong programs; the strategy only returns interpreter-verified ones
    rng = random.Random(11)
    for _ in range(30):
        target = [rng.randrange(256) for _ in range(rng.randrange(3, 30))]
        res = SolveStrategy().search(target, CFG, time.monotonic() + 5)
        assert res is None or run(res.program) == target


def test_families_only_propose_well_formed_programs():
    target = run(CASES["mod_ap"])
    for family in FAMILIES:
        for _, lines in family(target):
            Program.build(lines)            # raises on a malformed proposal


def test_no_result_when_nothing_beats_the_literal():
    assert SolveStrategy().search([7, 3, 250, 1, 99], CFG, time.monotonic() + 5) is None


def test_expired_deadline_and_node_budget():
    target = run(CASES["sub_ap"])
    assert SolveStrategy().search(target, CFG, time.monotonic() - 1) is None
    cfg = dataclasses.replace(CFG, budget=Budget(seconds=None, nodes=0))
    assert SolveStrategy().search(target, cfg, time.monotonic() + 5) is None


def test_bits_objective():
    target = run(CASES["mod_ap"])
    cfg = dataclasses.replace(CFG, objective="bits")
    res = SolveStrategy().search(target, cfg, time.monotonic() + 5)
    assert res is not None and res.verified


def test_bound_rejects_programs_that_are_not_cheaper():
    target = run(CASES["mod_ap"])
    res = SolveStrategy().search(target, CFG, time.monotonic() + 5)
    assert SolveStrategy().search(target, CFG, time.monotonic() + 5, bound=res.kt_bits) is None


def test_long_sawtooth_is_one_modulo():
    target = [v % 256 for v in range(5000)]
    res = SolveStrategy().search(target, CFG, time.monotonic() + 5)
    assert res is not None and [l.op for l in res.program.lines] == ["range_func_up", "modulo_item_list"]


def test_best_sketch_works_on_a_piece():
    from ksynth.search.solve import best_sketch

    cost, program, family, tried = best_sketch(run(CASES["mod_quad"]), "kt")
    assert family == "mod_quad" and run(program) == run(CASES["mod_quad"]) and tried >= 1
    assert cost == pytest.approx(kt_bits(program))
    assert best_sketch([1, 2], "kt")[1] is None
