"""The Python API: whole files in, .ksz streams out, and back.

    blob = ksynth.compress(data, level=6)                 # bytes -> bytes
    data = ksynth.decompress(blob, max_output_size=None)  # bytes -> bytes
    result = Compressor(CompressConfig(level=9)).compress(data)   # Result: blob, blocks, bits
    summary = Compressor().compress_stream(reader, writer)        # one block in memory at a time
    Decompressor(max_output_size=1 << 30).decompress_stream(reader, writer)

The input is cut into blocks of `block_size` bytes; each gets the cheapest verified
representation of ksynth.blocks (a program, a copy of the previous block, a codec payload or
the bytes themselves), and ksynth.container writes them. Blocks are chosen through
ksynth.parallel: serially by default, on `workers` Ray workers when asked and when the job pays
for Ray's start-up: the first block is chosen here and timed, and that time x the blocks the
input holds (`size_hint`, known for files and bytes; else the first batch) goes to the parallel
rule. The choice of a block depends only on the block and the one before it, so the output is
identical either way.

From the second block on, the level's solid streams (ksynth.solid: one deflate, zstd or LZMA2
stream over the whole file, written as one record) are made beside the block-wise stream, in
block order in this process; each is spooled, and the smallest whole stream is written (a solid
one only after it has been decoded and checked against the input's size and CRC32). A one-block
input makes none.
"""
from __future__ import annotations

import io
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from typing import BinaryIO, Callable

from ksynth import container as C, solid
from ksynth.blocks import LEVELS, Choice, Plan, choose, decode_block, workspace
from ksynth.dsl.program import Program
from ksynth.errors import CorruptInput, KsynthError, UsageError

DEFAULT_LEVEL = 6
DEFAULT_BLOCK_SIZE = 1 << 20     # bytes; decoding holds a small multiple of it
BLOCKS_PER_WORKER = 2            # blocks read ahead per worker when parallel
COPY_CHUNK = 1 << 20             # bytes per read when a spooled stream is copied out


@dataclass(frozen=True)
class CompressConfig:
    level: int = DEFAULT_LEVEL                   # 1 (fast) .. 9 (smallest); see blocks.LEVELS
    block_size: int = DEFAULT_BLOCK_SIZE         # a power of two, 1 KiB .. 16 MiB
    workers: int = 1                             # > 1: blocks chosen on Ray workers
    search_seconds: float | None = None          # per-target search budget (None: the level's)

    def __post_init__(self):
        if self.level not in LEVELS:
            raise UsageError(f"level must be 1..9, got {self.level!r}")
        try:
            C.block_exponent(self.block_size)
        except (ValueError, TypeError, AttributeError):
            raise UsageError(f"block size must be a power of two from {1 << C.MIN_BLOCK_EXP} to "
                             f"{1 << C.MAX_BLOCK_EXP} bytes, got {self.block_size!r}") from None
        if self.workers < 1:
            raise UsageError(f"workers must be at least 1, got {self.workers}")
        if self.search_seconds is not None and not self.search_seconds > 0:
            raise UsageError(f"search budget must be > 0 seconds, got {self.search_seconds}")

    @property
    def plan(self) -> Plan:
        plan = LEVELS[self.level]
        if self.search_seconds is None:
            return plan
        from dataclasses import replace

        return replace(plan, search_seconds=self.search_seconds,
                       search_len=max(plan.search_len, 128))


@dataclass(frozen=True)
class BlockInfo:
    kind: str                    # container kind name: program, copy, deflate, ..., xz-solid
    raw_size: int                # bytes
    payload_size: int            # bytes
    program: Program | None = None
    bits: int | None = None      # program blocks: the program's exact code length


@dataclass(frozen=True)
class Summary:
    """What compress_stream wrote."""

    original_size: int
    compressed_size: int
    checksum: int
    blocks: tuple[BlockInfo, ...]
    config: dict = field(default_factory=dict)
    streams: dict = field(default_factory=dict)   # bytes of every whole stream made: "blocks"
                                                  # (block-wise) and each solid kind's name

    @property
    def solid(self) -> str | None:
        """The solid kind written ("xz-solid", ...), None for a block-wise stream."""
        return self.blocks[0].kind if self.blocks and self.blocks[0].kind.endswith("-solid") \
            else None

    @property
    def programs(self) -> tuple[Program | None, ...]:
        return tuple(b.program for b in self.blocks)

    @property
    def bits(self) -> int:
        return 8 * self.compressed_size


@dataclass(frozen=True)
class Result(Summary):
    """What Compressor.compress returns: the Summary and the stream itself."""

    blob: bytes = b""


def _choose_item(item) -> Choice:
    """Worker body (module level: picklable for Ray)."""
    data, prev, plan, block_size, alone = item
    return choose(data, prev, plan, block_size, alone)


