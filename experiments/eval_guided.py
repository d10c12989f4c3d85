"""Guided vs unguided search at equal node budgets (issue 14): beam / mcts x uniform / pcfg / lm.

    python experiments/eval_guided.py --n 200 --seed 4242 --nodes 1000
        [--arms beam:uniform,beam:pcfg,beam:lm,mcts:uniform,mcts:pcfg,mcts:lm] [--out rows.jsonl]

Each arm is the portfolio with ONE strategy, `budget.nodes=N` and no wall limit (the node budget
is the equal footing; every arm's seconds, model time included, are printed beside it). Arms run
interleaved per draw so machine load falls on all of them alike. Seeds: fresh (4242 / 777 are
excluded from the policy's training data; never 12345 / 2024). Prints per arm: official
compression rate, share at or below the ground truth's KT bits, total bits, seconds; and paired
bootstrap 95% intervals of (arm - the same strategy's uniform arm) for the at-or-below share and for the bits ratio
(sum found bits / sum ground-truth bits).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

DEFAULT_ARMS = "beam:uniform,beam:pcfg,beam:lm,mcts:uniform,mcts:pcfg,mcts:lm"


def run_arms(portfolios: dict, draws, out_path, seed: int, every: int = 20) -> dict:
    """Every arm (name -> Portfolio) on every draw, arms interleaved per draw so machine load falls
    on all of them alike; arm -> [SearchResult]. One JSONL row per (draw, arm) in out_path."""
    res = {k: [] for k in portfolios}
    out = open(out_path, "w", encoding="utf-8") if out_path else None
    t_all = time.time()
    for i, d in enumerate(draws):
        for name, port in portfolios.items():
            r = port.search(d.sequence)
            res[name].append(r)
            if out:
                out.write(json.dumps({"index": i, "arm": name, "kt_bits": r.kt_bits, "gt_kt_bits": d.kt_bits,
                                      "seconds": r.seconds, "nodes": r.nodes, "strategy": r.strategy,
                                      "program": r.program.format(),
                                      "gt_ops": sorted(d.program.ops_used()), "seed": seed,
                                      "config": port.config.to_dict()}) + "\n")
                out.flush()
        if (i + 1) % every == 0:
            print(f"  {i + 1}/{len(draws)}  {time.time() - t_all:.0f} s", file=sys.stderr)
    if out:
        out.close()
    return res


def ratio(pairs) -> float:
    """sum found bits / sum ground-truth bits of (found, truth) pairs."""
    return sum(a for a, _ in pairs) / sum(b for _, b in pairs)


def arm_stats(draws, rs):
    """(official score, per-draw at-or-below flags, (found, truth) KT bits, seconds) of one arm."""
    from ksynth.bench.metrics import score

    s = score([(d.sequence, r.program) for d, r in zip(draws, rs)])
    below = [float(r.kt_bits <= d.kt_bits + 1e-9) for r, d in zip(rs, draws)]
    return s, below, [(r.kt_bits, d.kt_bits) for r, d in zip(rs, draws)], [r.seconds for r in rs]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--seed", type=int, default=4242)
    ap.add_argument("--nodes", type=int, default=1000)
    ap.add_argument("--arms", default=DEFAULT_ARMS)
    ap.add_argument("--set", action="append", default=[], help="config override a.b=v")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    if args.seed in (12345, 2024):
        ap.error("12345 and 2024 are the README's test seeds: compare arms on fresh seeds")

    from ksynth.bench.metrics import paired_bootstrap, score
    from ksynth.config import SearchConfig, apply_overrides
    from ksynth.dsl.sample import sample
    from ksynth.search.portfolio import Portfolio

    arms = [a.split(":") for a in args.arms.split(",")]
    portfolios = {}
    for strat, pol in arms:
        cfg = apply_overrides(SearchConfig(policy=pol), [f"strategies={strat}", "budget.seconds=none",
                                                         f"budget.nodes={args.nodes}"] + args.set)
        portfolios[f"{strat}:{pol}"] = Portfolio(cfg)
    draws = sample(args.n, args.seed)
    res = run_arms(portfolios, draws, args.out, args.seed)
    gt = score([(d.sequence, d.program) for d in draws])
    print(f"n={len(draws)} seed={args.seed} nodes={args.nodes}  ground truth CR {gt.compression_rate:.4f}"
          f" (gzip {gt.gzip_rate:.4f})  overrides={args.set}")
    summary, per_arm = {}, {}
    for name, rs in res.items():
        s, below, bits, secs = arm_stats(draws, rs)
        line = (f"{name:14s} CR {s.compression_rate:.4f}  <= gt {100 * statistics.fmean(below):5.1f}%  "
                f"bits/gt {ratio(bits):.4f}  s/seq median {statistics.median(secs):.3f} "
                f"mean {statistics.fmean(secs):.3f}")
        summary[name] = {"cr": s.compression_rate, "at_or_below": statistics.fmean(below),
                         "bits_ratio": ratio(bits), "seconds_mean": statistics.fmean(secs)}
        per_arm[name] = (below, bits)
        base = name.split(":")[0] + ":uniform"           # each arm against its strategy's uniform
        if base != name and base in per_arm:
            d1, lo1, hi1 = paired_bootstrap(below, per_arm[base][0])
            d2, lo2, hi2 = paired_bootstrap(bits, per_arm[base][1], stat=ratio)
            line += (f"  vs {base}: <= gt {100 * d1:+.1f} pts [{100 * lo1:+.1f}, {100 * hi1:+.1f}],"
                     f" bits ratio {d2:+.4f} [{lo2:+.4f}, {hi2:+.4f}]")
        print(line)
    print(json.dumps({"summary": summary, "command": " ".join(sys.argv)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
