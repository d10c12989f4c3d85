"""Replay every class of hostile or mistaken input from issue 10 and measure each case.

    python experiments/hostile_inputs.py [--only SUBSTRING]

Each case runs `ksynth ...` in a fresh process (the CLI entry point in process there, so the
imports are not timed) and prints: exit code, seconds inside the command, peak RSS of the whole
process (MB, imports included) and the error line. Targets (issue 10): no traceback anywhere;
every hostile program rejected in < 1 s and < 200 MB at the default limits; a 1 MB single-line
program parses in < 1 s; a resumed file never holds a torn line or a row of another input/config.
The last line says whether every target held.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

TIME_TARGET_S = 1.0
MEMORY_TARGET_MB = 200.0
REPO = Path(__file__).resolve().parents[1]

# The child: run the CLI on argv, time the command only, report exit code, seconds and peak RSS.
CHILD = r"""
import json, os, resource, sys, time
from ksynth.cli import main
t0 = time.perf_counter()
try:
    main.main(sys.argv[1:], prog_name="ksynth")
    code = 0
except SystemExit as e:
    code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
seconds = time.perf_counter() - t0
with open(os.environ["HOSTILE_REPORT"], "w") as f:
    json.dump({"code": code, "seconds": seconds,
               "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}, f)
"""


def program(lines: list[str], output: str) -> str:
    return "\n".join(lines) + f"\noutput = {output}\n"


def build_cases(tmp: Path) -> list[dict]:
    """(name, argv, stdin text or None, stdout file or None, kind) for each class of the issue."""
    def write(name: str, text: str | bytes) -> str:
        path = tmp / name
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        return str(path)

    concat_1_6mb = program(["ab = range_func_up(1, 3)", "c = concatenate(" + ", ".join(["ab"] * 400_000) + ")"], "c")
    concat_4mb = program(["ab = range_func_up(1, 3)", "c = concatenate(" + ", ".join(["ab"] * 1_000_000) + ")"], "c")
    reverse_10k = program(["s1 = repeat_num(65536, 7)"] + [f"s{i + 2} = reverse_list(s{i + 1})"
                                                           for i in range(10_000)], "s10001")
    sort_20k = program(["s1 = range_func_interval(65536, 0, -1)"] + [f"t{i} = max_n(s1, 65536)"
                                                                    for i in range(20_000)], "t19999")
    one_mb_valid = program(["sequence_1 = set_list([])", "sequence_2 = concatenate("       # 90,000 empty lists
                            + ", ".join(["sequence_1"] * 90_000) + ")"], "sequence_2")
    spaces = lambda n: program(["sequence_1 = range_func_up(1," + " " * n + "3)"], "sequence_1")  # noqa: E731
    seq_rows = "".join(json.dumps({"sequence": [(i * 7 + k) % 256 for k in range(12)]}) + "\n" for i in range(3))
    inp, other = write("in.jsonl", seq_rows), write("other.jsonl", seq_rows.replace("[0,", "[1,", 1))
    torn = tmp / "torn.jsonl"
    solve = ["solve", "--input", inp, "--budget", "0.2", "--strategies", "segment"]
    cases = [
        # class 1: "verified" for a sequence no program may build under the run limit
        ("solve: 70,000-value sequence", ["solve", "--input", write("long.jsonl", json.dumps({"sequence": [1] * 70_000})),
                                          "--output", str(tmp / "long.out")], None, "hostile"),
        # class 2: work and memory bounded before they are spent
        ("run: concatenate of 400k refs (1.6 MB), --max-len 1000", ["run", "--max-len", "1000", write("c16.kt", concat_1_6mb)], None, "hostile"),
        ("run: concatenate of 1M refs (4 MB)", ["run", write("c4.kt", concat_4mb)], None, "hostile"),
        ("run: 10,000 reverse_list of a 65,536-list", ["run", write("rev.kt", reverse_10k)], None, "hostile"),
        ("run: max_n of a 65,536-list 20,000 times", ["run", write("sort.kt", sort_20k)], None, "hostile"),
        ("score: the program field holds the 10,000 reverse_list",
         ["score", "--input", write("score.jsonl", json.dumps({"sequence": [7], "program": reverse_10k}) + "\n")], None, "hostile"),
        # class 3: parsing time
        ("parse: 50 KB of spaces in a line", ["run", write("s50.kt", spaces(50_000))], None, "parse"),
        ("parse: 200 KB of spaces in a line", ["run", write("s200.kt", spaces(200_000))], None, "parse"),
        ("parse: 1 MB single-line valid program", ["run", write("one_mb.kt", one_mb_valid)], None, "parse"),
        # class 4: tracebacks for user mistakes
        ("5,000-digit integer in a program", ["run", write("digits.kt", program([f"s = repeat_num(2, {'9' * 5000})"], "s"))], None, "error"),
        ("5,000-digit integer in a JSONL row", ["score", "--input", write("digits.jsonl", '{"sequence": [' + "9" * 5000 + "]}\n")], None, "error"),
        ("program file not UTF-8", ["run", write("latin1.kt", "s = range_func_up(1, 3) # caf\xe9\noutput = s\n".encode("latin-1"))], None, "error"),
        ("JSONL nested 100,000 deep", ["score", "--input", write("deep.jsonl", '{"sequence": ' + "[" * 100_000 + "\n")], None, "error"),
        ("output folder missing", ["sample", "--n", "2", "--output", str(tmp / "nope" / "s.jsonl")], None, "error"),
        ("output is a folder", ["sample", "--n", "2", "--output", str(tmp)], None, "error"),
        ("output a device (/dev/full)", ["sample", "--n", "2", "--output", "/dev/full"], None, "error"),
        ("stdout on a full disk", ["sample", "--n", "2", "--output", "-"], "/dev/full", "error"),
        ("bench TOML n = 'ten'", ["bench", "--config", write("g.toml", '[bench]\nn = "ten"\n'), "--out", str(tmp / "b")], None, "error"),
        ("bench TOML budget.seconds = nan", ["bench", "--config", write("g2.toml", '[base]\n"budget.seconds" = nan\n'), "--out", str(tmp / "b")], None, "error"),
        # class 6: unchecked numbers
        ("solve --budget nan", solve + ["--output", str(tmp / "n.out"), "--budget", "nan"], None, "error"),
        ("bench --budget inf", ["bench", "--out", str(tmp / "b"), "--budget", "inf"], None, "error"),
        # class 7: output handling
        ("sample over an existing file", ["sample", "--n", "2", "--output", inp], None, "error"),
        ("sample to a symlink to /dev/null", ["sample", "--n", "2", "--force", "--output", str(tmp / "null-link")], None, "error"),
        ("solve: empty input", ["solve", "--input", write("empty.jsonl", "\n"), "--output", str(tmp / "e.out")], None, "error"),
        # class 5: runs that could mix or tear (checked on the file after the case)
        ("solve: first run", solve + ["--output", str(torn)], None, "run"),
        ("solve --resume after a torn last line", solve + ["--output", str(torn), "--resume"], None, "resume"),
        ("solve --resume against another input", ["solve", "--input", other, "--budget", "0.2", "--strategies",
                                                  "segment", "--output", str(torn), "--resume"], None, "refuse"),
        ("solve --resume under another budget", ["solve", "--input", inp, "--budget", "0.3", "--strategies",
                                                 "segment", "--output", str(torn), "--resume"], None, "refuse"),
    ]
    os.symlink("/dev/null", tmp / "null-link")
    return [dict(name=n, argv=a, stdout=o, kind=k) for n, a, o, k in cases]


def run_case(case: dict, tmp: Path) -> dict:
    report = tmp / "report.json"
    env = dict(os.environ, HOSTILE_REPORT=str(report), PYTHONPATH=str(REPO))
    with open(case["stdout"] or os.devnull, "w") as sink:      # /dev/full: a full disk behind stdout
        proc = subprocess.run([sys.executable, "-c", CHILD, *case["argv"]], stdout=sink,
                              stderr=subprocess.PIPE, env=env, timeout=600)
    measured = json.loads(report.read_text())
    err = proc.stderr.decode("utf-8", "replace")
    measured.update(traceback="Traceback" in err, error=err.strip().splitlines()[-1] if err.strip() else "")
    return measured


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help="run only the cases whose name contains this")
    args = ap.parse_args()
    ok = True
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        cases = build_cases(tmp)
        torn = tmp / "torn.jsonl"
        print(f"{'case':58} {'exit':>4} {'seconds':>8} {'peak MB':>8}  error line")
        for case in cases:
            if args.only not in case["name"]:
                continue
            if case["kind"] == "resume" and torn.exists():        # a crash mid-write: cut the last row short
                text = torn.read_text()
                torn.write_text(text[:text.rstrip("\n").rfind("\n") + 1] + text.rstrip("\n").rsplit("\n", 1)[-1][:30])
            before = torn.read_bytes() if torn.exists() else b""
            m = run_case(case, tmp)
            good = not m["traceback"]
            if case["kind"] in ("hostile", "error", "refuse"):
                good &= m["code"] in (1, 2)
            if case["kind"] == "hostile":
                good &= m["seconds"] < TIME_TARGET_S and m["peak_mb"] < MEMORY_TARGET_MB
            if case["kind"] == "parse" and "valid" in case["name"]:
                good &= m["code"] == 0 and m["seconds"] < TIME_TARGET_S
            if case["kind"] in ("run", "resume"):
                lines = torn.read_text().splitlines()
                rows = [json.loads(line) for line in lines]               # a torn line would fail here
                good &= m["code"] == 0 and sorted(r["index"] for r in rows) == [0, 1, 2] \
                    and torn.read_text().endswith("\n")
            if case["kind"] == "refuse":
                good &= torn.read_bytes() == before                      # refused, file untouched
            ok &= good
            print(f"{case['name'][:58]:58} {m['code']:>4} {m['seconds']:8.3f} {m['peak_mb']:8.1f}  "
                  f"{'' if good else 'MISSED '}{m['error'][:110]}")
    print("all targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
