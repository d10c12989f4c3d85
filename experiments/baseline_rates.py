"""Per-item baseline rates: bits / (8 * bytes) of every baseline on KT chunks and synthetic draws.

    python experiments/baseline_rates.py                 # 500 dev chunks per modality + 200 synthetic
    python experiments/baseline_rates.py --n 50 --verify # quicker, and decode every blob

Natural modalities: the first N chunks of the dev split (chunk indices 0..N-1, all < half).
Synthetic: `ksynth.dsl.sample.sample(n_synth, 0)`; its ground-truth programs are shown too, as their
real encoded size (ksynth.dsl.encode.bits) and their KT score (kt_bits).
Every rate is pooled over the set: sum of per-item bits / (8 * sum of bytes). Extra columns:
`gzip_kt` is the official pooled KT gzip number over the same items (one stream for the whole set,
latin-1 -> UTF-8 quirk, ksynth.bench.metrics), `literal_kt` the literal programs' KT score.
"""
from __future__ import annotations

import argparse
import time

from ksynth.baselines import BASELINES, POOLED
from ksynth.bench import datasets


def rates(items: list[bytes], methods: list[str], verify: bool) -> dict[str, tuple[float, float]]:
    """method -> (pooled rate, milliseconds per item)."""
    total_bits_in = 8 * sum(len(x) for x in items)
    out = {}
    for name in methods:
        b = BASELINES[name]
        t0 = time.perf_counter()
        bits = 0
        for x in items:
            bits += b.bits(x)
            if verify and b.decode(b.encode(x)) != x:
                raise SystemExit(f"{name} failed to round-trip an item")
        out[name] = (bits / total_bits_in, 1000 * (time.perf_counter() - t0) / len(items))
    out["gzip_kt"] = (POOLED["gzip_kt"]([list(x) for x in items]) / total_bits_in, 0.0)
    lit = BASELINES["literal"]
    out["literal_kt"] = (sum(lit.kt_bits(x) for x in items) / total_bits_in, 0.0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=500, help="dev chunks per natural modality")
    ap.add_argument("--n-synth", type=int, default=200, help="synthetic sequences")
    ap.add_argument("--methods", default=",".join(BASELINES))
    ap.add_argument("--modalities", default="text,dna,audio_8bit,audio_16bit,audio_mfcc,synthetic")
    ap.add_argument("--verify", action="store_true", help="also decode every blob")
    args = ap.parse_args()
    methods = args.methods.split(",")

    table = {}
    for modality in args.modalities.split(","):
        extra = {}
        if modality == "synthetic":
            from ksynth.dsl import encode
            from ksynth.dsl.sample import sample
            draws = sample(args.n_synth, 0)
            items = [bytes(s.sequence) for s in draws]
            n_in = 8 * sum(len(x) for x in items)
            extra["truth"] = (sum(encode.bits(s.program) for s in draws) / n_in, 0.0)
            extra["truth_kt"] = (sum(s.kt_bits for s in draws) / n_in, 0.0)
        else:
            parts = datasets.chunks(datasets.read_file(modality))
            dev = datasets.split_indices(len(parts), "dev")
            items = [parts[i] for i in list(dev)[:args.n]]
        table[modality] = (len(items), {**rates(items, methods, args.verify), **extra})
        print(f"{modality}: {len(items)} items done", flush=True)

    columns = methods + ["gzip_kt", "literal_kt", "truth", "truth_kt"]
    print("\nrate = bits / (8 * bytes), pooled per modality (lower is better)\n")
    print("| modality | items | " + " | ".join(columns) + " |")
    print("|---|---|" + "---|" * len(columns))
    for modality, (n, row) in table.items():
        cells = [f"{row[c][0]:.3f}" if c in row else "-" for c in columns]
        print(f"| {modality} | {n} | " + " | ".join(cells) + " |")
    print("\nmilliseconds per item (encode, or encode + decode with --verify)\n")
    print("| modality | " + " | ".join(methods) + " |")
    print("|---|" + "---|" * len(methods))
    for modality, (n, row) in table.items():
        print(f"| {modality} | " + " | ".join(f"{row[m][1]:.2f}" for m in methods) + " |")


if __name__ == "__main__":
    main()
