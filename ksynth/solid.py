"""One codec stream over a whole file, cut at the block boundaries: the solid kinds.

A block-wise stream restarts its codec at every block (deflate and zstd-prev see the block
before's last 32 KiB, xz-prev its last 256 KiB), while whole-file gzip / zstd / xz keep their
state and window across the file: on 2 MiB of CSV, 11% more than xz -9. A solid stream is one
raw deflate, zstd or raw LZMA2 stream over the whole file, fed block by block:

    deflate-solid  raw deflate, level 9, memLevel 8: gzip -9's deflate, byte for byte
    zstd-solid     one zstd frame, no content size, checksum or dictionary id (window <= 16 MiB)
    xz-solid       one byte d, then raw LZMA2 with a 2^d-byte dictionary (12 <= d <= 26): the
                   file size rounded up to a power of two (at most 64 MiB) when it is known, the
                   preset's own dictionary when not (stdin); preset 6 and 9 then equal xz -9

Record k's payload is what the encoder emitted while it read block k, and the last record adds
the encoder's end. Nothing is flushed at a boundary: a sync flush after each 1 MiB cost deflate
160-180 B per boundary (a deflate block cut short: a second Huffman table) and LZMA2 up to
2,195 B (2 MiB CSV; -101..+169 B elsewhere), zstd nothing. So a record's payload may hold the
end of earlier blocks, and may be empty.

Decoding keeps one decoder across the records and writes its output as it comes (memory: the
codec's window and one output chunk). After record k the output may lag the blocks read so far
(the encoder held input back) but never runs ahead of them: a stream that does is corrupt (no
bombs: output is taken at most one byte beyond what the records so far declare); after the last
record the stream must have ended exactly there.

For a one-block file a solid stream is its block's codec payload: the Compressor starts the
solid encoders only when a second block arrives (feeding them the first one then).
"""
from __future__ import annotations

import lzma
import tempfile
import zlib
from typing import Callable

from ksynth import container as C
from ksynth.errors import CorruptInput, KsynthError

OUT_CHUNK = 1 << 18              # bytes of output taken from a decoder at a time
IN_CHUNK = 1 << 18               # .. and of payload given to it (copies stay small beside the window)
ZSTD_MAX_WINDOW = 1 << 24        # bytes: a zstd-solid frame's window (levels <= 19 use <= 8 MiB)
ZSTD_PIECE = 128                 # bytes fed to zstd at a time: its decompressobj has no output
                                 # cap; a block is >= 4 bytes, <= 128 KiB out: <= 4.2 MiB a piece
XZ_DICT_EXP = (12, 26)           # the xz-solid dictionary: 4 KiB .. 64 MiB
SPOOL_BYTES = 4 << 20            # a candidate stream is held in memory up to this, then on disk
_DEFLATE_MEM_LEVEL = 8           # gzip's (9 came out larger on CSV)


def _zstd():
    import zstandard

    return zstandard


def xz_dict_exponent(preset: int, size_hint: int | None) -> int:
    """d of the xz-solid dictionary 2^d: the input's size rounded up when known, else the preset's
    own dictionary (xz -6: 8 MiB, -9: 64 MiB), within XZ_DICT_EXP."""
    lo, hi = XZ_DICT_EXP
    if size_hint:
        return min(hi, max(lo, (size_hint - 1).bit_length()))
    from ksynth import lzma2

    return min(hi, max(lo, (lzma2.preset_dict_size(preset) - 1).bit_length()))


# ---- encoding ---------------------------------------------------------------------------------
class Encoder:
    """One solid codec stream: compress(block) -> what the encoder emitted meanwhile (maybe
    nothing), finish() -> the rest and the stream's end."""

    def __init__(self, kind: int, level: int, size_hint: int | None = None):
        self.kind = kind
        self._head = b""
        if kind == C.DEFLATE_SOLID:
            self._enc = zlib.compressobj(level, zlib.DEFLATED, -15, _DEFLATE_MEM_LEVEL)
        elif kind == C.ZSTD_SOLID:
            # no pledged size: a file that changes while it is read must not fail the frame
            self._enc = _zstd().ZstdCompressor(level=level, write_content_size=False,
                                               write_checksum=False,
                                               write_dict_id=False).compressobj()
        elif kind == C.XZ_SOLID:
            from ksynth import lzma2

            d = xz_dict_exponent(level & ~lzma.PRESET_EXTREME, size_hint)
            self._enc = lzma2.Encoder(level, 1 << d)
            self._head = bytes([d])
        else:
            raise ValueError(f"not a solid kind: {kind}")

    def compress(self, data: bytes) -> bytes:
        out, self._head = self._head + self._enc.compress(data), b""
        return out

    def finish(self) -> bytes:
        return self._head + (self._enc.finish() if self.kind == C.XZ_SOLID else self._enc.flush())


def encoder_errors() -> tuple[type[BaseException], ...]:
    """What an encoder raises when its stream cannot be made (the candidate is then dropped)."""
    return (zlib.error, ValueError, OSError, MemoryError, _zstd().ZstdError)


