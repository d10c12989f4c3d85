"""The .ksz byte layout: the only module that knows it (docs/format.md documents it byte by byte).

    stream  = header  block*  END  trailer
    header  = MAGIC (4 bytes) | version (1) | flags (1) | block size exponent (1) | header check (1)
    block   = kind byte | [raw size: varint, only with the SHORT bit] | payload size: varint | payload
    END     = one byte 0xFF
    trailer = original size: varint | block count: varint | CRC32 of the original: 4 bytes LE

The block table is the sequence of block records: it is written as blocks are made, so a stream
can be written without knowing its length and read without seeking; `read_header()` walks it
(seeking past payloads where the source can seek). Version 5 is written for block-wise streams
(versions 1, 3 and 4 had the same layout and older program codes), version 4 for solid ones. A solid stream
is one deflate, zstd or LZMA2 stream over the whole file. Version 4 writes it as one record that
declares the file's size (the SHORT bit set, the raw size any size >= 1) and whose payload a
reader takes in pieces of STREAM_PIECE bytes (`Payload`), so neither side holds it whole and its
framing is a constant whatever the file's size. Versions 2 and 3 (still read) cut it into one
record per block, where the encoder stood at each boundary (~4 B of framing per block). Varints
are unsigned LEB128, canonical (no trailing zero groups), at most 10 bytes.

Readers never trust a field: each size is checked against the limits below before anything is
allocated or read, and every violation is a CorruptInput naming the field and the value.
"""
from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Iterator

from ksynth.errors import CorruptInput

MAGIC = b"KSZ\x1a"           # \x1a (^Z) stops text-mode readers, as in PNG's signature
VERSION = 7                  # the newest this module reads
VERSION_SOLID_BLOCKS = 2     # the solid kinds are new in version 2, one record per block (2 and 3)
VERSION_PROGRAMS = 7         # block-wise streams as version 7: program blocks in version 7's code
                             # (forms, line 0's op first, the ones' complement chain, the text
                             # model's byte GRU, line 0's op under a fixed row, the text model's
                             # variants); a program block of an older version is refused
VERSION_SOLID = 4            # solid streams are written as version 4: one record for the whole file
HEADER_SIZE = 8              # bytes
MIN_BLOCK_EXP = 10           # block sizes 1 KiB ..
MAX_BLOCK_EXP = 24           # .. 16 MiB: a reader's memory is a small multiple of this
MAX_PROGRAM_PAYLOAD = 8192   # bytes: decoding a program is quadratic in its length (one big integer)
SOLID_SLACK = 17 << 17       # bytes (2 MiB + 128 KiB) a version-2 solid record's payload may
                             # exceed the block size by: an encoder holds back at most a deflate /
                             # zstd block or an LZMA2 chunk (<= 2 MiB of input, sent uncompressed)
SOLID_GROWTH = 1024          # a version-4 solid payload holds at most raw / SOLID_GROWTH ..
SOLID_GROWTH_SLACK = 4096    # .. + this many bytes more than the file: incompressible input grows
                             # by deflate's stored blocks (5 B per 64 KiB), zstd's raw blocks (3 B
                             # per 128 KiB) or LZMA2's uncompressed chunks (3 B per 64 KiB), plus
                             # headers and xz-solid's dictionary byte
STREAM_PIECE = 1 << 18       # bytes: a version-4 solid payload is read in pieces of at most this
END = 0xFF
SHORT = 0x10                 # kind-byte bit: the raw size follows (else it is the block size)
VARINT_MAX_BYTES = 10

# block kinds (the low 4 bits of the kind byte); NEEDS_PREV: never block 0; SOLID: version 2,
# all the records of a stream or none
STORED, DEFLATE, ZSTD, XZ, PROGRAM, COPY, ZSTD_PREV, XZ_PREV, DEFLATE_SOLID, ZSTD_SOLID, XZ_SOLID \
    = range(11)
KIND_NAMES = ("stored", "deflate", "zstd", "xz", "program", "copy", "zstd-prev", "xz-prev",
              "deflate-solid", "zstd-solid", "xz-solid")
NEEDS_PREV = (COPY, ZSTD_PREV, XZ_PREV)
SOLID = (DEFLATE_SOLID, ZSTD_SOLID, XZ_SOLID)


