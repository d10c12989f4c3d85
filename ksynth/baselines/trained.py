"""Two more per-item baselines: PPMd (a context-model compressor) and zstd with a dictionary
trained on the dev split of the item's modality.

    ppmd       pyppmd, PPMd variant I (PPMd8, with its end mark), order 6, 16 MiB model memory;
               the blob is the raw PPMd stream (no container, so it is what the coder achieves;
               decode accepts only the canonical stream of its output, the stream's only check)
    zstd_dict  zstandard level 22 with a ZSTD_DICT_BYTES dictionary trained (zstandard's COVER
               trainer) on every dev chunk of the item's modality; no dictionary id, no checksum.
               The dictionary is a trained prior: bench/charges.py charges its size, shared by
               the chunks of the split, in `bits_charged`. Synthetic items get a dictionary
               trained on dev draws of the sampler.
Both import their library lazily. `bits` = 8 x the blob's length.
"""
from __future__ import annotations

from functools import lru_cache

from ksynth.errors import CorruptInput

PPMD_ORDER = 6
PPMD_MEMORY = 16 << 20            # bytes
ZSTD_LEVEL = 22
ZSTD_DICT_BYTES = 8192            # the dictionary's size, in bytes (the charged prior)
SYNTHETIC_DEV_DRAWS = 2000


class Ppmd:
    name = "ppmd"

    def encode(self, data: bytes) -> bytes:
        import pyppmd

        return pyppmd.compress(bytes(data), max_order=PPMD_ORDER, mem_size=PPMD_MEMORY, variant="I")

    def decode(self, blob: bytes) -> bytes:
        import pyppmd

        if not blob:
            raise CorruptInput("ppmd blob is empty")
        try:
            data = bytes(pyppmd.decompress(bytes(blob), max_order=PPMD_ORDER, mem_size=PPMD_MEMORY,
                                           variant="I"))
        except Exception as e:            # the library raises assorted errors on garbage
            raise CorruptInput(f"ppmd blob is corrupt: {e}") from None
        # the raw stream has no check: a truncated or extended blob can decode to something, so
        # only the canonical stream of what it decodes to is accepted
        if self.encode(data) != bytes(blob):
            raise CorruptInput("ppmd blob is corrupt (not the stream of what it decodes to)")
        return data

    def bits(self, data: bytes) -> int:
        return 8 * len(self.encode(data))


@lru_cache(maxsize=None)
def zstd_dictionary(modality: str) -> bytes:
    """The dictionary for a modality, trained on its dev split (deterministic for fixed data)."""
    import zstandard

    from ksynth.bench import datasets

    if modality == "synthetic":
        samples = [i.data for i in datasets.load("synthetic", "dev", SYNTHETIC_DEV_DRAWS)]
    else:
        samples = [i.data for i in datasets.load(modality, "dev")]
    return zstandard.train_dictionary(ZSTD_DICT_BYTES, samples, level=ZSTD_LEVEL, threads=1).as_bytes()


class ZstdDict:
    """zstd with a trained dictionary; `for_item` binds the item's modality (harness hook)."""

    name = "zstd_dict"

    def __init__(self, modality: str | None = None):
        self.modality = modality

    def for_item(self, item) -> "ZstdDict":
        return ZstdDict(item.modality)

    def _dict(self):
        import zstandard

        if self.modality is None:
            raise CorruptInput("zstd_dict needs the item's modality (use for_item)")
        return zstandard.ZstdCompressionDict(zstd_dictionary(self.modality))

    def encode(self, data: bytes) -> bytes:
        import zstandard

        c = zstandard.ZstdCompressor(level=ZSTD_LEVEL, dict_data=self._dict(), write_checksum=False,
                                     write_dict_id=False)
        return c.compress(bytes(data))

    def decode(self, blob: bytes) -> bytes:
        import zstandard

        try:
            return zstandard.ZstdDecompressor(dict_data=self._dict()).decompress(bytes(blob))
        except zstandard.ZstdError as e:
            raise CorruptInput(f"zstd_dict blob is corrupt: {e}") from None

    def bits(self, data: bytes) -> int:
        return 8 * len(self.encode(data))
