"""experiments/budget_curve.py (issue 14's budget curve): the smoke path, on the uniform policy.

The three arms run (unguided and guided: the default portfolio, beam in it; nobeam: without beam)
with `--policy uniform`, so no model is needed; the test checks that every (arm, budget) lands
in the JSON with finite numbers, that the paired comparison at the requested budgets is there,
and that the PNG is written.
"""
from __future__ import annotations

import json
import math
import os

import pytest


def test_budget_curve_smoke(tmp_path, experiment_script):
    pytest.importorskip("matplotlib")
    mod = experiment_script("budget_curve")
    out = str(tmp_path / "curve")
    rc = mod.main(["--n", "2", "--seed", "4242", "--budgets", "0.05,0.5,1.8", "--policy", "uniform",
                   "--arms", "unguided,guided,nobeam", "--bootstrap", "20", "--out", out,
                   "--rows", str(tmp_path / "rows.jsonl")])
    assert rc == 0
    data = json.load(open(out + ".json"))
    assert data["n"] == 2 and data["budgets"] == [0.05, 0.5, 1.8]
    for arm in ("unguided", "guided", "nobeam"):
        for b in data["budgets"]:
            t = data["table"][f"{arm}@{b:g}"]
            assert t["arm"] == arm and t["budget"] == b
            for k in ("cr", "at_or_below", "bits_ratio", "seconds_mean"):
                assert math.isfinite(t[k]), (arm, b, k, t[k])
            assert 0 < t["cr"] and 0 <= t["at_or_below"] <= 1
    assert "beam" in data["table"]["guided@0.5"]["strategies"]
    assert "beam" in data["table"]["unguided@1.8"]["strategies"]
    assert "beam" not in data["table"]["nobeam@1.8"]["strategies"]
    assert data["table"]["nobeam@1.8"]["strategies"] == [
        s for s in data["table"]["unguided@1.8"]["strategies"] if s != "beam"]
    assert all(data["table"][k]["policy"] == "uniform" for k in data["table"])
    assert math.isfinite(data["ground_truth_cr"])
    pairs = {(c["a"], c["b"]) for c in data["comparisons"]}
    assert ("guided@0.5", "unguided@1.8") in pairs
    for c in data["comparisons"]:
        assert all(math.isfinite(x) for x in c["cr_ci"] + c["at_or_below_ci"])
    assert os.path.getsize(out + ".png") > 1000
    rows = [json.loads(l) for l in open(tmp_path / "rows.jsonl")]
    assert len(rows) == 2 * 3 * 3                          # draws x arms x budgets


def test_budget_curve_rejects_test_seeds(tmp_path, experiment_script):
    mod = experiment_script("budget_curve")
    with pytest.raises(SystemExit):
        mod.main(["--n", "2", "--seed", "12345", "--out", str(tmp_path / "x")])