@dataclass(frozen=True)
class BlockEntry:
    """One row of the block table. `offset`: the payload's byte offset in the stream."""

    kind: int
    raw_size: int            # bytes of original data this block restores
    payload_size: int        # bytes of payload after the record
    offset: int
    streamed: bool = False   # a version-4 solid record: Reader.blocks() gives a Payload, not bytes

    @property
    def kind_name(self) -> str:
        return KIND_NAMES[self.kind]


@dataclass(frozen=True)
class Header:
    """Everything about a stream except its payloads."""

    version: int
    flags: int
    block_size: int
    original_size: int
    checksum: int            # CRC32 of the original bytes
    blocks: tuple[BlockEntry, ...]
    stream_size: int         # bytes of the whole .ksz stream


# ---- writing ----------------------------------------------------------------------------------
def varint(n: int) -> bytes:
    if n < 0:
        raise ValueError(f"varint of a negative number {n}")
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def block_exponent(block_size: int) -> int:
    exp = block_size.bit_length() - 1
    if block_size != 1 << exp or not MIN_BLOCK_EXP <= exp <= MAX_BLOCK_EXP:
        raise ValueError(f"block size {block_size} is not a power of two in "
                         f"2^{MIN_BLOCK_EXP}..2^{MAX_BLOCK_EXP}")
    return exp


def header_bytes(block_size: int, flags: int = 0, version: int = VERSION_PROGRAMS) -> bytes:
    head = MAGIC + bytes([version, flags, block_exponent(block_size)])
    return head + bytes([zlib.crc32(head) & 0xFF])


def payload_limit(kind: int, raw_size: int, block_size: int) -> int:
    """The most payload bytes a record of `kind` restoring raw_size bytes may carry."""
    if kind == COPY:
        return 0
    if kind == PROGRAM:
        return MAX_PROGRAM_PAYLOAD
    if kind in SOLID:
        return block_size + SOLID_SLACK
    return raw_size


def solid_payload_limit(raw_size: int) -> int:
    """The most payload bytes a version-4 solid record restoring raw_size bytes may carry."""
    return raw_size + raw_size // SOLID_GROWTH + SOLID_GROWTH_SLACK


def solid_record_head(kind: int, raw_size: int, payload_size: int) -> bytes:
    """A version-4 solid record up to its payload: the whole file (raw_size >= 1 bytes) in one
    record, whose payload_size bytes follow."""
    if kind not in SOLID or raw_size < 1 or payload_size > solid_payload_limit(raw_size):
        raise ValueError(f"no solid record of kind {kind} has {payload_size} payload bytes for "
                         f"{raw_size} bytes")
    return bytes([kind | SHORT]) + varint(raw_size) + varint(payload_size)


def block_record(kind: int, raw_size: int, payload: bytes, block_size: int) -> bytes:
    """A block's record and payload. COPY blocks have no payload; a solid record's may be empty."""
    if not 1 <= raw_size <= block_size:
        raise ValueError(f"block of {raw_size} bytes; blocks hold 1..{block_size}")
    head = bytes([kind | (SHORT if raw_size != block_size else 0)])
    if raw_size != block_size:
        head += varint(raw_size)
    return head + varint(len(payload)) + payload


def trailer_bytes(original_size: int, n_blocks: int, checksum: int) -> bytes:
    return bytes([END]) + varint(original_size) + varint(n_blocks) + struct.pack("<I", checksum)


