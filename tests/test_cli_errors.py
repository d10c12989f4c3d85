"""The CLI's error and output policy, one case per class of hostile or mistaken input (issue 10):
one `ksynth: error:` line on stderr naming the file/line/flag, exit 2 for bad input, 1 for a
failed write, 130 for Ctrl-C; runs that resume never tear or mix; outputs follow gzip's habits."""
from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from ksynth.cli import main

PROGRAM = "sequence_1 = range_func_up(1, 3)\nsequence_2 = reverse_list(sequence_1)\noutput = sequence_2\n"


def cli(*args, stdin=None):
    return CliRunner().invoke(main, [str(a) for a in args], input=stdin)


def one_line_error(result, code, *words):
    assert result.exit_code == code, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ksynth: error: "), result.stderr
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


def ksynth_process(*args, **kw):
    return subprocess.Popen([sys.executable, "-m", "ksynth", *map(str, args)], stderr=subprocess.PIPE,
                            **kw)


# ---- hostile inputs: each is refused in one line ----------------------------------------------------
def test_integers_past_pythons_digit_limit(tmp_path):
    one_line_error(cli("run", "-", stdin=f"sequence_1 = repeat_num(3, {'9' * 5000})\noutput = sequence_1"),
                   2, "line 1", "5,000 digits")
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"sequence": [1, ' + "9" * 5000 + "]}\n")
    one_line_error(cli("score", "--input", rows), 2, "rows.jsonl line 1", "4,300 digits")
    one_line_error(cli("solve", "--input", rows, "--output", tmp_path / "o.jsonl"), 2, "line 1")


def test_files_that_are_not_utf8(tmp_path):
    p = tmp_path / "p.kt"
    p.write_bytes(PROGRAM.encode().replace(b"range", b"r\xffnge"))
    one_line_error(cli("run", p), 2, "p.kt line 1", "not UTF-8", "0xff")
    one_line_error(cli("run", "-", stdin=b"\xfe\xfe"), 2, "stdin line 1", "not UTF-8")


def test_deeply_nested_json(tmp_path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"sequence": [1]}\n{"sequence": ' + "[" * 100_000 + "\n")
    one_line_error(cli("score", "--input", rows), 2, "line 2", "nested too deeply")


def test_folders_and_devices_as_input(tmp_path):
    one_line_error(cli("run", tmp_path), 2, "is a folder")
    one_line_error(cli("run", "/dev/zero"), 2, "not a regular file")


def test_megabyte_tokens_are_quoted_short():
    line = one_line_error(cli("run", "-", stdin="sequence_1 = " + "f" * 1_000_000 + "(1)\noutput = sequence_1"),
                          2, "unknown function", "1,000,000 characters")
    assert len(line) < 200


def test_wrong_value_types_in_a_bench_toml(tmp_path):
    grid = tmp_path / "g.toml"
    for text, words in [('[bench]\nn = "ten"\n', ["[bench] n must be an integer"]),
                        ('[bench]\nmodalities = 5\n', ["[bench] modalities must be a list"]),
                        ('bench = 3\n', ["bench must be a table"]),
                        ('[base]\n"budget.seconds" = {a = 1}\n', ["[base] budget.seconds"]),
                        ('[base]\n"budget.seconds" = nan\n', ["[base] budget.seconds"]),
                        ('[grid]\n"budget.seconds" = ["fast"]\n', ["'budget.seconds' must be a number"]),
                        ('[grid]\n"max_len" = [0.5]\n', ["'max_len' must be an integer"]),
                        ('[runs]\nx = 1\n', ["[runs.x] must be a table"]),
                        ("[bench\n", ["not valid TOML"])]:
        grid.write_text(text)
        one_line_error(cli("bench", "--config", grid, "--out", tmp_path / "run", "--n", "1"), 2,
                       "config file", "g.toml", *words)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "0", "-1", "fast"])
def test_budget_must_be_finite_positive_seconds(tmp_path, value):
    for command in (["solve", "--input", "x", "--output", "y"], ["bench", "--out", str(tmp_path)],
                    ["demo"]):
        one_line_error(cli(*command, "--budget", value), 2, "--budget")
    one_line_error(cli("bench", "--out", tmp_path, "--set", f"budget.seconds={value}"), 2, "budget")


