"""One codec stream over a whole file: the solid kinds.

A block-wise stream restarts its codec at every block (deflate and zstd-prev see the block
before's last 32 KiB, xz-prev its last 256 KiB), while whole-file gzip / zstd / xz keep their
state and window across the file: on 2 MiB of CSV, 11% more than xz -9. A solid stream is one
raw deflate, zstd or raw LZMA2 stream over the whole file, fed block by block:

    deflate-solid  raw deflate, level 9, memLevel 8: gzip -9's deflate, byte for byte
    zstd-solid     one zstd frame, no content size, checksum or dictionary id (window <= 16 MiB)
    xz-solid       one byte d, then raw LZMA2 with a 2^d-byte dictionary (12 <= d <= 26): the
                   file size rounded up to a power of two (at most 64 MiB) when it is known, the
                   preset's own dictionary when not (stdin); preset 6 and 9 then equal xz -9

The encoder is fed block by block with nothing flushed at a boundary (a sync flush after each
1 MiB cost deflate 160-180 B per boundary and LZMA2 up to 2,195 B on 2 MiB CSV). Since .ksz
version 4 the stream is written as one record for the whole file (ksynth.container: its raw
size and payload size, then the payload): the Candidate spools the payload while the blocks
arrive and frames it at the end, so the framing is 15 B + the size varints (27 B at 64 MiB;
version 2's one record per block added ~4 B per MiB, breaking the gzip bound past ~7 MiB).

Decoding keeps one decoder and writes its output as it comes, fed the payload in pieces (version
4: the container's Payload, STREAM_PIECE bytes each; version 2: one record at a time). Memory:
the codec's window, one input piece and one output chunk. The output may lag the input (the
encoder held input back) but never runs ahead of the sizes declared so far: a stream that does
is corrupt (no bombs: output is taken at most one byte beyond them); after the last piece the
stream must have ended exactly there.

For a one-block file a solid stream is its block's codec payload: the Compressor starts the
solid encoders only when a second block arrives (feeding them the first one then).
"""
from __future__ import annotations

import io
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
    """A whole solid .ksz stream (version 4) made beside the block-wise one: the payload is
    spooled (memory up to SPOOL_BYTES, then a temporary file) as the blocks arrive, and framed
    by finish(); open() reads the whole stream back."""

    def __init__(self, kind: int, level: int, block_size: int, size_hint: int | None):
        self.kind, self.block_size = kind, block_size
        self.encoder = Encoder(kind, level, size_hint)
        self.spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
        self.raw_size = self.payload_size = 0          # bytes read, bytes of payload so far
        self.size = 0                                  # bytes of the whole stream, after finish
        self._head = self._trailer = b""
        self.failed: str | None = None

    @property
    def name(self) -> str:
        return C.KIND_NAMES[self.kind]

    def _put(self, payload: bytes) -> None:
        self.spool.write(payload)
        self.payload_size += len(payload)

    def add(self, data: bytes) -> None:
        if self.failed:
            return
        try:
            self._put(self.encoder.compress(data))
        except encoder_errors() as e:
            self.failed = f"encoder: {e}"
            return
        self.raw_size += len(data)

    def finish(self, original_size: int, checksum: int) -> None:
        if self.failed:
            return
        try:
            self._put(self.encoder.finish())
        except encoder_errors() as e:
            self.failed = f"encoder: {e}"
            return
        if self.raw_size != original_size or not self.raw_size \
                or self.payload_size > C.solid_payload_limit(self.raw_size):
            self.failed = (f"{self.payload_size} payload bytes for {self.raw_size} bytes "
                           f"(of {original_size})")
            return
        self._head = C.header_bytes(self.block_size, version=C.VERSION_SOLID) + \
            C.solid_record_head(self.kind, self.raw_size, self.payload_size)
        self._trailer = C.trailer_bytes(original_size, 1, checksum)
        self.size = len(self._head) + self.payload_size + len(self._trailer)

    def open(self) -> "_Joined":
        """The whole stream, from its first byte (after finish)."""
        self.spool.seek(0)
        return _Joined(self._head, self.spool, self._trailer)

    def close(self) -> None:
        self.spool.close()


class _Joined:
    """head + the rest of `body` + tail as one readable, not seekable file."""

    def __init__(self, head: bytes, body, tail: bytes):
        self._parts = [io.BytesIO(head), body, io.BytesIO(tail)]

    def seekable(self) -> bool:
        return False

    def read(self, n: int = -1) -> bytes:
        out = bytearray()
        while self._parts and (n < 0 or len(out) < n):
            got = self._parts[0].read(-1 if n < 0 else n - len(out))
            if got:
                out += got
            else:
                self._parts.pop(0)
        return bytes(out)


# ---- decoding ---------------------------------------------------------------------------------
class Decoder:
    """One solid stream, piece by piece: feed(payload, room, write) writes what a piece of the
    payload (version 2: a record's) decodes to (at most `room` bytes: the sizes declared so far
    less the output so far); finish() after the last piece. CorruptInput for anything else."""

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
        """Decode one piece of payload into write(); returns the bytes written."""
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
        """After the last piece: the stream must have ended, with nothing left over."""
        if not self._eof or self._unused() or self._zout:
            raise CorruptInput(f"{self.name} stream is truncated: it does not end with the "
                               f"last block")