# ---- reading ----------------------------------------------------------------------------------
class _Source:
    """Exact reads from a file object or bytes, counting the offset; short reads are corruption."""

    def __init__(self, source):
        self.f: BinaryIO = io.BytesIO(source) if isinstance(source, (bytes, bytearray, memoryview)) \
            else source
        self.pos = 0
        try:
            self.seekable = self.f.seekable()
        except (AttributeError, OSError, ValueError):
            self.seekable = False

    def read(self, n: int, what: str) -> bytes:
        data = self.f.read(n) if n else b""
        if len(data) != n:
            raise CorruptInput(f"truncated stream: {what} at byte {self.pos} needs {n} bytes, "
                               f"{len(data)} left")
        self.pos += n
        return data

    def skip(self, n: int, what: str) -> None:
        if self.seekable:
            here = self.f.tell()
            end = self.f.seek(0, io.SEEK_END)
            if end - here < n:
                raise CorruptInput(f"truncated stream: {what} at byte {self.pos} needs {n} bytes, "
                                   f"{end - here} left")
            self.f.seek(here + n)
            self.pos += n
            return
        got = 0                                  # a pipe: read and drop, a piece at a time (a
        while got < n:                           # version-4 payload is the whole file's)
            data = self.f.read(min(n - got, STREAM_PIECE))
            if not data:
                raise CorruptInput(f"truncated stream: {what} at byte {self.pos} needs {n} "
                                   f"bytes, {got} left")
            got += len(data)
        self.pos += n

    def byte(self, what: str) -> int:
        return self.read(1, what)[0]

    def varint(self, what: str) -> int:
        n, shift = 0, 0
        for k in range(VARINT_MAX_BYTES):
            b = self.byte(what)
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                if b == 0 and k > 0:
                    raise CorruptInput(f"{what} at byte {self.pos - 1} is a non-canonical varint")
                return n
        raise CorruptInput(f"{what} at byte {self.pos} is a varint longer than {VARINT_MAX_BYTES} bytes")

    def at_eof(self) -> bool:
        return self.f.read(1) == b""


class Payload:
    """A version-4 solid record's payload: iterating reads it from the source in pieces of at most
    STREAM_PIECE bytes, as they are taken (a short source is CorruptInput at the piece that
    runs out). What is left untaken is skipped when the Reader moves on."""

    def __init__(self, src: _Source, size: int, what: str):
        self._src, self.left, self._what = src, size, what

    def __iter__(self) -> Iterator[bytes]:
        while self.left:
            n = min(STREAM_PIECE, self.left)
            piece = self._src.read(n, self._what)
            self.left -= n
            yield piece

    def skip_rest(self) -> None:
        left, self.left = self.left, 0
        self._src.skip(left, self._what)


