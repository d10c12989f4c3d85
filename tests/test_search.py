"""Search: objective, segment, decompose, portfolio, the `ksynth solve` CLI, and every ablation switch.

Targets are tiny and hand-made so the known-optimal programs are obvious; budgets are generous
wall limits that these targets never reach (no assertion depends on timing).
"""
from __future__ import annotations

import dataclasses
import json
import math
import random
import time

import pytest
from click.testing import CliRunner

from ksynth.cli import main
from ksynth.config import Ablations, Budget, SearchConfig
from ksynth.dsl.interp import run
from ksynth.dsl.program import Program, Ref
from ksynth.dsl.score import kt_bits, line_kt_bits
from ksynth.errors import UsageError
from ksynth.search import portfolio as portfolio_mod
from ksynth.search.base import SearchResult
from ksynth.search.decompose import Decomposer
from ksynth.search.objective import line_cost, program_cost
from ksynth.search.portfolio import Portfolio, solve
from ksynth.search.ir import assemble
from ksynth.search.segment import Segmenter

RNG = random.Random(5)
LIT_A = tuple(RNG.randrange(256) for _ in range(9))       # a random literal: no cheaper program
LIT_B = tuple(RNG.randrange(256) for _ in range(7))


def cfg(strategies=("segment", "decompose"), seconds=30.0, **ablations) -> SearchConfig:
    return SearchConfig(strategies=tuple(strategies), budget=Budget(seconds=seconds),
                        ablations=Ablations(**ablations))


def seg_program(target, **ablations) -> Program:
    _, node = Segmenter("kt", Ablations(**ablations)).solve(target)
    return assemble(node, share=ablations.get("copies", True))


def dec_program(target, **ablations) -> tuple[Program, Decomposer]:
    # the deadline is a safety net only: these targets finish in well under a second
    dec = Decomposer("kt", Ablations(**ablations), time.monotonic() + 60)
    _, node = dec.solve(target)
    return assemble(node, share=ablations.get("shared_lines", True)), dec


def interleave(x, y):
    out = []
    for a, b in zip(x, y):
        out += (a, b)
    m = min(len(x), len(y))
    return out + list(x[m:]) + list(y[m:])


# ---- objective ------------------------------------------------------------------------------------
def test_objective_kt_matches_score():
    p = Program.parse("sequence_1 = range_func_up(1, 9)\nsequence_2 = reverse_list(sequence_1)\n"
                      "sequence_3 = concatenate(sequence_1, sequence_2, sequence_1)\noutput = sequence_3")
    assert program_cost(p, "kt") == pytest.approx(kt_bits(p))
    assert line_cost("concatenate", (Ref(0), Ref(1), Ref(0)), 2) == pytest.approx(
        line_kt_bits("concatenate", (Ref(0), Ref(1), Ref(0)), 2))


def test_objective_bits_uses_encoder():
    from ksynth.dsl import encode

    p = Program.parse("sequence_1 = range_func_up(1, 9)\noutput = sequence_1")
    assert program_cost(p, "bits") == encode.bits(p)
    assert line_cost("range_func_up", (1, 9), 0, "bits") == pytest.approx(encode.line_bits("range_func_up", (1, 9), 0))
    with pytest.raises(UsageError):
        program_cost(p, "nope")


# ---- segment ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("target, op", [
    (list(range(3, 20)), "range_func_up"),
    (list(range(200, 150, -7)), "range_func_interval"),
    ([42] * 12, "repeat_num"),
])
def test_segment_single_run_is_one_line(target, op):
    p = seg_program(target)
    assert run(p) == target
    assert len(p.lines) == 1 and p.lines[0].op == op


def test_segment_adjacent_literals_share_one_line():
    p = seg_program(list(LIT_A))
    assert [l.op for l in p.lines] == ["set_list"]