def _blocks(reader: BinaryIO, n: int):
    """(block, last) for each block of up to n bytes: one byte is read ahead, so a block is
    known to be the last (a one-block input: its solid streams' codecs run on it) before it is
    chosen."""
    ahead = b""
    while True:
        data = ahead + _read_full(reader, n - len(ahead))
        if not data:
            return
        ahead = _read_full(reader, 1) if len(data) == n else b""
        yield data, not ahead


def _read_full(reader: BinaryIO, n: int) -> bytes:
    """Up to n bytes, fewer only at end of input (pipes return short reads)."""
    parts, got = [], 0
    while got < n:
        chunk = reader.read(n - got)
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


class Compressor:
    """Settings in the constructor, data in the call (one Compressor serves many inputs)."""

    def __init__(self, config: CompressConfig | None = None):
        self.config = config or CompressConfig()

    def compress(self, data: bytes) -> Result:
        """The whole .ksz stream in memory, verified by decompressing it."""
        data = bytes(data)
        out = io.BytesIO()
        summary = self.compress_stream(io.BytesIO(data), out, size_hint=len(data))
        blob = out.getvalue()
        if Decompressor().decompress(blob) != data:       # never hand out a stream that lies
            raise KsynthError("internal error: the stream does not decompress to its input")
        return Result(summary.original_size, summary.compressed_size, summary.checksum,
                      summary.blocks, summary.config, summary.streams, blob=blob)

    def compress_stream(self, reader: BinaryIO, writer: BinaryIO,
                        progress: Callable[[int], None] | None = None, size_hint: int | None = None,
                        log: Callable[[str], None] | None = None) -> Summary:
        """Read `reader` to its end, write the .ksz stream to `writer`. Memory: a batch of blocks
        (one when serial), the solid encoders' state and the spools' in-memory part. Every
        block's representation is decoded and compared before it is chosen, a solid stream
        before it is written; `progress(n)` is called with each block's input bytes.
        `size_hint` (bytes) sizes the xz-solid dictionary (unknown: the preset's own) and, with
        workers > 1, the parallel choice (told to `log`)."""
        from ksynth.parallel import Parallel

        cfg, plan = self.config, self.config.plan
        bs = cfg.block_size
        plans = _solid_plans(plan)
        main = tempfile.SpooledTemporaryFile(max_size=solid.SPOOL_BYTES) if plans else writer
        cands: list[solid.Candidate] = []
        try:
            main.write(C.header_bytes(bs))
            written, total, crc, prev = C.HEADER_SIZE, 0, 0, b""
            infos: list[BlockInfo] = []
            block_s = 1.0                          # seconds per block, until the first is timed
            batch = BLOCKS_PER_WORKER * cfg.workers if cfg.workers > 1 else 1
            backend = "ray" if cfg.workers > 1 else "serial"
            source = _blocks(reader, bs)
            with Parallel(backend, cfg.workers, log=log) as par:
                while True:
                    items = []
                    for data, last in source:
                        items.append((data, prev, plan, bs, last and not prev))
                        prev = data
                        if len(items) == batch:
                            break
                    if not items:
                        break
                    choices: list = [None] * len(items)
                    rest = 0
                    if par.choice is None and len(items) > 1:
                        # the first block, timed here, sizes the job for the parallel rule
                        t0 = time.perf_counter()
                        choices[0] = _choose_item(items[0])
                        block_s = time.perf_counter() - t0
                        blocks = -(-size_hint // bs) if size_hint else len(items)
                        par.decide(max(blocks, len(items)) - 1, block_s)
                        rest = 1
                    if len(items) - rest > 1:
                        for i, choice in par.imap(_choose_item, items[rest:], item_seconds=block_s):
                            choices[rest + i] = choice
                    elif len(items) > rest:
                        choices[rest] = _choose_item(items[rest])
                    for (data, before, *_), ch in zip(items, choices):
                        if len(infos) == 1 and plans:      # a second block: solid streams start
                            cands = [solid.Candidate(k, lv, bs, size_hint) for k, lv in plans]
                            for c in cands:
                                c.add(before)
                        for c in cands:
                            c.add(data)
                        record = C.block_record(ch.kind, ch.raw_size, ch.payload, bs)
                        main.write(record)
                        written += len(record)
                        total += len(data)
                        crc = zlib.crc32(data, crc)
                        infos.append(BlockInfo(C.KIND_NAMES[ch.kind], ch.raw_size,
                                               len(ch.payload), ch.program, ch.bits))
                        if progress is not None:
                            progress(len(data))
                    if len(items[-1][0]) < bs:
                        break
            trailer = C.trailer_bytes(total, len(infos), crc)
            main.write(trailer)
            size = written + len(trailer)
            streams = {"blocks": size}
            best = None
            for c in cands:
                c.finish(total, crc)
                if c.failed is None:
                    streams[c.name] = c.size
                    if c.size < (size if best is None else best.size):   # ties: block-wise
                        best = c
            if best is not None:
                _check(best.open(), total, crc, best.name)
                infos = [BlockInfo(best.name, best.raw_size, best.payload_size)]
                _copy(best.open(), writer)
                size = best.size
            elif main is not writer:
                main.seek(0)
                _copy(main, writer)
        finally:
            for c in cands:
                c.close()
            if main is not writer:
                main.close()
        config = {"level": cfg.level, "block_size": bs, "workers": cfg.workers,
                  "search_seconds": cfg.search_seconds}
        return Summary(total, size, crc, tuple(infos), config, streams)


def _solid_plans(plan: Plan) -> tuple[tuple[int, int], ...]:
    """The level's solid streams that can be made here (xz-solid needs liblzma)."""
    from ksynth import lzma2

    return tuple((k, lv) for k, lv in plan.solid if k != C.XZ_SOLID or lzma2.available)


def _copy(src, writer: BinaryIO) -> None:
    while chunk := src.read(COPY_CHUNK):
        writer.write(chunk)


def _check(src, size: int, checksum: int, name: str) -> None:
    """Decode a spooled stream from its start; KsynthError unless it restores `size` bytes with
    this CRC32."""
    class _Crc:
        n, crc = 0, 0

        def write(self, data):
            self.n += len(data)
            self.crc = zlib.crc32(data, self.crc)

    sink = _Crc()
    try:
        Decompressor().decompress_stream(src, sink)
    except CorruptInput as e:
        raise KsynthError(f"internal error: the {name} stream does not decode: {e}") from None
    if sink.n != size or sink.crc != checksum:
        raise KsynthError(f"internal error: the {name} stream does not decompress to its input")


class Decompressor:
    """Runs only the container's decoders and the DSL executor; every check fails with
    CorruptInput (or UsageError for the user's own limit) before anything wrong is returned."""

    def __init__(self, max_output_size: int | None = None):
        if max_output_size is not None and max_output_size < 0:
            raise UsageError(f"max_output_size must be >= 0, got {max_output_size}")
        self.max_output_size = max_output_size

    def decompress(self, blob: bytes) -> bytes:
        out = io.BytesIO()
        self.decompress_stream(io.BytesIO(bytes(blob)), out)
        return out.getvalue()

    def decompress_stream(self, reader: BinaryIO, writer: BinaryIO,
                          progress: Callable[[int], None] | None = None) -> int:
        """Decode block by block into `writer`; returns the byte count. The writer may have
        received data when an error is raised: callers that must not leave partial output
        write to a temporary file (the CLI does)."""
        r = C.Reader(reader)
        out = _Out(writer)
        declared, prev, work, stream, n = 0, b"", workspace(), None, -1
        for n, (entry, payload) in enumerate(r.blocks()):
            limit = self.max_output_size
            if limit is not None and declared + entry.raw_size > limit:
                raise UsageError(f"output would exceed --max-output-size {self.max_output_size} "
                                 f"bytes (block {n} ends at byte {declared + entry.raw_size})")
            declared += entry.raw_size
            try:
                if entry.streamed:                 # version 4: the payload in pieces
                    stream = solid.Decoder(entry.kind)
                    for piece in payload:
                        stream.feed(piece, declared - out.n, out.write)
                        if progress is not None:
                            progress(len(piece))
                elif entry.kind in C.SOLID:        # version 2: one decoder across the records
                    stream = stream or solid.Decoder(entry.kind)
                    stream.feed(payload, declared - out.n, out.write)
                else:
                    prev = decode_block(entry.kind, payload, entry.raw_size, prev, r.block_size,
                                        work)
                    out.write(prev)
            except CorruptInput as e:
                raise CorruptInput(f"block {n}: {e}") from None
            if progress is not None and not entry.streamed:
                progress(entry.payload_size)
        if stream is not None:
            try:
                stream.finish()
            except CorruptInput as e:
                raise CorruptInput(f"block {n}: {e}") from None
            if out.n != declared:
                raise CorruptInput(f"the {stream.name} stream restores {out.n} bytes; its "
                                   f"records declare {declared}")
        total, crc = out.n, out.crc
        if crc != r.trailer[2]:
            raise CorruptInput(f"checksum mismatch: stream says CRC32 {r.trailer[2]:08x}, "
                               f"the data has {crc:08x}")
        return total


class _Out:
    """A writer that counts the bytes and their CRC32."""

    def __init__(self, writer: BinaryIO):
        self.writer, self.n, self.crc = writer, 0, 0

    def write(self, data: bytes) -> None:
        self.writer.write(data)
        self.n += len(data)
        self.crc = zlib.crc32(data, self.crc)


def compress(data: bytes, level: int = DEFAULT_LEVEL) -> bytes:
    """One-shot: the .ksz stream of `data`."""
    return Compressor(CompressConfig(level=level)).compress(data).blob


def decompress(blob: bytes, max_output_size: int | None = None) -> bytes:
    """One-shot: the original bytes of a .ksz stream."""
    return Decompressor(max_output_size).decompress(blob)