class Reader:
    """Streams a .ksz: `header` fields first, then `blocks()` yields (entry, payload) one block at a
    time (payload: bytes, or a Payload of pieces when entry.streamed), then `trailer` holds
    (original size, block count, checksum), all checked for consistency."""

    def __init__(self, source):
        self._src = _Source(source)
        head = self._src.read(HEADER_SIZE, "header")
        if head[:4] != MAGIC:
            raise CorruptInput(f"not a .ksz stream (magic {head[:4]!r}, expected {MAGIC!r})")
        if not 1 <= head[4] <= VERSION:
            raise CorruptInput(f"unsupported .ksz version {head[4]} (this reader knows 1..{VERSION})")
        if zlib.crc32(head[:7]) & 0xFF != head[7]:
            raise CorruptInput("header check byte does not match: the header is damaged")
        if head[5] != 0:
            raise CorruptInput(f"unknown flags 0x{head[5]:02x} (version {head[4]} defines none)")
        if not MIN_BLOCK_EXP <= head[6] <= MAX_BLOCK_EXP:
            raise CorruptInput(f"block size exponent {head[6]} is outside "
                               f"{MIN_BLOCK_EXP}..{MAX_BLOCK_EXP}")
        self.version, self.flags, self.block_size = head[4], head[5], 1 << head[6]
        self.trailer: tuple[int, int, int] | None = None

    def entries(self, with_payloads: bool) -> Iterator[tuple[BlockEntry, bytes | None]]:
        src, n, total, first = self._src, 0, 0, None
        while True:
            kind_byte = src.byte(f"block {n} kind")
            if kind_byte == END:
                break
            kind, short = kind_byte & 0x0F, kind_byte & SHORT
            if kind_byte & ~(0x0F | SHORT) or kind >= len(KIND_NAMES):
                raise CorruptInput(f"block {n} has an unknown kind byte 0x{kind_byte:02x}")
            if kind in SOLID and self.version < VERSION_SOLID_BLOCKS:
                raise CorruptInput(f"block {n} is {KIND_NAMES[kind]}, a kind of version "
                                   f"{VERSION_SOLID_BLOCKS}; the header says version {self.version}")
            if kind == PROGRAM and self.version < VERSION_PROGRAMS:
                raise CorruptInput(f"block {n} is a program in the program code of .ksz version "
                                   f"{self.version}, which this ksynth no longer decodes (the "
                                   f"code changed in version {VERSION_PROGRAMS})")
            first = kind if first is None else first
            if (kind in SOLID or first in SOLID) and kind != first:
                raise CorruptInput(
                    f"block {n} ({KIND_NAMES[kind]}) is inside the {KIND_NAMES[first]} stream of "
                    f"block 0: a solid stream's records are all of its kind" if first in SOLID else
                    f"block {n} ({KIND_NAMES[kind]}) does not follow a record of its stream: a "
                    f"solid stream starts at block 0 (here {KIND_NAMES[first]})")
            if kind in SOLID and self.version >= VERSION_SOLID:
                total = yield from self._whole(n, kind, short, with_payloads)
                n = 1
                continue
            raw = self.block_size
            if short:
                raw = src.varint(f"block {n} raw size")
                if not 1 <= raw < self.block_size:
                    raise CorruptInput(f"block {n} declares {raw} bytes; a short block holds "
                                       f"1..{self.block_size - 1}")
            size = src.varint(f"block {n} payload size")
            if size > payload_limit(kind, raw, self.block_size) or (kind in NEEDS_PREV and n == 0) \
                    or (kind != COPY and kind not in SOLID and size == 0):
                raise CorruptInput(f"block {n} ({KIND_NAMES[kind]}) declares a payload of {size} "
                                   f"bytes for {raw} bytes of data")
            entry = BlockEntry(kind, raw, size, src.pos)
            if with_payloads:
                yield entry, src.read(size, f"block {n} payload")
            else:
                src.skip(size, f"block {n} payload")
                yield entry, None
            n, total = n + 1, total + raw
        original = src.varint("original size")
        count = src.varint("block count")
        checksum = struct.unpack("<I", src.read(4, "checksum"))[0]
        if original != total or count != n:
            raise CorruptInput(f"trailer says {original} bytes in {count} blocks; the blocks hold "
                               f"{total} bytes in {n}")
        if not src.at_eof():
            raise CorruptInput(f"unexpected bytes after the end of the stream at byte {src.pos + 4}")
        self.trailer = (original, count, checksum)

    def _whole(self, n: int, kind: int, short: int, with_payloads: bool):
        """A version-4 solid record: block 0 and the only one, its raw size always declared.
        Yields its (entry, payload) and returns its raw size."""
        src, name = self._src, KIND_NAMES[kind]
        if n:
            raise CorruptInput(f"block {n} is a second {name} record: a version-{self.version} "
                               f"solid stream is one record")
        if not short:
            raise CorruptInput(f"block 0 ({name}) does not declare its size: a version-"
                               f"{self.version} solid record always does (kind byte 0x"
                               f"{kind | SHORT:02x})")
        raw = src.varint("block 0 raw size")
        if raw < 1:
            raise CorruptInput(f"block 0 ({name}) declares 0 bytes; a solid record holds at least 1")
        size = src.varint("block 0 payload size")
        if size > solid_payload_limit(raw):
            raise CorruptInput(f"block 0 ({name}) declares a payload of {size} bytes for {raw} "
                               f"bytes of data (at most {solid_payload_limit(raw)})")
        entry = BlockEntry(kind, raw, size, src.pos, streamed=True)
        if with_payloads:
            payload = Payload(src, size, "block 0 payload")
            yield entry, payload
            payload.skip_rest()
        else:
            src.skip(size, "block 0 payload")
            yield entry, None
        return raw

    def blocks(self) -> Iterator[tuple[BlockEntry, bytes | Payload]]:
        yield from self.entries(with_payloads=True)

    @property
    def stream_size(self) -> int:
        """Bytes read so far (the whole stream once `blocks()` is exhausted)."""
        return self._src.pos


def read_header(source) -> Header:
    """The header, block table and trailer of a .ksz stream (bytes or a binary file object).
    Payloads are skipped (seeked past when the source can seek)."""
    reader = Reader(source)
    entries = tuple(entry for entry, _ in reader.entries(with_payloads=False))
    original, _, checksum = reader.trailer
    return Header(reader.version, reader.flags, reader.block_size, original, checksum, entries,
                  reader.stream_size)