def test_segment_copy_and_transformed_copies():
    target = list(LIT_A) + list(range(10, 30)) + list(LIT_A) + list(LIT_A[::-1]) + [v + 3 for v in LIT_A]
    p = seg_program(target)
    assert run(p) == target
    ops = [l.op for l in p.lines]
    assert ops.count("set_list") == 1          # the literal is written once
    assert "reverse_list" in ops and "add_item_list" in ops


def test_segment_sawtooth_is_modulo_of_a_range():
    target = [v % 7 for v in range(30, 60)]
    p = seg_program(target)
    assert run(p) == target and "modulo_item_list" in p.ops_used() and len(p.lines) == 2


# ---- decompose -------------------------------------------------------------------------------------
def test_decompose_interleave_of_two_ranges_is_three_lines():
    target = interleave(range(10, 30), range(100, 130, 3))
    p, _ = dec_program(target)
    assert run(p) == target
    assert len(p.lines) == 3 and p.lines[-1].op == "interleave"


def test_decompose_nested_interleave_with_tail():
    inner = interleave(range(50, 60), [7] * 10)
    target = interleave(inner + list(range(200, 190, -1)), range(0, 40, 2))
    p, _ = dec_program(target)
    assert run(p) == target
    truth = Program.parse("\n".join([
        "sequence_1 = range_func_up(50, 59)", "sequence_2 = repeat_num(10, 7)",
        "sequence_3 = range_func_interval(200, 190, -1)", "sequence_4 = range_func_interval(0, 40, 2)",
        "sequence_5 = interleave(sequence_1, sequence_2)",
        "sequence_6 = concatenate(sequence_5, sequence_3)",
        "sequence_7 = interleave(sequence_6, sequence_4)", "output = sequence_7"]))
    assert run(truth) == target
    assert kt_bits(p) <= kt_bits(truth)


def test_decompose_repeat_list_and_scan():
    rep = list(LIT_B) * 3
    p, _ = dec_program(rep)
    assert run(p) == rep and kt_bits(p) < 8 * len(LIT_B) + 30
    scan = [sum(range(5, 5 + i + 1)) for i in range(15)]
    p, _ = dec_program(scan)
    assert run(p) == scan and "scan_add" in p.ops_used()


# ---- portfolio ---------------------------------------------------------------------------------------
def test_portfolio_results_are_verified_and_pruned():
    target = interleave(list(LIT_A) + list(range(5, 25)), list(range(100, 80, -2)))
    res = Portfolio(cfg()).search(target)
    assert isinstance(res, SearchResult) and res.verified
    assert run(res.program) == target
    assert res.program == res.program.pruned()
    assert res.kt_bits == pytest.approx(kt_bits(res.program))
    assert res.kt_bits < 8 * len(target)


class _Liar:
    """A strategy that proposes a cheap but wrong program: the portfolio must reject it."""

    name = "segment"

    def search(self, target, config, deadline):
        p = Program.parse("sequence_1 = range_func_up(0, 3)\noutput = sequence_1")
        return SearchResult(p, 0.0, 0.0, True, 0.0, 1, self.name)


def test_portfolio_rejects_unverified_and_falls_back_to_literal(monkeypatch):
    monkeypatch.setattr(portfolio_mod, "load_strategy", lambda name: _Liar())
    res = Portfolio(cfg(strategies=("segment",))).search(list(LIT_A))
    assert res.strategy == "literal" and res.verified
    assert run(res.program) == list(LIT_A) and [l.op for l in res.program.lines] == ["set_list"]


class _Broken:
    name = "segment"

    def search(self, target, config, deadline):
        raise ValueError("a bug inside a strategy")


def test_portfolio_survives_a_failing_strategy_unless_strict(monkeypatch):
    monkeypatch.setattr(portfolio_mod, "load_strategy", lambda name: _Broken())
    monkeypatch.setenv("KSYNTH_STRICT", "0")
    with pytest.warns(RuntimeWarning, match="a bug inside a strategy"):
        res = Portfolio(cfg(strategies=("segment",))).search(list(LIT_A))
    assert res.verified and run(res.program) == list(LIT_A)
    assert "ValueError" in res.stats["strategies"]["segment"]["error"]
    monkeypatch.setenv("KSYNTH_STRICT", "1")
    with pytest.raises(ValueError):
        Portfolio(cfg(strategies=("segment",))).search(list(LIT_A))


