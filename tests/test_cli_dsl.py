"""`ksynth run`, `ksynth sample`, `ksynth score` as a user runs them: output, and one-line errors."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ksynth.dsl.interp import run
from ksynth.dsl.program import Program


def ksynth(*args, stdin: str | None = None):
    return subprocess.run([sys.executable, "-m", "ksynth", *map(str, args)], input=stdin,
                          capture_output=True, text=True, timeout=120)


def assert_one_line_error(proc, *words):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for w in words:
        assert w in lines[0], lines[0]


PROGRAM = "sequence_1 = range_func_up(1, 3)\nsequence_2 = reverse_list(sequence_1)\n" \
          "sequence_3 = interleave(sequence_1, sequence_2)\noutput = sequence_3\n"


def test_run_file_and_stdin(tmp_path):
    f = tmp_path / "p.kt"
    f.write_text(PROGRAM)
    for proc in (ksynth("run", f), ksynth("run", "-", stdin=PROGRAM)):
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout) == [1, 3, 2, 2, 3, 1]


def test_run_bad_program(tmp_path):
    f = tmp_path / "p.kt"
    f.write_text("sequence_1 = range_func_up(1, 3)\nsequence_2 = revers_list(sequence_1)\noutput = sequence_2\n")
    assert_one_line_error(ksynth("run", f), "line 2", "unknown function 'revers_list'")
    assert_one_line_error(ksynth("run", tmp_path / "missing.kt"), "cannot read")
    assert_one_line_error(ksynth("run", "--max-len", 2, "-", stdin=PROGRAM), "line 1", "cap of 2")


def test_sample_then_score(tmp_path):
    out = tmp_path / "s.jsonl"
    proc = ksynth("sample", "--n", 200, "--seed", 4, "--output", out)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 200
    assert [p.name for p in tmp_path.iterdir()] == ["s.jsonl"]        # no temp file left behind
    for row in rows[:50]:
        program = Program.parse(row["program"])
        assert run(program) == row["sequence"]
        assert isinstance(row["kt_bits"], float) and row["kt_bits"] > 0
    again = tmp_path / "again.jsonl"
    ksynth("sample", "--n", 200, "--seed", 4, "--output", again)
    assert again.read_text() == out.read_text()                      # deterministic per seed

    proc = ksynth("score", "--input", out)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.strip().splitlines()) == 1
    result = json.loads(proc.stdout)
    for key in ("n", "accuracy", "precision", "compression_rate", "compression_rate_raw", "gzip_rate"):
        assert key in result
    assert result["n"] == 200 and result["accuracy"] == 1.0
    assert 0.25 < result["compression_rate"] < 0.42 and 0.5 < result["gzip_rate"] < 0.75


def test_score_wrong_and_missing_programs(tmp_path):
    f = tmp_path / "in.jsonl"
    f.write_text("\n".join([
        json.dumps({"sequence": [1, 2, 3], "program": "sequence_1 = range_func_up(1, 3)\noutput = sequence_1"}),
        json.dumps({"sequence": [1, 2, 4], "program": "sequence_1 = range_func_up(1, 3)\noutput = sequence_1"}),
        json.dumps({"sequence": [9, 9]}),
        json.dumps({"sequence": [7], "program": None}),
        "",                                                          # blank lines are skipped
    ]))
    result = json.loads(ksynth("score", "--input", f).stdout)
    assert result["n"] == 4 and result["accuracy"] == 0.25


def test_sample_bad_output_folder(tmp_path):
    assert_one_line_error(ksynth("sample", "--n", 3, "--output", tmp_path / "no" / "s.jsonl"),
                          "does not exist")


def _prog(*lines):
    return "\n".join(lines) + "\noutput = sequence_1"


BAD = [
    # (jsonl row text, words the one-line error must contain)
    (json.dumps({"sequence": [1], "program": _prog("sequence_1 = foo(1, 3)")}),
     ["line 2", "program line 1", "unknown function 'foo'"]),
    (json.dumps({"sequence": [1], "program": _prog("sequence_1 = range_func_up(1)")}),
     ["line 2", "program line 1", "takes 2 argument"]),
    (json.dumps({"sequence": [1], "program": _prog("sequence_1 = reverse_list(sequence_2)",
                                                   "sequence_2 = range_func_up(1, 2)")}),
     ["line 2", "program line 1", "not defined on an earlier line"]),
    (json.dumps({"sequence": [1], "program": _prog("sequence_1 = range_func_up(1, 2)",
                                                   "sequence_2 = modulo_item_list(sequence_1, 0)")}),
     ["line 2", "program line 2", "modulus must not be 0"]),
    (json.dumps({"sequence": [1], "program": _prog("sequence_1 = repeat_num(100, 1)")}),
     ["line 2", "program line 1", "cap of 50"]),
    ('{"sequence": [1, 2', ["line 2", "not valid JSON"]),
    ("[1, 2, 3]", ["line 2", "JSON object"]),
    (json.dumps({"program": "x"}), ["line 2", "'sequence' must be a list"]),
    (json.dumps({"sequence": [1, 256]}), ["line 2", "256", "not a byte"]),
    (json.dumps({"sequence": [1, -3]}), ["line 2", "-3", "not a byte"]),
    (json.dumps({"sequence": [1, 2.5]}), ["line 2", "2.5", "not a byte"]),
    (json.dumps({"sequence": [1], "program": 5}), ["line 2", "'program' must be"]),
]


@pytest.mark.parametrize("row,words", BAD, ids=[str(i) for i in range(len(BAD))])
def test_score_bad_input(tmp_path, row, words):
    f = tmp_path / "in.jsonl"
    f.write_text(json.dumps({"sequence": [1, 2, 3]}) + "\n" + row + "\n")
    assert_one_line_error(ksynth("score", "--input", f, "--max-len", 50), *words)


def test_score_empty_and_missing_file(tmp_path):
    f = tmp_path / "in.jsonl"
    f.write_text("\n")
    assert_one_line_error(ksynth("score", "--input", f), "no rows")
    assert_one_line_error(ksynth("score", "--input", tmp_path / "nope.jsonl"), "cannot read")
