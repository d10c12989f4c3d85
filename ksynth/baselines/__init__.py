"""Baselines: every way ksynth's compression is compared, one object per method.

Each baseline has `name`, `encode(data) -> bytes` (a self-contained blob for ONE item: it decodes
with no other state), `decode(blob) -> bytes` (CorruptInput on a bad blob) and `bits(data) -> int`,
the item's real encoded size: 8 * len(blob) for the byte formats, the exact bitstream length for
the arithmetic coder (`lmic`) and the program code (`literal`).

    gzip zlib bz2 xz xz_raw zstd brotli   general-purpose compressors, per item (codecs.py)
    literal                               the set_list program; also `kt_bits(data)` (literal.py)
    lmic                                  adaptive context model + arithmetic coding (lmic.py)
    ppmd zstd_dict                        PPMd order 6; zstd with a dictionary trained on dev (trained.py)

Per-item sizes are not the official KT gzip number: that one gzips a whole *set* of sequences at
once (latin-1 -> UTF-8 quirk). Set-level ("pooled") functions live in ksynth.bench.metrics and are
listed here for discovery in POOLED: name -> function(list of sequences) -> bits.

    gzip_kt       metrics.fallback_bits(seqs): the official pooled gzip stream
    gzip_kt_raw   metrics.fallback_bits(seqs, raw=True): the same without the UTF-8 step

    >>> from ksynth.baselines import get_baseline
    >>> b = get_baseline("lmic"); b.decode(b.encode(b"abc")) == b"abc"
    True
"""
from __future__ import annotations

from typing import Callable, Protocol

from ksynth.errors import UsageError


class Baseline(Protocol):
    name: str

    def encode(self, data: bytes) -> bytes: ...

    def decode(self, blob: bytes) -> bytes: ...

    def bits(self, data: bytes) -> int: ...


def _build() -> dict[str, Baseline]:
    from ksynth.baselines.codecs import Brotli, Bz2, Gzip, Xz, XzRaw, Zlib, Zstd
    from ksynth.baselines.literal import Literal
    from ksynth.baselines.lmic import LMiC
    from ksynth.baselines.trained import Ppmd, ZstdDict
    items = [Gzip(), Zlib(), Bz2(), Xz(), XzRaw(), Zstd(), Brotli(), Literal(), LMiC(), Ppmd(), ZstdDict()]
    return {b.name: b for b in items}


# name -> baseline object. Baselines hold no per-item state, so one shared instance each is safe
# (LMiC builds a fresh predictor for every item).
BASELINES: dict[str, Baseline] = _build()


def get_baseline(name: str) -> Baseline:
    """The baseline called `name`; UsageError (with the nearest name) for an unknown one."""
    if name not in BASELINES:
        import difflib
        near = difflib.get_close_matches(name, BASELINES, n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        raise UsageError(f"unknown baseline {name!r}{hint}; choose from {', '.join(BASELINES)}")
    return BASELINES[name]


def _pooled_gzip_kt(seqs) -> int:
    from ksynth.bench.metrics import fallback_bits
    return fallback_bits(seqs)


def _pooled_gzip_kt_raw(seqs) -> int:
    from ksynth.bench.metrics import fallback_bits
    return fallback_bits(seqs, raw=True)


POOLED: dict[str, Callable[[list], int]] = {
    "gzip_kt": _pooled_gzip_kt,
    "gzip_kt_raw": _pooled_gzip_kt_raw,
}

__all__ = ["BASELINES", "POOLED", "Baseline", "get_baseline"]