def test_portfolio_tiny_budget_still_returns_a_verified_program():
    rng = random.Random(1)
    target = [rng.randrange(256) for _ in range(3000)]
    res = solve(target, cfg(seconds=1e-4))
    assert res.verified and run(res.program) == target


def test_portfolio_node_budget_stops_later_strategies():
    res = Portfolio(cfg(strategies=("decompose", "segment"))).search(list(range(40)))
    assert "nodes" in res.stats["strategies"]["decompose"]
    c = dataclasses.replace(cfg(strategies=("decompose", "segment")), budget=Budget(seconds=30, nodes=1))
    res = Portfolio(c).search(list(LIT_A) * 2)
    assert res.stats["strategies"]["segment"] == {"skipped": "node budget spent"}


def test_missing_strategy_module(monkeypatch):
    import ksynth.search

    monkeypatch.setitem(ksynth.search.REGISTRY, "solve", dataclasses.replace(
        ksynth.search.REGISTRY["solve"], module="ksynth.search.no_such_module"))
    p = Portfolio(SearchConfig(budget=Budget(seconds=0.5)))       # default list: skipped quietly
    assert "solve" in p.skipped and p.search([1, 2, 3]).verified
    with pytest.raises(UsageError, match="solve"):
        Portfolio(cfg(strategies=("segment", "solve")))


def test_bits_objective():
    target = list(range(10, 40))
    res = solve(target, dataclasses.replace(cfg(), objective="bits"))
    assert res.verified and run(res.program) == target and res.bits < 8 * len(target)


# ---- ablations: each switch changes behaviour ---------------------------------------------------------------
def test_ablation_copies():
    target = list(LIT_A) + list(range(10, 30)) + list(LIT_A)
    on, off = seg_program(target), seg_program(target, copies=False)
    assert run(off) == target and kt_bits(on) < kt_bits(off)


def test_ablation_transformed_copies():
    target = list(LIT_A) + list(LIT_A[::-1])
    on, off = seg_program(target), seg_program(target, transformed_copies=False)
    assert "reverse_list" in on.ops_used() and "reverse_list" not in off.ops_used()
    assert run(off) == target


def test_ablation_fresh_transforms():
    target = [v % 7 for v in range(30, 60)]
    off = seg_program(target, fresh_transforms=False)
    assert run(off) == target and "modulo_item_list" not in off.ops_used()


def test_ablation_interleave():
    target = interleave(range(10, 30), range(100, 130, 3))
    off, _ = dec_program(target, interleave=False)
    assert run(off) == target and "interleave" not in off.ops_used()


def test_ablation_shared_lines():
    # interleave(A + range, A[::2]): the second half can reuse A only through shared lines
    target = interleave(list(LIT_A) + list(range(50, 70)), list(LIT_A[::2]))
    on, _ = dec_program(target)
    off, _ = dec_program(target, shared_lines=False)
    assert run(on) == target and run(off) == target
    assert kt_bits(on) < kt_bits(off)


def test_ablation_memoise():
    target = interleave(interleave(range(5, 10), range(60, 65)) + list(LIT_B[:3]), range(0, 6))
    on, with_memo = dec_program(target)
    off, no_memo = dec_program(target, memoise=False)
    assert run(off) == target and kt_bits(off) == pytest.approx(kt_bits(on))
    assert no_memo.solved > with_memo.solved


def test_ablation_split_pruning():
    target = interleave([9, 200, 31, 7], range(60, 66))
    _, pruned = dec_program(target)
    full, no_prune = dec_program(target, split_pruning=False)
    assert run(full) == target and no_prune.calls > pruned.calls


