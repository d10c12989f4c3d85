"""Expert-iteration data (issue 14): the verified programs the guided search finds on fresh draws.

    python experiments/expert_iteration.py --n 2000 --out runs/expert [--policy default]
                                           [--budget 1.8] [--workers 1]

1. Draws --n pairs of the named stream "expert" (ksynth.lm.data: string-seeded, so no integer
   evaluation seed can coincide; every evaluation sequence excluded; rare ops oversampled as in
   training) into OUT/draws.jsonl (an OUT holding another --n's draws is refused).
2. Solves them with `ksynth solve` under --policy (default: the shipped LM guiding beam in the
   default portfolio), rows appended to OUT/solved.jsonl; rerunning resumes that file.
3. Writes OUT/expert.jsonl, one {"sequence", "program"} row per draw, for
   `train_policy.py --train-jsonl`: the target is the search's verified program where its KT bits
   are below the generator's program's (ksynth's cheaper program replaces the target, the
   canonicalisation the issue asks for), else the generator's program (dead lines pruned).
   OUT/summary.json: how many targets the search replaced, the bits saved, the time spent.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

STREAM = "expert"


def draw(n: int, path: Path) -> None:
    from ksynth.lm import data

    examples = data.make(n, STREAM, exclude=data.eval_sequences())
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for ex in examples:
            f.write(json.dumps({"sequence": list(ex.sequence),
                                "gt_program": ex.program.format()}) + "\n")
    os.replace(tmp, path)


def merge(solved: Path, expert: Path) -> dict:
    """The cheaper verified program per draw; the counts that say what the search contributed."""
    from ksynth.dsl.interp import run
    from ksynth.dsl.program import Program
    from ksynth.dsl.score import kt_bits
    from ksynth.search.objective import COST_EPS

    rows = [json.loads(line) for line in solved.read_text(encoding="utf-8").splitlines() if line]
    rows.sort(key=lambda r: r["index"])
    replaced, saved, seconds = 0, 0.0, 0.0
    tmp = expert.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for r in rows:
            gt = Program.parse(r["gt_program"]).pruned()
            found = Program.parse(r["program"]).pruned()
            target, gt_bits, found_bits = gt, kt_bits(gt), kt_bits(found)
            if r["verified"] and found_bits < gt_bits - COST_EPS and run(found) == r["sequence"]:
                target = found
                replaced += 1
                saved += gt_bits - found_bits
            seconds += r["seconds"]
            f.write(json.dumps({"sequence": r["sequence"], "program": target.format()}) + "\n")
    os.replace(tmp, expert)
    return {"draws": len(rows), "replaced_by_search": replaced,
            "share_replaced": round(replaced / max(len(rows), 1), 4),
            "kt_bits_saved_per_replaced": round(saved / max(replaced, 1), 2),
            "search_seconds_mean": round(seconds / max(len(rows), 1), 4)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--out", default="runs/expert")
    ap.add_argument("--policy", default="default")
    ap.add_argument("--budget", type=float, default=None, help="seconds per sequence")
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    draws, solved = out / "draws.jsonl", out / "solved.jsonl"
    t0 = time.time()
    if not draws.is_file():
        draw(args.n, draws)
    held = sum(1 for line in draws.open(encoding="utf-8") if line.strip())
    if held != args.n:
        raise SystemExit(f"{draws} holds {held} draws, not --n {args.n}: use another --out")
    cmd = [sys.executable, "-m", "ksynth", "solve", "--input", str(draws), "--output", str(solved),
           "--policy", args.policy, "--workers", str(args.workers)]
    if args.budget is not None:
        cmd += ["--budget", str(args.budget)]
    cmd += ["--resume"] if solved.is_file() else []
    print(" ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True)
    summary = {"command": " ".join(["python"] + sys.argv), "stream": STREAM, "policy": args.policy,
               **merge(solved, out / "expert.jsonl"), "minutes": round((time.time() - t0) / 60, 1)}
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps(summary), file=sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
