"""The `predict` strategy alone on dev chunks: the measurement behind each issue-11 commit.

    python experiments/dev_predict.py [--n 100] [--seed 1] [--modalities audio_8bit,dna,...]

For each modality: the real rate (exact program bits / input bits, priors NOT charged), seconds
per chunk, and how often each program shape won. Every program is re-run by the interpreter.
Dev split only (chunk index < half): tune here, report on test with `ksynth bench`.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ksynth.bench import datasets  # noqa: E402
from ksynth.config import SearchConfig  # noqa: E402
from ksynth.dsl.interp import run  # noqa: E402
from ksynth.search.predict import PredictStrategy  # noqa: E402

NATURAL = ("text", "dna", "audio_8bit", "audio_16bit", "audio_mfcc")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--modalities", default=",".join(NATURAL))
    args = ap.parse_args(argv)
    cfg = SearchConfig(objective="bits")
    for modality in args.modalities.split(","):
        items = datasets.load(modality, "dev", args.n, seed=args.seed)
        bits, shapes, t0 = 0, Counter(), time.perf_counter()
        for it in items:
            res = PredictStrategy().search(list(it.data), cfg, deadline=float("inf"))
            if run(res.program) != list(it.data):
                raise SystemExit(f"{modality} #{it.index}: the program does not reproduce the chunk")
            bits += res.bits
            shapes[" > ".join(line.op for line in res.program.lines)] += 1
        rate = bits / (8 * sum(len(it.data) for it in items))
        print(f"{modality}: rate {rate:.4f} (uncharged), {(time.perf_counter() - t0) / len(items):.3f} "
              f"s/chunk, {dict(shapes)}", flush=True)


if __name__ == "__main__":
    main()