def test_item_transform_len_sees_modulo_and_substitute_reuse():
    from ksynth.search.decompose import _item_transform_len

    big = (1, 2, 3) + LIT_A + LIT_B
    assert _item_transform_len(tuple(v % 7 for v in LIT_A), big) == len(LIT_A)
    swapped = tuple(300 if v == LIT_A[2] else v for v in LIT_A)
    assert _item_transform_len(swapped, big) >= 6
    assert _item_transform_len((5,) * 8, (7,) * 9) == 0          # a run needs no source
    assert _item_transform_len(LIT_B[::-1] + LIT_B, big) == 0


def test_ablation_transformed_splits():
    # interleave(concatenate(run, L), substitute(L, v, w)): the estimate cannot see that the
    # literal-looking half reuses L, so only the transformed-split probe solves that split (the
    # split then finds a cheaper program, here by slicing L out of the interleaved halves)
    lit = [108, 192, 163, 61, 106, 75, 139, 233, 22, 202, 92, 146, 7, 124, 148, 126, 215, 48, 60, 237]
    target = interleave(list(range(67, 116, 4)) + lit, [171 if v == 61 else v for v in lit])
    # (the reuse-aware split estimate also finds that split: off here to isolate the probe)
    on, _ = dec_program(target, reuse_estimate=False)
    off, _ = dec_program(target, transformed_splits=False, reuse_estimate=False)
    assert run(on) == target and run(off) == target
    assert kt_bits(on) < kt_bits(off)


# ---- CLI --------------------------------------------------------------------------------------------
def _write_rows(path, seqs):
    path.write_text("".join(json.dumps({"sequence": s, "id": i}) + "\n" for i, s in enumerate(seqs)))


def test_cli_solve_and_resume(tmp_path):
    seqs = [list(range(5, 25)), list(LIT_A), interleave(range(10, 30), range(100, 130, 3))]
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_rows(inp, seqs)
    args = ["solve", "--input", str(inp), "--output", str(out), "--budget", "5",
            "--strategies", "segment,decompose"]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    rows = [json.loads(l) for l in out.read_text().splitlines()]
    assert sorted(r["index"] for r in rows) == [0, 1, 2]
    for row in rows:
        assert row["verified"] and row["id"] == row["index"]
        assert run(Program.parse(row["program"])) == seqs[row["index"]]
        assert {"kt_bits", "bits", "seconds", "strategy"} <= set(row)
        assert math.isclose(row["kt_bits"], kt_bits(Program.parse(row["program"])), abs_tol=1e-3)
    # resume: drop one row, rerun; only that row is solved again
    out.write_text("\n".join(json.dumps(r) for r in rows[:2]) + "\n")
    r = CliRunner().invoke(main, args + ["--resume"])
    assert r.exit_code == 0, r.output
    again = [json.loads(l) for l in out.read_text().splitlines()]
    assert sorted(r["index"] for r in again) == [0, 1, 2]
    # without --resume an existing output is refused
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2 and "--resume" in r.output


@pytest.mark.parametrize("text, message", [
    ('{"sequence": [1, 2]}\n{"sequence": [1, 2\n', "line 2"),
    ('{"sequence": [1, 300]}\n', "line 1"),
    ('{"seq": [1]}\n', "line 1"),
])
def test_cli_solve_bad_input(tmp_path, text, message):
    inp = tmp_path / "in.jsonl"
    inp.write_text(text)
    r = CliRunner().invoke(main, ["solve", "--input", str(inp), "--output", str(tmp_path / "o.jsonl")])
    assert r.exit_code == 2 and message in r.output and "Traceback" not in r.output


def test_cli_solve_unknown_strategy(tmp_path):
    inp = tmp_path / "in.jsonl"
    _write_rows(inp, [[1, 2, 3]])
    r = CliRunner().invoke(main, ["solve", "--input", str(inp), "--output", str(tmp_path / "o.jsonl"),
                                  "--strategies", "segmnt"])
    assert r.exit_code == 2 and "did you mean segment" in r.output
