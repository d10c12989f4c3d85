"""Held-out -log2 policy(program | sequence) against the program's KT bits, per op family (issue 14).

    python experiments/policy_bits.py [--n 2000] [--policies uniform,pcfg,default] [--canonical]

Programs: natural draws of the held-out stream "valid" (ksynth.lm.data; excluded from training,
evaluation seeds excluded too), dead lines pruned; --canonical replaces each by ksynth's polished
program where that is cheaper and verified. Before any search: each policy's code length of the
ground-truth program (uniform = KT's prior, so its column IS the KT bits; pcfg = op bigrams, blind
to the sequence; lm = the transformer conditioned on it). Per op family (the draws whose program
uses that op) and overall: mean bits per program for each policy, and for every non-uniform
policy the paired bootstrap 95% interval of its mean minus KT's.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections import defaultdict

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

FAMILIES = {
    "two-list": {"add_two_lists", "subtract_two_lists", "modulo_two_lists"},
    "scan_add": {"scan_add"}, "filter": {"filter"}, "max_n/min_n": {"max_n", "min_n"},
    "item-wise": {"add_item_list", "subtract_item_list", "modulo_item_list"},
    "substitute": {"substitute"}, "reverse_list": {"reverse_list"}, "repeat_list": {"repeat_list"},
    "subsequences": {"get_subsequence_with_jumps", "get_subsequence_between_indices"},
    "interleave": {"interleave"}, "set_list": {"set_list"},
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--policies", default="uniform,pcfg,default")
    ap.add_argument("--canonical", action="store_true")
    args = ap.parse_args(argv)

    import torch

    from ksynth.bench.metrics import paired_bootstrap
    from ksynth.lm import data
    from ksynth.search.policy import get_policy

    torch.set_num_threads(1)
    exs = data.make(args.n, "valid", boost=1)
    if args.canonical:
        exs = [data.canonicalise(e) for e in exs]
    names = args.policies.split(",")
    bits = {name: [] for name in names}
    for e in exs:
        for name in names:
            tp = get_policy(name).for_target(list(e.sequence)) if name != "uniform" else \
                get_policy(name).for_target(())
            bits[name].append(tp.program_bits([e.program])[0])
    groups = defaultdict(list)
    for i, e in enumerate(exs):
        groups["all"].append(i)
        used = e.program.ops_used()
        for fam, ops in FAMILIES.items():
            if used & ops:
                groups[fam].append(i)
    print(f"n={len(exs)} held-out draws (stream 'valid'), canonical={args.canonical}; mean bits per program")
    head = f"{'family':14s} {'n':>5s} " + " ".join(f"{n:>9s}" for n in names)
    print(head + "   " + "  ".join(f"{n} - KT [95% CI]" for n in names if n != "uniform"))
    table = {}
    for fam, idx in groups.items():
        row = {n: sum(bits[n][i] for i in idx) / len(idx) for n in names}
        line = f"{fam:14s} {len(idx):5d} " + " ".join(f"{row[n]:9.1f}" for n in names)
        for n in names:
            if n == "uniform" or "uniform" not in names:
                continue
            d, lo, hi = paired_bootstrap([bits[n][i] for i in idx], [bits["uniform"][i] for i in idx])
            row[f"{n}_minus_kt"] = [d, lo, hi]
            line += f"   {d:+7.1f} [{lo:+.1f}, {hi:+.1f}]"
        table[fam] = {"n": len(idx), **row}
        print(line)
    print(json.dumps({"table": table, "command": " ".join(sys.argv)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
