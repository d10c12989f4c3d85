"""The full portfolio with and without the `sketch` strategy at equal wall time, on a stratified set
of fresh synthetic draws whose ground truth uses two-list ops or scan_add (issue 14).

    python experiments/eval_sketch.py --n 300 --seed 777 [--draws 12000] [--budget 1.8]
        [--add sketch] [--set a.b=v ...] [--set-b a.b=v ...] [--out rows.jsonl]

The set: the first --n of `sample(draws, seed)` whose ground-truth program uses one of STRATA
(3.4% of draws do: ENV-NOTES). Arm A is the default portfolio, arm B the default plus --add; both
run under the same wall budget (model time included; the LM is loaded once before the clock
starts, as a served or long-running process has it), interleaved per draw (eval_guided.run_arms). --set applies to both arms, --set-b to arm B only (its ablations). Prints per arm:
official compression rate, share at or below the ground truth's KT bits, excess bits over the
ground truth (the sum of max(0, found - truth)), net bits over it, seconds; and paired bootstrap
95% intervals of B - A for the at-or-below share, the excess bits and the bits ratio.
Seeds: fresh ones (777 / 4242 are excluded from the policy's training data); never 12345 / 2024.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

STRATA = frozenset({"add_two_lists", "subtract_two_lists", "modulo_two_lists", "scan_add"})


def stratified(n: int, seed: int, draws: int) -> list:
    """The first n of sample(draws, seed) whose ground truth uses an op of STRATA."""
    from ksynth.dsl.sample import sample

    picked = [d for d in sample(draws, seed) if STRATA & d.program.ops_used()]
    if len(picked) < n:
        raise SystemExit(f"only {len(picked)} of {draws} draws use {sorted(STRATA)}: raise --draws")
    return picked[:n]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--seed", type=int, default=777)
    ap.add_argument("--draws", type=int, default=12000)
    ap.add_argument("--budget", type=float, default=1.8)
    ap.add_argument("--add", default="sketch", help="strategies arm B adds to the default portfolio")
    ap.add_argument("--set", action="append", default=[], help="config override for both arms")
    ap.add_argument("--set-b", action="append", default=[], help="config override for arm B only")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    if args.seed in (12345, 2024):
        ap.error("12345 and 2024 are the README's test seeds: compare arms on fresh seeds")

    from eval_guided import arm_stats, ratio, run_arms   # experiments/ is sys.path[0]
    from ksynth.bench.metrics import paired_bootstrap, score
    from ksynth.config import STRATEGIES, SearchConfig, apply_overrides
    from ksynth.search.lm_policy import lm_names
    from ksynth.search.policy import get_policy
    from ksynth.search.portfolio import Portfolio

    both = [f"budget.seconds={args.budget}"] + args.set
    cfg_a = apply_overrides(SearchConfig(), both)
    added = [s for s in args.add.split(",") if s and s not in STRATEGIES]
    cfg_b = apply_overrides(SearchConfig(), both + [f"strategies={','.join(STRATEGIES + tuple(added))}"]
                            + args.set_b)
    arms = {"default": Portfolio(cfg_a), "default+" + "+".join(added): Portfolio(cfg_b)}
    for name in lm_names(cfg_b):                 # load the model before the clock starts
        pol = get_policy(name)
        if hasattr(pol, "service"):
            pol.service
    draws = stratified(args.n, args.seed, args.draws)
    res = run_arms(arms, draws, args.out, args.seed, every=25)
    gt = score([(d.sequence, d.program) for d in draws])
    print(f"stratified n={len(draws)} (ops {sorted(STRATA)}) of sample({args.draws}, {args.seed}), "
          f"budget {args.budget} s, overrides {args.set}, arm B {args.set_b}; ground truth CR "
          f"{gt.compression_rate:.4f} (gzip {gt.gzip_rate:.4f})")

    def excess(pairs):
        return sum(max(0.0, a - b) for a, b in pairs)

    summary, per_arm = {}, {}
    for name, rs in res.items():
        s, below, bits, secs = arm_stats(draws, rs)
        wins = {}
        for r in rs:
            wins[r.strategy] = wins.get(r.strategy, 0) + 1
        summary[name] = {"cr": s.compression_rate, "at_or_below": statistics.fmean(below),
                         "excess_bits": excess(bits), "net_bits": sum(a - b for a, b in bits),
                         "bits_ratio": ratio(bits), "seconds_median": statistics.median(secs),
                         "seconds_mean": statistics.fmean(secs), "winners": wins}
        per_arm[name] = (below, bits)
        print(f"{name:18s} CR {s.compression_rate:.4f}  <= gt {100 * statistics.fmean(below):5.1f}%  "
              f"excess {excess(bits):8.1f} bits  net {summary[name]['net_bits']:+8.1f}  "
              f"bits/gt {ratio(bits):.4f}  s/seq median {statistics.median(secs):.3f} "
              f"mean {statistics.fmean(secs):.3f}  winners {wins}")
    (a_name, (a_below, a_bits)), (b_name, (b_below, b_bits)) = per_arm.items()
    d1, lo1, hi1 = paired_bootstrap(b_below, a_below)
    d2, lo2, hi2 = paired_bootstrap(b_bits, a_bits, stat=excess)
    d3, lo3, hi3 = paired_bootstrap(b_bits, a_bits, stat=ratio)
    rel = d2 / excess(a_bits) if excess(a_bits) else float("nan")
    print(f"{b_name} - {a_name}: <= gt {100 * d1:+.1f} pts [{100 * lo1:+.1f}, {100 * hi1:+.1f}]; "
          f"excess bits {d2:+.1f} [{lo2:+.1f}, {hi2:+.1f}] ({100 * rel:+.1f}%); "
          f"bits ratio {d3:+.4f} [{lo3:+.4f}, {hi3:+.4f}]  (95% paired bootstrap)")
    print(json.dumps({"summary": summary, "command": " ".join(sys.argv)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
