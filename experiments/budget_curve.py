"""Budget curve (issue 14): the full portfolio at several wall budgets, unguided vs guided.

    python experiments/budget_curve.py --n 100 --seed 31337 [--budgets 0.25,0.5,1.0,1.8]
        [--arms unguided,guided] [--policy default] [--out docs/issue14_budget_curve]

Arms: `unguided` is the default portfolio (beam included since 2026-12-03) under `policy=uniform`
(today's cost order); `guided` is the same portfolio under `--policy` (default: the shipped LM);
`nobeam` is the default portfolio without beam under `policy=uniform` (the `unguided` arm of the
runs before beam joined the default, for continuity with their numbers).
Every (arm, budget) runs on every draw, interleaved per draw (eval_guided.run_arms) so machine
load falls on all alike; model time counts as search time. Seeds: fresh (31337 is excluded from
the policy's training data; never 12345 / 2024). Prints per (arm, budget): official compression
rate, share at or below the ground truth's KT bits, mean seconds; paired bootstrap 95% intervals
of guided at 0.5 s and at 1.0 s minus unguided at 1.8 s (rate and at-or-below share). Writes
OUT.json (every number + the config) and OUT.png (rate vs budget, one line per arm, the ground
truth's rate as a horizontal line).
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from eval_guided import arm_stats, ratio, run_arms  # noqa: E402  (reused, not copied)

COMPARISONS = ((("guided", 0.5), ("unguided", 1.8)), (("guided", 1.0), ("unguided", 1.8)))


def arm_config(arm: str, budget: float, policy: str, extra=()):
    from ksynth.config import SearchConfig, apply_overrides

    base = SearchConfig()
    if arm == "unguided":
        over = ["policy=uniform"]
    elif arm == "guided":
        over = [f"policy={policy}"]
    elif arm == "nobeam":
        over = ["policy=uniform", "strategies=" + ",".join(s for s in base.strategies if s != "beam")]
    else:
        raise SystemExit(f"unknown arm {arm!r}: unguided | guided | nobeam")
    return apply_overrides(base, over + [f"budget.seconds={budget}"] + list(extra))


def key(arm: str, budget: float) -> str:
    return f"{arm}@{budget:g}"


def plot(path: str, budgets, arms, table, gt_rate: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.ticker
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for arm in arms:
        ax.plot(budgets, [table[key(arm, b)]["cr"] for b in budgets], marker="o", label=arm)
    ax.axhline(gt_rate, color="grey", linestyle="--", label="ground truth")
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xticks(budgets)
    ax.set_xticklabels([f"{b:g}" for b in budgets])
    ax.set_xlabel("wall budget per sequence (s)")
    ax.set_ylabel("official compression rate (lower is better)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--seed", type=int, default=31337)
    ap.add_argument("--budgets", default="0.25,0.5,1.0,1.8")
    ap.add_argument("--arms", default="unguided,guided")
    ap.add_argument("--policy", default="default", help="the guided arm's policy (default: shipped LM)")
    ap.add_argument("--set", action="append", default=[], help="config override a.b=v, every arm")
    ap.add_argument("--bootstrap", type=int, default=2000, help="bootstrap resamples")
    ap.add_argument("--rows", default=None, help="JSONL, one row per (draw, arm, budget)")
    ap.add_argument("--out", default="docs/issue14_budget_curve", help="writes OUT.json and OUT.png")
    ap.add_argument("--no-plot", action="store_true")
    args = ap.parse_args(argv)
    if args.seed in (12345, 2024):
        ap.error("12345 and 2024 are the README's test seeds: compare arms on fresh seeds")
    from ksynth.lm.data import EVAL_SEEDS

    if args.seed not in EVAL_SEEDS:
        print(f"warning: seed {args.seed} is not among the seeds excluded from the policy's training"
              f" data {EVAL_SEEDS}", file=sys.stderr)

    from ksynth.bench.metrics import paired_bootstrap, score
    from ksynth.dsl.sample import sample
    from ksynth.search.portfolio import Portfolio

    budgets = [float(b) for b in args.budgets.split(",")]
    arms = args.arms.split(",")
    portfolios = {key(a, b): Portfolio(arm_config(a, b, args.policy, args.set)) for b in budgets for a in arms}
    draws = sample(args.n, args.seed)
    for p in portfolios.values():          # JIT kernels and the model loaded before the clock
        p.search(sample(1, 1)[0].sequence)
    load0, t0 = os.getloadavg()[0], time.time()
    res = run_arms(portfolios, draws, args.rows, args.seed, every=max(1, min(20, args.n)))
    load1, wall = os.getloadavg()[0], time.time() - t0
    gt = score([(d.sequence, d.program) for d in draws])
    print(f"n={len(draws)} seed={args.seed} budgets={budgets} arms={arms} policy={args.policy}"
          f"  ground truth CR {gt.compression_rate:.4f} (gzip {gt.gzip_rate:.4f})  overrides={args.set}"
          f"  load {load0:.2f} -> {load1:.2f} on {os.cpu_count()} cores, {wall:.0f} s")
    table, per = {}, {}
    for name, rs in res.items():
        s, below, bits, secs = arm_stats(draws, rs)
        table[name] = {"arm": name.split("@")[0], "budget": float(name.split("@")[1]),
                       "cr": s.compression_rate, "at_or_below": statistics.fmean(below),
                       "bits_ratio": ratio(bits), "seconds_mean": statistics.fmean(secs),
                       "seconds_median": statistics.median(secs),
                       "strategies": list(portfolios[name].config.strategies),
                       "policy": portfolios[name].config.policy}
        per[name] = (below, [(d.sequence, r.program) for d, r in zip(draws, rs)])
    for a in arms:
        for b in budgets:
            t = table[key(a, b)]
            print(f"{key(a, b):16s} CR {t['cr']:.4f}  <= gt {100 * t['at_or_below']:5.1f}%  "
                  f"bits/gt {t['bits_ratio']:.4f}  s/seq mean {t['seconds_mean']:.3f} "
                  f"median {t['seconds_median']:.3f}")

    def cr(pairs):
        return score(pairs).compression_rate

    comparisons = []
    for (a1, b1), (a2, b2) in COMPARISONS:
        k1, k2 = key(a1, b1), key(a2, b2)
        if k1 not in per or k2 not in per:
            continue
        d1, lo1, hi1 = paired_bootstrap(per[k1][1], per[k2][1], stat=cr, draws=args.bootstrap)
        d2, lo2, hi2 = paired_bootstrap(per[k1][0], per[k2][0], draws=args.bootstrap)
        comparisons.append({"a": k1, "b": k2, "cr_diff": d1, "cr_ci": [lo1, hi1],
                            "at_or_below_diff": d2, "at_or_below_ci": [lo2, hi2]})
        print(f"{k1} - {k2}: CR {d1:+.4f} [{lo1:+.4f}, {hi1:+.4f}]  "
              f"<= gt {100 * d2:+.1f} pts [{100 * lo2:+.1f}, {100 * hi2:+.1f}]")
    target = None
    if key("guided", 0.5) in table and key("unguided", 1.8) in table:
        target = table[key("guided", 0.5)]["cr"] <= table[key("unguided", 1.8)]["cr"]
        print(f"target (guided at 0.5 s reaches unguided's rate at 1.8 s): "
              f"{'reached' if target else 'NOT reached'} (point estimates)")

    from eval_search import git_commit

    out = {"n": len(draws), "seed": args.seed, "budgets": budgets, "arms": arms, "policy": args.policy,
           "overrides": args.set, "ground_truth_cr": gt.compression_rate, "gzip_cr": gt.gzip_rate,
           "table": table, "comparisons": comparisons, "target_reached": target,
           "load_average": [load0, load1], "cores": os.cpu_count(), "wall_seconds": wall,
           "bootstrap": args.bootstrap, "commit": git_commit(),
           "command": " ".join([os.path.basename(sys.executable)] + (sys.argv if argv is None else
                                                                      ["budget_curve.py"] + list(argv))),
           "configs": {k: p.config.to_dict() for k, p in portfolios.items()}}
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out + ".json", "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1, default=str)
    if not args.no_plot:
        plot(args.out + ".png", budgets, arms, table, gt.compression_rate)
    print(f"wrote {args.out}.json" + ("" if args.no_plot else f" and {args.out}.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
