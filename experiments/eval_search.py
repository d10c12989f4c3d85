"""Search quality and speed on KT synthetic draws, against the ground-truth programs (issue 5).

    python experiments/eval_search.py --n 1000 --seed 12345 [--budget S] [--strategies a,b]
                                      [--set ablations.copies=false ...] [--out rows.jsonl]

Runs the portfolio serially (one core) on `ksynth.dsl.sample.sample(n, seed)` (the same set as
`ksynth sample --n N --seed S`) and prints:
  - the official compression rate of the found programs and of the ground-truth programs on the
    same set (ksynth.bench.metrics.score), and their ratio (target <= 0.95, stretch <= 0.90);
  - the share of sequences whose found kt_bits <= the ground truth's (target >= 90%);
  - median / p95 seconds per sequence (targets 0.5 s / 2 s) and the load average while running;
  - the rate ratio broken down by the ops the ground truth used, and by winning strategy.
Each sequence becomes one JSONL row (with the config, the command and the git commit) in --out.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict

from ksynth.bench.metrics import score
from ksynth.config import Budget, SearchConfig, apply_overrides
from ksynth.dsl.sample import sample
from ksynth.search.portfolio import Portfolio


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=os.path.dirname(os.path.abspath(__file__)))
        dirty = subprocess.run(["git", "status", "--porcelain", "ksynth"], capture_output=True,
                               text=True, cwd=os.path.dirname(os.path.abspath(__file__))).stdout
        return out.stdout.strip() + ("+dirty" if dirty.strip() else "")
    except OSError:
        return "unknown"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=12345)
    ap.add_argument("--budget", type=float, default=None, help="seconds per sequence")
    ap.add_argument("--strategies", default=None)
    ap.add_argument("--objective", default="kt", choices=["kt", "bits"])
    ap.add_argument("--set", action="append", default=[], help="config override a.b=v")
    ap.add_argument("--out", default=None, help="JSONL rows (default: none written)")
    ap.add_argument("--show-worst", type=int, default=0, help="print the N biggest losses")
    args = ap.parse_args(argv)

    cfg = SearchConfig(objective=args.objective)
    if args.budget is not None:
        cfg = apply_overrides(cfg, [f"budget.seconds={args.budget}"])
    if args.strategies:
        cfg = apply_overrides(cfg, [f"strategies={args.strategies}"])
    cfg = apply_overrides(cfg, args.set)
    portfolio = Portfolio(cfg)
    draws = sample(args.n, args.seed)
    commit, command = git_commit(), " ".join([os.path.basename(sys.executable)] + sys.argv)
    out = open(args.out, "w", encoding="utf-8") if args.out else None

    found, truth, seconds, rows = [], [], [], []
    load0 = os.getloadavg()[0]
    t0 = time.time()
    for i, d in enumerate(draws):
        res = portfolio.search(d.sequence)
        found.append((d.sequence, res.program))
        truth.append((d.sequence, d.program))
        seconds.append(res.seconds)
        row = {"index": i, "n_bytes": len(d.sequence), "kt_bits": res.kt_bits, "bits": res.bits,
               "gt_kt_bits": d.kt_bits, "seconds": res.seconds, "strategy": res.strategy,
               "verified": res.verified, "gt_ops": sorted(d.program.ops_used()),
               "program": res.program.format(), "gt_program": d.program.format()}
        rows.append(row)
        if out:
            out.write(json.dumps({**row, "config": cfg.to_dict(), "commit": commit,
                                  "command": command, "seed": args.seed}) + "\n")
            out.flush()
        if (i + 1) % 100 == 0:
            print(f"  {i + 1}/{len(draws)}  {time.time() - t0:.0f} s", file=sys.stderr)
    load1 = os.getloadavg()[0]

    ours, gt = score(found), score(truth)
    ratio = ours.compression_rate / gt.compression_rate
    at_or_below = sum(r["kt_bits"] <= r["gt_kt_bits"] + 1e-9 for r in rows) / len(rows)
    secs = sorted(seconds)
    p95 = secs[min(len(secs) - 1, int(0.95 * len(secs)))]
    print(f"config: budget={cfg.budget.seconds}s strategies={','.join(cfg.strategies)} "
          f"objective={cfg.objective} overrides={args.set}  commit {commit}")
    print(f"n={len(rows)} seed={args.seed}  accuracy={ours.accuracy:.3f}")
    print(f"compression rate: found {ours.compression_rate:.4f}  ground truth {gt.compression_rate:.4f}"
          f"  ratio {ratio:.3f}  (gzip {gt.gzip_rate:.4f})")
    print(f"kt_bits <= ground truth: {100 * at_or_below:.1f}%   "
          f"bits {sum(r['kt_bits'] for r in rows):.0f} vs {sum(r['gt_kt_bits'] for r in rows):.0f}")
    print(f"seconds/sequence: median {statistics.median(secs):.3f}  p95 {p95:.3f}  "
          f"max {secs[-1]:.3f}  mean {statistics.fmean(secs):.3f}   "
          f"load average {load0:.2f} -> {load1:.2f} on {os.cpu_count()} cores")
    by_op = defaultdict(lambda: [0, 0.0, 0.0, 0])
    for r in rows:
        for op in r["gt_ops"]:
            e = by_op[op]
            e[0] += 1
            e[1] += r["kt_bits"]
            e[2] += r["gt_kt_bits"]
            e[3] += r["kt_bits"] <= r["gt_kt_bits"] + 1e-9
    print("by ground-truth op (sequences using it): n, found/gt bits, % at or below gt, excess bits")
    for op, (n, a, b, w) in sorted(by_op.items(), key=lambda kv: kv[1][2] - kv[1][1]):
        print(f"  {op:32s} {n:5d}  {a / b:6.3f}  {100 * w / n:5.1f}%  {a - b:+8.0f}")
    by_strat = defaultdict(int)
    for r in rows:
        by_strat[r["strategy"]] += 1
    print("winning strategy:", dict(by_strat))
    if args.show_worst:
        for r in sorted(rows, key=lambda r: r["gt_kt_bits"] - r["kt_bits"])[:args.show_worst]:
            print(f"\n# {r['kt_bits']:.1f} vs gt {r['gt_kt_bits']:.1f}\n{r['gt_program']}\n--\n{r['program']}")
    if out:
        out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