class Candidate:
    """A whole solid .ksz stream made beside the block-wise one, spooled (memory up to
    SPOOL_BYTES, then a temporary file). A record is written when the next block arrives: the
    last one also carries the encoder's end."""

    def __init__(self, kind: int, level: int, block_size: int, size_hint: int | None):
        self.kind, self.block_size = kind, block_size
        self.encoder = Encoder(kind, level, size_hint)
        self.spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
        self.size = self._put(C.header_bytes(block_size, version=C.VERSION_SOLID))
        self.records: list[tuple[int, int]] = []          # (raw size, payload size)
        self._pending: tuple[int, bytes] | None = None
        self.failed: str | None = None

    @property
    def name(self) -> str:
        return C.KIND_NAMES[self.kind]

    def _put(self, b: bytes) -> int:
        self.spool.write(b)
        return len(b)

    def _record(self, raw: int, payload: bytes) -> None:
        if len(payload) > C.payload_limit(self.kind, raw, self.block_size):
            self.failed = f"record {len(self.records)} needs {len(payload)} payload bytes"
            return
        self.size += self._put(C.block_record(self.kind, raw, payload, self.block_size))
        self.records.append((raw, len(payload)))

    def add(self, data: bytes) -> None:
        if self.failed:
            return
        try:
            out = self.encoder.compress(data)
        except encoder_errors() as e:
            self.failed = f"encoder: {e}"
            return
        if self._pending is not None:
            self._record(*self._pending)
        self._pending = (len(data), out)

    def finish(self, original_size: int, checksum: int) -> None:
        if self.failed:
            return
        try:
            self._pending = (self._pending[0], self._pending[1] + self.encoder.finish())
        except encoder_errors() as e:
            self.failed = f"encoder: {e}"
            return
        self._record(*self._pending)
        self.size += self._put(C.trailer_bytes(original_size, len(self.records), checksum))

    def close(self) -> None:
        self.spool.close()


# ---- decoding ---------------------------------------------------------------------------------
class Decoder:
    """One solid stream, record by record: feed(payload, room, write) writes what the payload
    decodes to (at most `room` bytes: the records' declared sizes so far less the output so
    far); finish() after the last record. CorruptInput for anything else."""

    def __init__(self, kind: int):
        self.kind, self.name = kind, C.KIND_NAMES[kind]
        self._first = True
        self._tail = b""                   # deflate: input zlib has not used yet
        self._zin, self._zpos, self._zout = b"", 0, bytearray()     # zstd: input and output held
        if kind == C.DEFLATE_SOLID:
            self._dec = zlib.decompressobj(-15)
        elif kind == C.ZSTD_SOLID:
            self._dec = _zstd().ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW).decompressobj()
        elif kind == C.XZ_SOLID:
            self._dec = None               # made when block 0 names the dictionary
        else:
            raise ValueError(f"not a solid kind: {kind}")

    def _open_xz(self, payload: bytes) -> bytes:
        from ksynth import lzma2

        if not lzma2.available:
            raise KsynthError("this stream is xz-solid, which needs liblzma; it could not be "
                              "loaded")
        if not payload:
            raise CorruptInput("xz-solid block 0 has no dictionary byte")
        lo, hi = XZ_DICT_EXP
        if not lo <= payload[0] <= hi:
            raise CorruptInput(f"xz-solid dictionary exponent {payload[0]} is outside {lo}..{hi}")
        self._dec = lzma2.Decoder(1 << payload[0])
        return payload[1:]

    def _step(self, data: bytes, want: int) -> bytes:
        """Up to `want` bytes of output, using `data` and any input held back; fewer only when
        all the input is used or the stream has ended."""
        if self.kind == C.DEFLATE_SOLID:
            out = self._dec.decompress(self._tail + data, want)
            self._tail = self._dec.unconsumed_tail
            return out
        if self.kind == C.XZ_SOLID:
            return self._dec.decompress(data, want)
        if data:
            self._zin, self._zpos = self._zin[self._zpos:] + data, 0
        while len(self._zout) < want and self._zpos < len(self._zin) and not self._dec.eof:
            self._zout += self._dec.decompress(self._zin[self._zpos:self._zpos + ZSTD_PIECE])
            self._zpos += ZSTD_PIECE
        out = bytes(self._zout[:want])
        del self._zout[:want]
        return out

    @property
    def _eof(self) -> bool:
        return bool(self._dec is not None and self._dec.eof)

    def _unused(self) -> bytes:
        if self.kind == C.ZSTD_SOLID:
            return self._dec.unused_data + self._zin[self._zpos:] if self._dec.eof else b""
        return self._dec.unused_data + self._tail if self._eof else b""

    def feed(self, payload: bytes, room: int, write: Callable[[bytes], object]) -> int:
        """Decode one record's payload into write(); returns the bytes written."""
        try:
            if self._first and self.kind == C.XZ_SOLID:
                payload = self._open_xz(payload)
            self._first = False
            n = 0
            for start in range(0, len(payload), IN_CHUNK):
                data = payload[start:start + IN_CHUNK]
                while True:
                    want = min(OUT_CHUNK, room - n) + 1      # a byte past the room: runs ahead
                    out = self._step(data, want)
                    data = b""
                    if len(out) > room - n:
                        raise CorruptInput(f"{self.name} stream decodes to more bytes than the "
                                           f"blocks so far declare")
                    if out:
                        write(out)
                        n += len(out)
                    if self._unused():
                        raise CorruptInput(f"{self.name} stream has bytes after its end")
                    if len(out) < want:
                        break
            return n
        except (zlib.error, ValueError, MemoryError) as e:
            raise CorruptInput(f"{self.name} payload does not decode: {e}") from None
        except Exception as e:                   # zstandard.ZstdError (imported lazily)
            if type(e).__name__ != "ZstdError":
                raise
            raise CorruptInput(f"{self.name} payload does not decode: {e}") from None

    def finish(self) -> None:
        """After the last record: the stream must have ended, with nothing left over."""
        if not self._eof or self._unused() or self._zout:
            raise CorruptInput(f"{self.name} stream is truncated: it does not end with the "
                               f"last block")