# ---- execution limits, checked before the work ---------------------------------------------------
def test_limits_are_named_in_the_error():
    concat = "sequence_1 = range_func_up(1, 3)\nsequence_2 = concatenate(" + ", ".join(
        ["sequence_1"] * 100_000) + ")\noutput = sequence_2\n"
    one_line_error(cli("run", "--max-len", "1000", "-", stdin=concat), 2, "line 2", "cap of 1000")
    chain = "sequence_1 = repeat_num(60000, 7)\n" + "".join(
        f"sequence_{i + 2} = reverse_list(sequence_{i + 1})\n" for i in range(1000)) + "output = sequence_1001\n"
    one_line_error(cli("run", "-", stdin=chain), 2, "reverse_list", "--max-work")
    one_line_error(cli("run", "--max-work", "8", "-", stdin=PROGRAM), 2, "line 2", "budget of 8")


# ---- output handling -------------------------------------------------------------------------------
def test_sample_output_policy(tmp_path):
    out = tmp_path / "s.jsonl"
    assert cli("sample", "--n", 3, "--output", out).exit_code == 0
    first = out.read_text()
    one_line_error(cli("sample", "--n", 3, "--seed", 1, "--output", out), 2, "exists", "--force")
    assert out.read_text() == first
    assert cli("sample", "--n", 3, "--seed", 1, "--output", out, "--force").exit_code == 0
    assert out.read_text() != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.jsonl"]       # no temp file left


def test_output_keeps_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        cli("sample", "--n", 2, "--output", tmp_path / "a.jsonl")
        os.umask(0o077)
        cli("sample", "--n", 2, "--output", tmp_path / "b.jsonl")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.jsonl").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "b.jsonl").stat().st_mode) == 0o600


def test_dash_is_stdout_and_special_files_are_refused(tmp_path):
    result = cli("sample", "--n", 2, "--output", "-")
    assert result.exit_code == 0 and len(result.stdout.splitlines()) == 2
    assert not (tmp_path / "-").exists() and not os.path.exists("-")
    link = tmp_path / "null"
    link.symlink_to("/dev/null")
    for target in ("/dev/null", link):
        one_line_error(cli("sample", "--n", 2, "--output", target, "--force"), 2, "not a regular file")
    one_line_error(cli("sample", "--n", 2, "--output", tmp_path), 2, "is a folder")
    one_line_error(cli("sample", "--n", 2, "--output", tmp_path / "no" / "s.jsonl"), 2, "does not exist")
    one_line_error(cli("solve", "--input", "x", "--output", "/dev/null"), 2, "not a regular file")


def test_a_write_the_system_refuses_is_exit_1(tmp_path, monkeypatch):
    import tempfile

    def refuse(*a, **kw):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)       # root ignores chmod; simulate the refusal
    one_line_error(cli("sample", "--n", 2, "--output", tmp_path / "s.jsonl"), 1, "s.jsonl", "Permission denied")


@pytest.mark.parametrize("args", [["run", "-"], ["sample", "--n", "50", "--output", "-"]])
def test_a_full_disk_behind_stdout_is_exit_1(args):
    with open("/dev/full", "w") as full:
        proc = ksynth_process(*args, stdin=subprocess.PIPE, stdout=full)
        _, err = proc.communicate(PROGRAM.encode(), timeout=120)
    assert proc.returncode == 1
    assert err.decode().strip() == "ksynth: error: cannot write to stdout: No space left on device"


def test_ctrl_c_exits_130(tmp_path):
    rows = tmp_path / "in.jsonl"
    rows.write_text("".join(json.dumps({"sequence": [(i * 37 + k * k) % 256 for k in range(80)]}) + "\n"
                            for i in range(400)))     # ~0.2 s each: still running at 4 s
    proc = ksynth_process("solve", "--input", rows, "--output", tmp_path / "o.jsonl", "--budget", "3",
                          stdout=subprocess.DEVNULL)
    time.sleep(4)                                  # past the imports, inside a search
    assert proc.poll() is None, "the run ended before the signal: give it more rows"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err.decode()
    assert err.decode().strip().endswith("ksynth: interrupted")


