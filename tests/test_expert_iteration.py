"""experiments/expert_iteration.py: the merge keeps a search's program only where it is verified,
reproduces the sequence and is cheaper than the generator's."""
from __future__ import annotations

import json

from ksynth.dsl.program import Program
from ksynth.dsl.score import kt_bits


def test_merge_replaces_only_cheaper_verified_programs(tmp_path, experiment_script):
    mod = experiment_script("expert_iteration")
    seq = list(range(10, 30))
    gt = "sequence_1 = set_list([" + ", ".join(map(str, seq)) + "])\noutput = sequence_1"
    cheap = "sequence_1 = range_func_up(10, 29)\noutput = sequence_1"
    wrong = "sequence_1 = range_func_up(10, 28)\noutput = sequence_1"
    assert kt_bits(Program.parse(cheap)) < kt_bits(Program.parse(gt))
    rows = [
        {"index": 2, "sequence": seq, "gt_program": gt, "program": cheap, "verified": True, "seconds": 1.0},
        {"index": 0, "sequence": seq, "gt_program": gt, "program": wrong, "verified": True, "seconds": 0.5},
        {"index": 1, "sequence": seq, "gt_program": cheap, "program": gt, "verified": True, "seconds": 0.5},
    ]
    solved = tmp_path / "solved.jsonl"
    solved.write_text("".join(json.dumps(r) + "\n" for r in rows))
    summary = mod.merge(solved, tmp_path / "expert.jsonl")
    out = [json.loads(l) for l in (tmp_path / "expert.jsonl").read_text().splitlines()]
    assert [Program.parse(r["program"]) for r in out] == [
        Program.parse(gt), Program.parse(cheap), Program.parse(cheap)]   # by index: wrong, dearer, cheaper
    assert summary["draws"] == 3 and summary["replaced_by_search"] == 1
    assert summary["kt_bits_saved_per_replaced"] > 0


def test_an_out_with_other_draws_is_refused(tmp_path, experiment_script):
    import pytest

    mod = experiment_script("expert_iteration")
    (tmp_path / "draws.jsonl").write_text('{"sequence": [1], "gt_program": "x"}\n' * 2)
    with pytest.raises(SystemExit, match="holds 2 draws, not --n 3"):
        mod.main(["--n", "3", "--out", str(tmp_path)])
    assert not (tmp_path / "solved.jsonl").exists()      # refused before any solving
