"""General-purpose compressors as per-sequence baselines: each item compressed alone, container
headers and checksums included (that is what it costs to send one item by itself).

    gzip    gzip.compress level 9, mtime=0 (18 bytes of header + trailer)
    zlib    zlib.compress level 9 (2-byte header, 4-byte Adler-32)
    bz2     bz2.compress level 9
    xz      lzma preset 9 | PRESET_EXTREME, FORMAT_XZ (CRC64; ~60 bytes of container per item);
            the dictionary is sized to the item (a power of two >= 4 KiB) instead of the
            preset's 64 MiB: no match can reach further than the item anyway, the output has
            the same length (checked on KT chunks and in the tests), and it avoids building
            64 MiB match-finder tables per call (~0.2 s each, 1000x slower)
    xz_raw  the same LZMA2 filter in FORMAT_RAW: no container, no check, no size field (LZMA2
            ends with its own end marker). On 128-byte items the .xz container alone is about half
            the input, so this variant shows what the LZMA2 coder itself achieves.
    zstd    zstandard level 22 (frame with content size; no checksum, the library default)
    brotli  quality 11, window 22 (the library defaults; its built-in static dictionary is part of
            the format and helps on English text)

`bits(data)` = 8 * len(encode(data)) for all of them: they are byte-oriented formats.
Decoding errors of any library become CorruptInput.
"""
from __future__ import annotations

import bz2
import gzip
import lzma
import zlib

from ksynth.errors import CorruptInput

XZ_PRESET = 9 | lzma.PRESET_EXTREME
_XZ_DECODE_FILTERS = [{"id": lzma.FILTER_LZMA2, "preset": XZ_PRESET}]   # 64 MiB: fits any item


def xz_filters(n_bytes: int) -> list[dict]:
    """LZMA2 at XZ_PRESET with a dictionary just large enough for an n_bytes item."""
    dict_size = max(4096, 1 << max(n_bytes - 1, 1).bit_length())
    return [{"id": lzma.FILTER_LZMA2, "preset": XZ_PRESET, "dict_size": min(dict_size, 1 << 26)}]


class Codec:
    """A byte-oriented compressor baseline (subclasses set `name`, `_compress`, `_decompress`)."""

    name = "?"
    errors: tuple[type[BaseException], ...] = ()   # library errors that mean a corrupt blob

    def _compress(self, data: bytes) -> bytes:
        raise NotImplementedError

    def _decompress(self, blob: bytes) -> bytes:
        raise NotImplementedError

    def encode(self, data: bytes) -> bytes:
        return self._compress(bytes(data))

    def decode(self, blob: bytes) -> bytes:
        if not blob:                          # every encode() writes at least one byte
            raise CorruptInput(f"{self.name} blob is empty")
        try:
            return self._decompress(bytes(blob))
        except (*self.errors, EOFError, ValueError) as e:
            raise CorruptInput(f"{self.name} blob does not decode: {e}") from None

    def bits(self, data: bytes) -> int:
        return 8 * len(self.encode(data))

    def __repr__(self) -> str:
        return f"<baseline {self.name}>"


def _one_stream(decoder, blob: bytes, what: str) -> bytes:
    """Decode with a streaming `decoder`, demanding exactly one complete stream and nothing after it."""
    out = decoder.decompress(blob)
    if not decoder.eof or decoder.unused_data:
        raise EOFError(f"incomplete or trailing {what}")
    return out


class Gzip(Codec):
    name = "gzip"
    errors = (zlib.error,)

    def _compress(self, data):
        return gzip.compress(data, compresslevel=9, mtime=0)

    def _decompress(self, blob):
        return _one_stream(zlib.decompressobj(wbits=31), blob, "gzip member")   # wbits=31: gzip framing


class Zlib(Codec):
    name = "zlib"
    errors = (zlib.error,)

    def _compress(self, data):
        return zlib.compress(data, 9)

    def _decompress(self, blob):
        return _one_stream(zlib.decompressobj(), blob, "zlib stream")


class Bz2(Codec):
    name = "bz2"
    errors = (OSError,)

    def _compress(self, data):
        return bz2.compress(data, 9)

    def _decompress(self, blob):
        return _one_stream(bz2.BZ2Decompressor(), blob, "bz2 stream")


class Xz(Codec):
    name = "xz"
    errors = (lzma.LZMAError,)

    def _compress(self, data):
        return lzma.compress(data, format=lzma.FORMAT_XZ, filters=xz_filters(len(data)))

    def _decompress(self, blob):
        return lzma.decompress(blob, format=lzma.FORMAT_XZ)


class XzRaw(Codec):
    name = "xz_raw"
    errors = (lzma.LZMAError,)

    def _compress(self, data):
        return lzma.compress(data, format=lzma.FORMAT_RAW, filters=xz_filters(len(data)))

    def _decompress(self, blob):
        decoder = lzma.LZMADecompressor(format=lzma.FORMAT_RAW, filters=_XZ_DECODE_FILTERS)
        return _one_stream(decoder, blob, "LZMA2 stream")


class Zstd(Codec):
    name = "zstd"

    def _compress(self, data):
        import zstandard                      # C extension: imported on first use
        return zstandard.ZstdCompressor(level=22, write_content_size=True).compress(data)

    @property
    def errors(self):
        import zstandard
        return (zstandard.ZstdError,)

    def _decompress(self, blob):
        import zstandard
        return _one_stream(zstandard.ZstdDecompressor().decompressobj(), blob, "zstd frame")


class Brotli(Codec):
    name = "brotli"

    def _compress(self, data):
        import brotli                         # C extension: imported on first use
        return brotli.compress(data, quality=11)

    @property
    def errors(self):
        import brotli
        return (brotli.error,)

    def _decompress(self, blob):
        import brotli
        return brotli.decompress(blob)
