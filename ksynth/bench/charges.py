"""What a row must be charged beyond its own bits: trained priors and the decoder (item 4 of issue 11).

- bits_charged = bits + (serialized size of the trained priors the method's decoder reads, in bits)
  / (chunks in that modality's split). A prior is shared by every chunk of the split, so each chunk
  pays an equal share (the whole split, not just the n sampled: the prior is built once for it).
  ksynth pays for the prior files its program's models and codebook read (dsl/models.py);
  `zstd_dict` for its dictionary; every other method trains nothing.
- decoder_bits = 8 x (gzip -9 size of the source modules a stand-alone decoder needs) / (chunks in
  the split), the way the KT leaderboard charges a decoder. ksynth: the program code, the models,
  the op table and the interpreter; lmic: its model and arithmetic coder. The byte codecs' decoders
  are system libraries and are not charged (reported as 0).
Synthetic items are not charged (no trained prior, and no split of a fixed file).
"""
from __future__ import annotations

import gzip
from functools import lru_cache
from pathlib import Path

from ksynth.bench import datasets

PACKAGE = Path(__file__).resolve().parents[1]
KSYNTH_DECODER = ("dsl/encode.py", "dsl/models.py", "dsl/textnet.py", "dsl/ops.py", "dsl/interp.py",
                  "dsl/program.py", "dsl/score.py", "errors.py")
DECODERS = {"ksynth": KSYNTH_DECODER, "lmic": ("baselines/lmic.py", "baselines/arith.py")}


@lru_cache(maxsize=None)
def split_chunks(modality: str, split: str, directory: str | None = None) -> int:
    """Number of 128-byte chunks of the modality in the split."""
    n = len(datasets.chunks(datasets.read_file(modality, directory)))
    return len(datasets.split_indices(n, split))


@lru_cache(maxsize=None)
def decoder_bytes(method: str) -> int:
    """gzip -9 size of the method's decoder modules (0: not charged)."""
    files = DECODERS.get(method.split("[")[0], ())
    return sum(len(gzip.compress((PACKAGE / f).read_bytes(), 9, mtime=0)) for f in files)


def program_priors(program_text: str | None) -> tuple[str, ...]:
    """The prior files a ksynth program's decoder reads: the program prior (forms.prior) when it
    starts with a modeled list, its models' tables and, for lpc, the codebook (charged whenever
    lpc appears: the predictor code reads the book's size)."""
    if not program_text:
        return ()
    from ksynth.dsl import models
    from ksynth.dsl.program import Program

    files = []
    lines = Program.parse(program_text).lines
    if lines[0].op == "modeled_list":         # the form symbol (and a form's rows) read forms.prior
        files.append(models.FORMS_FILE)
    for line in lines:
        if line.op == "modeled_list":
            m = models.MODELS[line.args[0]]
            if m.prior_file:
                files.append(m.prior_file)
        elif line.op == "lpc":
            files.append(models.BOOK_FILE)
    return tuple(dict.fromkeys(files))


def prior_bits(method: str, modality: str, program_text: str | None) -> int:
    """Serialized size, in bits, of the trained priors a row's decoder needs."""
    if method == "zstd_dict":
        from ksynth.baselines.trained import zstd_dictionary

        return 8 * len(zstd_dictionary(modality))
    if method != "ksynth":
        return 0
    from ksynth.dsl import models

    return 8 * sum(models.prior_bytes(f) for f in program_priors(program_text))


def charge(row: dict, directory: str | None = None) -> dict:
    """`bits_charged` and `decoder_bits` for a finished row (None where they do not apply)."""
    if row["modality"] not in datasets.NATURAL or row["bits"] is None:
        return {"bits_charged": None, "decoder_bits": None}
    n = split_chunks(row["modality"], row["split"], directory)
    prior = prior_bits(row["method"], row["modality"], row.get("program"))
    return {"bits_charged": row["bits"] + prior / n,
            "decoder_bits": 8 * decoder_bytes(row["method"]) / n}
