"""SeqCoder-style decoding with our small LM on KT synthetic draws (issue 14, deliverable 5).

    python experiments/eval_seqcoder.py --n 1000 --seed 12345 [--k 16] [--policy default|PATH]
                                        [--temperature 1.0] [--decoding sample|beam]
                                        [--out rows.jsonl]

For every draw of `sample(n, seed)` (the README's test set for seed 12345): the greedy program
(grammar-constrained, one sample, the paper's protocol) and best-of-k (greedy + k-1 samples or
the k-1 most probable programs of a token-level beam search, every one checked by the executor, the cheapest correct one kept). Prints for both: accuracy,
precision both ways (gzip of the program text / gzip of the sequences, the metrics module's;
and KT prior bits / gzip bits of the solved sequences, the reading the quoted SeqCoder-8B 0.56
matches), the official compression rate and the rate with the submission choice, the share at
or below the ground truth's bits, seconds per sequence (model time: one CPU thread), and a
paired bootstrap 95% interval for best-of-k minus greedy accuracy.
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


def summarise(name: str, pairs, flags, truth_bits, seconds) -> dict:
    from ksynth.bench.metrics import prior_precision, score
    from ksynth.dsl.score import kt_bits

    s = score(pairs, correct=flags)
    at_or_below = sum(ok and kt_bits(p) <= t + 1e-9 for (_, p), ok, t in zip(pairs, flags, truth_bits))
    out = {"arm": name, "n": s.n, "accuracy": s.accuracy, "precision_text": s.precision,
           "precision_prior": prior_precision(pairs, flags), "official_cr": s.compression_rate,
           "cr_choice": s.compression_rate_choice, "gzip_rate": s.gzip_rate,
           "at_or_below_gt": at_or_below / s.n, "seconds_median": statistics.median(seconds),
           "seconds_mean": statistics.fmean(seconds)}
    fmt = lambda v: "-" if v is None else f"{v:.3f}"               # noqa: E731
    print(f"{name:12s} accuracy {100 * s.accuracy:5.1f}%  precision text {fmt(s.precision)}  "
          f"prior {fmt(out['precision_prior'])}  official CR {s.compression_rate:.4f}  "
          f"CR choice {s.compression_rate_choice:.4f}  (gzip {s.gzip_rate:.4f})  "
          f"<= gt bits {100 * out['at_or_below_gt']:.1f}%  s/seq median {out['seconds_median']:.3f}")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=12345)
    ap.add_argument("--k", type=int, default=16)
    ap.add_argument("--policy", default="default")
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--decoding", default="sample", choices=["sample", "beam"],
                    help="the k - 1 candidates beside greedy: samples or a token-level beam")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)

    import torch

    from ksynth.bench.metrics import paired_bootstrap, score
    from ksynth.dsl import executor
    from ksynth.dsl.sample import sample
    from ksynth.dsl.score import kt_bits
    from ksynth.search.policy import get_policy

    torch.set_num_threads(1)
    pol = get_policy(args.policy)
    draws = sample(args.n, args.seed)
    greedy_pairs, best_pairs, g_ok, b_ok, g_sec, b_sec, truth = [], [], [], [], [], [], []
    out = open(args.out, "w", encoding="utf-8") if args.out else None
    t_all = time.time()
    for i, d in enumerate(draws):
        t0 = time.monotonic()
        tp = pol.for_target(d.sequence)
        g = tp.greedy.pruned() if tp.greedy is not None else None
        gok = g is not None and bool(executor.matches([g], d.sequence)[0])
        t1 = time.monotonic()
        cands = [g] if g is not None else []
        extra = tp.beam(args.k - 1) if args.decoding == "beam" else \
            tp.sample(args.k - 1, args.temperature, seed=i)
        cands += [p.pruned() for p, _ in extra if p is not None]
        ok = executor.matches(cands, d.sequence) if cands else []
        good = [p for p, hit in zip(cands, ok) if hit]
        best = min(good, key=kt_bits) if good else None
        t2 = time.monotonic()
        greedy_pairs.append((d.sequence, g if gok else None))
        best_pairs.append((d.sequence, best))
        g_ok.append(gok)
        b_ok.append(best is not None)
        g_sec.append(t1 - t0)
        b_sec.append(t2 - t0)
        truth.append(d.kt_bits)
        if out:
            out.write(json.dumps({"index": i, "greedy": g.format() if g else None, "greedy_ok": gok,
                                  "best": best.format() if best else None, "gt_kt_bits": d.kt_bits,
                                  "gt_program": d.program.format(), "seed": args.seed}) + "\n")
        if (i + 1) % 100 == 0:
            print(f"  {i + 1}/{len(draws)}  {time.time() - t_all:.0f} s", file=sys.stderr)
    card_params = sum(p.numel() for p in pol.model.parameters())
    print(f"policy {args.policy} ({card_params:,} parameters), n={len(draws)} seed={args.seed} "
          f"k={args.k} decoding={args.decoding} T={args.temperature}")
    rows = [summarise("greedy", greedy_pairs, g_ok, truth, g_sec),
            summarise(f"best-of-{args.k}", best_pairs, b_ok, truth, b_sec)]
    gt = score([(d.sequence, d.program) for d in draws])
    print(f"ground truth: official CR {gt.compression_rate:.4f}")
    diff, lo, hi = paired_bootstrap([float(x) for x in b_ok], [float(x) for x in g_ok])
    print(f"best-of-{args.k} - greedy accuracy: {100 * diff:+.1f} points "
          f"(paired bootstrap 95% [{100 * lo:+.1f}, {100 * hi:+.1f}])")
    print(json.dumps({"rows": rows, "gt_cr": gt.compression_rate, "command": " ".join(sys.argv)}))
    if out:
        out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