def test_debug_shows_the_traceback(monkeypatch):
    result = CliRunner().invoke(main, ["--debug", "run", "-"], input="nonsense")
    assert result.exit_code == 1 and result.exception is not None           # raised, not reported
    monkeypatch.setenv("KSYNTH_DEBUG", "1")
    assert CliRunner().invoke(main, ["run", "-"], input="nonsense").exception is not None


# ---- solve: runs that cannot tear or mix -------------------------------------------------------------
SOLVE = ["--budget", "0.2", "--strategies", "segment"]


def _solve_inputs(tmp_path, seqs):
    inp = tmp_path / "in.jsonl"
    inp.write_text("".join(json.dumps({"sequence": s}) + "\n" for s in seqs))
    return inp, tmp_path / "out.jsonl"


def test_resume_cuts_a_torn_tail_and_refuses_another_input(tmp_path):
    seqs = [[1, 2, 3, 4, 5, 6], [7, 7, 7, 7], [9, 8, 7, 6, 5]]
    inp, out = _solve_inputs(tmp_path, seqs)
    assert cli("solve", "--input", inp, "--output", out, *SOLVE).exit_code == 0
    full = out.read_text().splitlines()
    out.write_text("\n".join(full[:2]) + "\n" + full[2][:25])          # a crash mid-write
    assert cli("solve", "--input", inp, "--output", out, *SOLVE, "--resume").exit_code == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]  # every line whole JSON
    assert [r["index"] for r in rows] == [0, 1, 2]
    assert out.read_text().endswith("\n")
    before = out.read_text()
    (tmp_path / "other").mkdir()
    other, _ = _solve_inputs(tmp_path / "other", [[1, 2, 3, 4, 5, 7]] + seqs[1:])
    one_line_error(cli("solve", "--input", other, "--output", out, *SOLVE, "--resume"), 2,
                   "out.jsonl line 1", "different sequence")
    one_line_error(cli("solve", "--input", inp, "--output", out, "--budget", "0.3", "--resume"), 2,
                   "out.jsonl line 1", "different config")
    assert out.read_text() == before                                    # refused, untouched
    assert all({"input_sha256", "config_sha256"} <= set(r) for r in rows)


def test_resume_with_nothing_left_says_so(tmp_path):
    inp, out = _solve_inputs(tmp_path, [[5, 6, 7]])
    cli("solve", "--input", inp, "--output", out, *SOLVE)
    result = cli("solve", "--input", inp, "--output", out, *SOLVE, "--resume")
    assert result.exit_code == 0 and "nothing to do" in result.stderr


def test_solve_refuses_empty_and_too_long_inputs(tmp_path):
    inp, out = _solve_inputs(tmp_path, [])
    one_line_error(cli("solve", "--input", inp, "--output", out), 2, "no rows to solve")
    inp, out = _solve_inputs(tmp_path, [[1] * 70_000])
    one_line_error(cli("solve", "--input", inp, "--output", out), 2, "line 1", "70,000 values", "--max-len 65,536")
    one_line_error(cli("solve", "--input", inp, "--output", out, "--max-len", "100"), 2, "--max-len 100")
    assert not out.exists()


# ---- bench: run.json ---------------------------------------------------------------------------------
def test_bench_run_json_refuses_other_settings(tmp_path):
    base = ["bench", "--out", tmp_path / "run", "--modalities", "synthetic", "--methods", "gzip",
            "--n", "1", "--workers", "1", "-q"]
    assert cli(*base).exit_code == 0
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert set(record["configs"]) == {"kt", "bits"} and record["configs"]["kt"]["budget"]["seconds"] == 1.8
    assert cli(*base).exit_code == 0                                   # same settings: resumes
    one_line_error(cli(*base, "--budget", "0.5"), 2, "search config 'kt' differs", "--new-run")
    one_line_error(cli(*base, "--set", "ablations.copies=false"), 2, "differs")
    result = cli(*base, "--budget", "0.5", "--new-run")
    assert result.exit_code == 0 and (tmp_path / "run-2" / "run.json").exists()
