"""Build the trained priors in ksynth/priors/ from the DEV split only (chunk index < half).

    python experiments/train_priors.py [--data DIR] [--n 2000] [--rounds 2] [--only NAME ...]

- residual_a8.prior / residual_a16.prior / residual_mfcc.prior: the residual coders' shape tables,
  P(bucket | running-mean context), counted over the residuals of the predictor the `predict`
  strategy picks on each dev chunk. Round 1 picks under the formula table, each later round under
  the table the previous round built (the pick depends on the table).
- dna.prior: P(base | 6 previous bases) over every dev chunk (contexts restart at each chunk, as
  the decoder sees them), then P(case | previous case).
Each file is zlib -9 of big-endian uint16 frequency rows (models.write_rows); its size is what
the benchmark charges. Prints every file's size in bytes.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from ksynth.bench import datasets  # noqa: E402
from ksynth.dsl import models  # noqa: E402
from ksynth.search import predict  # noqa: E402

RESIDUAL_PRIORS = {"audio_8bit": "residual_a8", "audio_16bit": "residual_a16",
                   "audio_mfcc": "residual_mfcc"}


def dev_chunks(modality: str, n: int | None, directory=None) -> list[bytes]:
    return [item.data for item in datasets.load(modality, "dev", n, seed=0, directory=directory)]


def residual_counts(chunks, slot: int) -> np.ndarray:
    """(context, bucket) counts of the residuals `predict` would code under models.MODELS[slot]."""
    counts = np.zeros((models.N_CTX, models.N_BUCKETS), np.int64)
    for data in chunks:
        best = (float("inf"), None, 0)
        t = np.frombuffer(data, np.uint8).astype(np.int64)
        readings = [((t + 128) % 256) - 128]
        if len(t) % 2 == 0:
            v = t[0::2] + 256 * t[1::2]
            readings.append(np.where(v >= 32768, v - 65536, v))
        for y in readings:
            for s, c in predict.candidates(y):
                res = tuple(int(r) for r in predict.residuals(y, s, c))
                bits, _, p = predict.best_residual_code(res, (slot,))
                bits += len(c) * (s + 3)
                if bits < best[0]:
                    best = (bits, res, p)
        for ctx, b in models.residual_contexts(best[1], best[2]):
            counts[ctx, b] += 1
    return counts


def train_residual(modality: str, name: str, n: int, rounds: int, directory=None) -> int:
    chunks = dev_chunks(modality, n, directory)
    k = models.MODEL_INDEX[name]
    model = models.ResidualModel(name, rows=models.MODELS[0].rows)   # round 1: the formula table
    for r in range(rounds):
        models.MODELS = models.MODELS[:k] + (model,) + models.MODELS[k + 1:]
        counts = residual_counts(chunks, k)
        # a light floor from the formula keeps unseen (context, bucket) pairs codable and sane
        smooth = np.array(models._formula_counts(), float)
        smooth = smooth / smooth.sum(1, keepdims=True)
        rows = models._rows_from_counts((counts + 0.5 * smooth + 1e-3).tolist())
        model = models.ResidualModel(name, rows=rows)
        print(f"{name}: round {r + 1}, {counts.sum()} residuals", flush=True)
    return models.write_rows(models.PRIOR_DIR / f"{name}.prior", model.rows)


def train_dna(directory=None) -> int:
    chunks = dev_chunks("dna", None, directory)
    order = models.DNA_ORDER
    base = np.zeros((4 ** order, 4), np.int64)
    case = np.zeros((2, 2), np.int64)
    for data in chunks:
        sym = np.frombuffer(data, np.uint8).astype(np.int64)
        b = sym & 3
        ctx = np.zeros(len(b), np.int64)
        for j in range(order, 0, -1):                      # models.dna_context, vectorised
            shifted = np.concatenate([np.zeros(j, np.int64), b[:-j]])
            ctx = 4 * ctx + shifted
        np.add.at(base, (ctx, b), 1)
        c = sym >> 2
        np.add.at(case, (np.concatenate([[0], c[:-1]]), c), 1)
    rows = models._rows_from_counts((base + 0.5).tolist())
    case_rows = [r + (0, 0) for r in models._rows_from_counts((case + 0.5).tolist())]
    return models.write_rows(models.PRIOR_DIR / "dna.prior", list(rows) + case_rows)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None, help="folder with the KT .bin files")
    ap.add_argument("--n", type=int, default=2000, help="dev chunks per audio modality")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--only", nargs="*", default=None)
    args = ap.parse_args(argv)
    models.PRIOR_DIR.mkdir(exist_ok=True)
    for modality, name in RESIDUAL_PRIORS.items():
        if args.only is None or name in args.only:
            size = train_residual(modality, name, args.n, args.rounds, args.data)
            print(f"{name}.prior: {size} bytes", flush=True)
    if args.only is None or "dna" in args.only:
        print(f"dna.prior: {train_dna(args.data)} bytes", flush=True)


if __name__ == "__main__":
    main()
