"""The .ksz layout: fields read back as written, and hostile streams fail only as KsynthError.

The fuzz mutates valid streams, block-wise and solid (version 4's one record, read in pieces
made small here so that a payload spans many; and version 2's records per block), with bit
flips, truncation, extension, header fields at their limits, kind bytes and sizes that lie:
500 cases by default, 10,000 with KSYNTH_SLOW=1.
"""
from __future__ import annotations

import io
import os
import random
import zlib

import pytest

from ksynth import container as C, lzma2, solid
from ksynth.api import CompressConfig, Compressor, Decompressor
from ksynth.errors import CorruptInput, KsynthError, UsageError

SLOW = os.environ.get("KSYNTH_SLOW") == "1"
FUZZ_CASES = 10_000 if SLOW else 500
BLOCK = 1024                          # the smallest block size: many blocks from little data
TEXT = b"".join(b"2026-12-01 12:%02d:%02d INFO request %d ok\n" % (i % 60, i % 7, i * i % 1009)
                for i in range(140))     # 5.5 KiB: six records, all the output in the last
SPREAD = bytes(random.Random(5).choices(b"ACGT\n", k=300 * BLOCK))   # payloads spread out
SOLID_KINDS = [C.DEFLATE_SOLID, C.ZSTD_SOLID] + ([C.XZ_SOLID] if lzma2.available else [])


def solid_stream(kind: int, data: bytes, level: int = 9) -> bytes:
    """The whole solid stream of `data` (version 4: one record), fed in BLOCK-byte pieces as the
    Compressor feeds it."""
    cand = solid.Candidate(kind, level if kind != C.XZ_SOLID else 6, BLOCK, len(data))
    for i in range(0, len(data), BLOCK):
        cand.add(data[i:i + BLOCK])
    cand.finish(len(data), zlib.crc32(data))
    assert cand.failed is None, cand.failed
    blob = cand.open().read()
    cand.close()
    assert len(blob) == cand.size
    return blob


def solid_stream_v2(kind: int, data: bytes, level: int = 9) -> bytes:
    """The version-2 layout of the same stream, as ksynth wrote it before version 4: one record
    per BLOCK, each what the encoder emitted while it read the block, the last with its end."""
    enc = solid.Encoder(kind, level if kind != C.XZ_SOLID else 6, len(data))
    parts = [[len(data[i:i + BLOCK]), enc.compress(data[i:i + BLOCK])]
             for i in range(0, len(data), BLOCK)]
    parts[-1][1] += enc.finish()
    return rebuild([(kind, raw, p) for raw, p in parts], len(data), zlib.crc32(data))


def records(blob: bytes) -> list[tuple[int, int, bytes]]:
    """(kind, raw size, payload) of every record."""
    return [(e.kind, e.raw_size, blob[e.offset:e.offset + e.payload_size])
            for e in C.read_header(blob).blocks]


def rebuild(recs, data_size: int, crc: int, version: int = 2) -> bytes:
    return (C.header_bytes(BLOCK, version=version)
            + b"".join(C.block_record(k, raw, p, BLOCK) for k, raw, p in recs)
            + C.trailer_bytes(data_size, len(recs), crc))


def _sample_streams() -> list[bytes]:
    rng = random.Random(7)
    ramp = bytes(i % 256 for i in range(BLOCK))
    text = b"".join(b"2026-12-01 12:%02d:%02d INFO request %d ok\n" % (i % 60, i % 60, i)
                    for i in range(60))[:BLOCK]
    noise = bytes(rng.randrange(256) for _ in range(BLOCK))
    data = ramp + ramp + text + noise + bytes(300) + b"tail"
    cfg = CompressConfig(level=3, block_size=BLOCK)
    result = Compressor(cfg).compress(data)
    kinds = {b.kind for b in result.blocks}
    assert {"program", "copy", "stored"} <= kinds, kinds
    short = Compressor(CompressConfig(level=1, block_size=BLOCK)).compress(text[:200] * 3).blob
    return [result.blob, short, Compressor().compress(b"").blob] + \
        [solid_stream(k, TEXT) for k in SOLID_KINDS] + \
        [solid_stream(C.DEFLATE_SOLID, SPREAD[:60 * BLOCK])] + \
        [solid_stream_v2(k, TEXT) for k in SOLID_KINDS] + \
        [solid_stream_v2(C.DEFLATE_SOLID, SPREAD[:60 * BLOCK])]  # output in several records


STREAMS = _sample_streams()


def test_layout_reads_back():
    blob = STREAMS[0]
    h = C.read_header(blob)
    assert blob[:4] == C.MAGIC and h.version == C.VERSION_PROGRAMS == 7 and h.flags == 0    # block-wise: version 7
    assert h.block_size == BLOCK and h.stream_size == len(blob)
    data = Decompressor().decompress(blob)
    assert h.original_size == len(data) == sum(b.raw_size for b in h.blocks)
    assert h.checksum == zlib.crc32(data)
    assert all(b.raw_size == BLOCK for b in h.blocks[:-1]) and h.blocks[-1].raw_size < BLOCK


def test_program_blocks_of_older_program_codes_are_refused_in_one_line():
    blob = STREAMS[0]
    h = C.read_header(blob)
    recs = records(blob)
    assert C.PROGRAM in [k for k, _, _ in recs]
    for version in (1, 3, 4, 5, 6):
        old = rebuild(recs, h.original_size, h.checksum, version=version)
        with pytest.raises(CorruptInput, match=f"version {version}, which this ksynth no longer "
                                               f"decodes .*version {C.VERSION_PROGRAMS}"):
            Decompressor().decompress(old)
    assert Decompressor().decompress(rebuild(recs, h.original_size, h.checksum, version=7)) == \
        Decompressor().decompress(blob)


def test_empty_stream_is_header_end_trailer():
    blob = STREAMS[2]
    assert len(blob) == C.HEADER_SIZE + 1 + 1 + 1 + 4
    assert C.read_header(blob).blocks == ()


def test_varint_is_canonical():
    for n in (0, 1, 127, 128, 300, 1 << 40):
        assert C._Source(C.varint(n)).varint("n") == n
    with pytest.raises(CorruptInput, match="non-canonical"):
        C._Source(b"\x80\x00").varint("n")


@pytest.mark.parametrize("field, value, message", [
    (4, C.VERSION + 1, "version"), (4, 0, "version"), (5, 1, "flags"), (6, 9, "exponent"), (6, 25, "exponent"),
    (0, 0, "magic")])
def test_header_fields_at_their_limits(field, value, message):
    blob = bytearray(STREAMS[0])
    blob[field] = value
    if field in (4, 5, 6):                  # a consistent check byte: the field itself is refused
        blob[7] = zlib.crc32(bytes(blob[:7])) & 0xFF
    with pytest.raises(CorruptInput, match=message):
        Decompressor().decompress(bytes(blob))


def _mutate(blob: bytes, rng: random.Random) -> bytes:
    b = bytearray(blob)
    how = rng.randrange(6)
    if how == 0:                            # bit flips
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
    elif how == 1:                          # truncation
        del b[rng.randrange(len(b)):]
    elif how == 2:                          # extension
        b += bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    elif how == 3:                          # a header byte at an extreme
        i = rng.randrange(C.HEADER_SIZE)
        b[i] = rng.choice((0, 1, 0x7F, 0x80, 0xFF))
    else:                                   # kind bytes and size fields that lie
        entries = C.read_header(blob).blocks
        if not entries:
            return bytes(b[:-1])
        e = rng.choice(entries)
        i = e.offset - 1 if how == 4 else max(C.HEADER_SIZE, e.offset - rng.randint(1, 4))
        b[i] = rng.choice((0, 1, 0x7F, 0x80, 0xFF, rng.randrange(256)))
    return bytes(b)


FUZZ_PIECE = 1000                     # bytes: version-4 payloads read in many pieces, odd-sized


def test_mutated_streams_fail_only_as_ksynth_errors(monkeypatch):
    monkeypatch.setattr(C, "STREAM_PIECE", FUZZ_PIECE)
    assert max(e.payload_size for s in STREAMS for e in C.read_header(s).blocks
               if e.streamed) > 10 * FUZZ_PIECE
    rng = random.Random(2026)
    originals = [Decompressor().decompress(s) for s in STREAMS]
    outcomes = {"error": 0, "same": 0}
    for case in range(FUZZ_CASES):
        k = case % len(STREAMS)
        bad = _mutate(STREAMS[k], rng)
        try:
            out = Decompressor(max_output_size=1 << 20).decompress(bad)
        except KsynthError:
            outcomes["error"] += 1
            continue
        # a mutation that still decodes must give back the original (the CRC32 guards the rest)
        assert out == originals[k], f"case {case}: a damaged stream decoded to other data"
        outcomes["same"] += 1
    assert outcomes["error"] > FUZZ_CASES // 2


# ---- solid streams: one codec stream over the whole file ---------------------------------------
def solid_v4(kind: int, raw: int, payload: bytes, crc: int, short: bool = True, n: int = 1,
             trailer_size: int | None = None) -> bytes:
    """A version-4 solid stream built field by field (n copies of the record: n > 1 lies)."""
    head = bytes([kind | (C.SHORT if short else 0)]) + C.varint(raw) + C.varint(len(payload))
    return (C.header_bytes(BLOCK, version=4) + (head + payload) * n
            + C.trailer_bytes(raw if trailer_size is None else trailer_size, n, crc))


@pytest.mark.parametrize("kind", SOLID_KINDS)
def test_solid_stream_is_one_record(kind):
    blob = solid_stream(kind, TEXT)
    h = C.read_header(blob)
    assert h.version == C.VERSION_SOLID == 4 and len(h.blocks) == 1
    e = h.blocks[0]
    assert (e.kind, e.raw_size, e.streamed) == (kind, len(TEXT), True)
    assert blob[C.HEADER_SIZE] == kind | C.SHORT
    framing = C.HEADER_SIZE + 1 + 2 * len(C.varint(len(TEXT))) + len(C.varint(e.payload_size)) \
        + 1 + 1 + 4                                  # kind, sizes, END, block count, CRC32
    assert len(blob) == e.payload_size + framing
    assert Decompressor().decompress(blob) == TEXT
    assert blob == solid_v4(kind, len(TEXT), blob[e.offset:e.offset + e.payload_size],
                            zlib.crc32(TEXT))


def test_solid_framing_is_within_the_gzip_bound_at_any_size():
    """gzip's framing is 18 B whatever the size (ISIZE is mod 2^32); a version-4 solid stream's
    grows only with the varints of its sizes: <= gzip's + 32 B for every size below 2^62."""
    gzip_framing = 10 + 8
    for exp in range(1, 62):
        for raw in (1 << exp, (1 << exp) - 1):
            payload = C.solid_payload_limit(raw)              # the largest a reader accepts
            framing = len(C.header_bytes(BLOCK, version=4)) + \
                len(C.solid_record_head(C.DEFLATE_SOLID, raw, payload)) + \
                len(C.trailer_bytes(raw, 1, 0))
            assert framing <= gzip_framing + 32, (raw, framing)
    with pytest.raises(ValueError):
        C.solid_record_head(C.DEFLATE_SOLID, 10, C.solid_payload_limit(10) + 1)


@pytest.mark.parametrize("kind", SOLID_KINDS)
def test_version_2_solid_stream_still_reads(kind):
    blob = solid_stream_v2(kind, TEXT)
    h = C.read_header(blob)
    assert h.version == 2 and {b.kind for b in h.blocks} == {kind}
    assert not any(b.streamed for b in h.blocks)
    full = len(TEXT) // BLOCK
    assert [b.raw_size for b in h.blocks] == [BLOCK] * full + [len(TEXT) - full * BLOCK]
    assert Decompressor().decompress(blob) == TEXT
    v4 = records(solid_stream(kind, TEXT))[0][2]          # the same codec stream, other framing
    assert b"".join(p for _, _, p in records(blob)) == v4


class _Counting:
    """A non-seekable source that records the size of every read."""

    def __init__(self, blob: bytes):
        self.f, self.reads = io.BytesIO(blob), []

    def seekable(self):
        return False

    def read(self, n=-1):
        self.reads.append(n)
        return self.f.read(n)


def test_streamed_payload_is_read_in_pieces():
    data = random.Random(9).randbytes(600 * 1024)        # incompressible: a 600 KiB payload
    blob = solid_stream(C.DEFLATE_SOLID, data)
    size = C.read_header(blob).blocks[0].payload_size
    assert size > 2 * C.STREAM_PIECE
    for piece in (C.STREAM_PIECE, 4096):
        src = _Counting(blob)
        out = io.BytesIO()
        old, C.STREAM_PIECE = C.STREAM_PIECE, piece
        try:
            assert Decompressor().decompress_stream(src, out) == len(data)
        finally:
            C.STREAM_PIECE = old
        assert out.getvalue() == data and max(src.reads) <= piece
        assert sum(1 for n in src.reads if n > 16) == -(-size // piece)   # every piece once
    src = _Counting(blob)                                 # read_header reads past it, in pieces
    assert C.read_header(src).blocks[0].payload_size == size
    assert max(src.reads) <= C.STREAM_PIECE and len(src.reads) > size // C.STREAM_PIECE
    with pytest.raises(CorruptInput, match=f"block 0 payload at byte 15 needs {size} bytes"):
        C.read_header(_Counting(blob[:-100]))             # cut short: the whole need is named


@pytest.mark.parametrize("kind", SOLID_KINDS)
def test_streamed_record_limits(kind):
    blob, n, crc = solid_stream(kind, SPREAD), len(SPREAD), zlib.crc32(SPREAD)
    e = C.read_header(blob).blocks[0]
    payload = blob[e.offset:e.offset + e.payload_size]
    limit = C.solid_payload_limit(100)
    cases = {
        "no size": (solid_v4(kind, n, payload, crc, short=False), "does not declare its size"),
        "a second record": (solid_v4(kind, n, payload, crc, n=2), "second"),
        "zero bytes": (solid_v4(kind, 0, payload[:limit], crc, trailer_size=0), "declares 0 bytes"),
        "a payload too big": (solid_v4(kind, 100, bytes(limit + 1), crc), "declares a payload of"),
        "a size too small": (solid_v4(kind, n - 1000, payload, crc), "more bytes than the blocks"),
        "a size too big": (solid_v4(kind, n + 1, payload, crc), f"restores {n} bytes"),
        "the payload cut short": (solid_v4(kind, n, payload[:-40], crc), "truncated|does not"),
        "bytes after the codec's end": (solid_v4(kind, n, payload + b"\x00" * 9, crc),
                                        "after its end"),
        "the stream cut inside the payload": (blob[:e.offset + e.payload_size // 2],
                                              "truncated stream: block 0 payload"),
        "a block-wise record after it": (blob[:e.offset + e.payload_size]
                                         + C.block_record(C.STORED, 5, b"12345", BLOCK)
                                         + C.trailer_bytes(n + 5, 2, crc), "inside the"),
    }
    for what, (bad, message) in cases.items():
        with pytest.raises(CorruptInput, match=message):
            Decompressor().decompress(bad)
    for what in ("no size", "a second record", "zero bytes", "a payload too big"):
        with pytest.raises(CorruptInput):                 # refused before any payload is read
            C.read_header(cases[what][0])

    class Sink:
        n = 0

        def write(self, b):
            self.n += len(b)

    sink = Sink()                                        # the user's limit: before any output
    with pytest.raises(UsageError, match="max-output-size"):
        Decompressor(max_output_size=n - 1).decompress_stream(io.BytesIO(blob), sink)
    assert sink.n == 0
    assert Decompressor(max_output_size=n).decompress(blob) == SPREAD


@pytest.mark.parametrize("kind", SOLID_KINDS)
def test_solid_records_out_of_place_are_refused(kind):
    recs, crc, n = records(solid_stream_v2(kind, SPREAD)), zlib.crc32(SPREAD), len(SPREAD)
    i, j = [k for k, (_, raw, p) in enumerate(recs) if p and raw == BLOCK][:2]
    other = (kind + 1 - C.DEFLATE_SOLID) % 3 + C.DEFLATE_SOLID
    stored = (C.STORED, BLOCK, SPREAD[:BLOCK])
    cases = {
        "two swapped": (recs[:i] + [recs[j]] + recs[i + 1:j] + [recs[i]] + recs[j + 1:], n,
                        "block"),
        "one left out": (recs[:i] + recs[i + 1:], n - BLOCK, "block"),
        "the last left out": (recs[:-1], n - recs[-1][1], "truncated"),
        "a block-wise record inside": (recs[:2] + [stored] + recs[2:], n + BLOCK,
                                       "inside the .*-solid stream of block 0"),
        "a solid record after a block-wise one": ([stored] + recs, n + BLOCK,
                                                  "does not follow a record of its stream"),
        "another solid kind inside": (recs[:1] + [(other, *recs[1][1:])] + recs[2:], n,
                                      "inside the"),
        "a record declared too short": (recs[:i] + [(kind, 100, recs[i][2])] + recs[i + 1:],
                                        n - BLOCK + 100, "more bytes than the blocks so far"),
    }
    for what, (bad, size, message) in cases.items():
        with pytest.raises(CorruptInput, match=message):
            Decompressor().decompress(rebuild(bad, size, crc))
    with pytest.raises(CorruptInput, match="version 2"):        # a solid kind in a version-1 stream
        Decompressor().decompress(rebuild(recs, n, crc, version=1))


def test_solid_payload_limit_and_empty_payloads():
    assert C.payload_limit(C.XZ_SOLID, 10, BLOCK) == BLOCK + C.SOLID_SLACK
    if lzma2.available:                         # the encoder holds input back: empty records
        assert records(solid_stream_v2(C.XZ_SOLID, TEXT))[1][2] == b""
    big = [(C.DEFLATE_SOLID, BLOCK, bytes(BLOCK + C.SOLID_SLACK + 1))]
    with pytest.raises(CorruptInput, match="payload of"):
        C.read_header(rebuild(big, BLOCK, 0))


def test_xz_solid_dictionary_byte_is_checked():
    if not lzma2.available:
        pytest.skip("liblzma not loadable")
    recs = records(solid_stream_v2(C.XZ_SOLID, TEXT))
    (_, _, whole), = records(solid_stream(C.XZ_SOLID, TEXT))
    assert recs[0][2][0] == whole[0] == 13                  # 5.5 KiB rounded up: 8 KiB
    crc = zlib.crc32(TEXT)
    for d, message in ((11, "outside 12..26"), (27, "outside 12..26")):
        bad = [(recs[0][0], recs[0][1], bytes([d]) + recs[0][2][1:])] + recs[1:]
        with pytest.raises(CorruptInput, match=message):
            Decompressor().decompress(rebuild(bad, len(TEXT), crc))
        with pytest.raises(CorruptInput, match=message):
            Decompressor().decompress(solid_v4(C.XZ_SOLID, len(TEXT), bytes([d]) + whole[1:], crc))
    bad = [(C.XZ_SOLID, BLOCK, b"")] + recs[1:]
    with pytest.raises(CorruptInput, match="no dictionary byte"):
        Decompressor().decompress(rebuild(bad, len(TEXT), crc))
    with pytest.raises(CorruptInput, match="truncated"):        # version 4: no payload at all
        Decompressor().decompress(solid_v4(C.XZ_SOLID, len(TEXT), b"", crc))


def test_solid_payloads_are_the_whole_file_codec_streams():
    """deflate-solid's payloads in order are gzip -9's deflate stream, byte for byte; xz-solid's
    (preset 6, dictionary = the input rounded up) are xz -9's raw LZMA2 (presets differ only in
    dictionary size): the size bounds against gzip and xz hold up to the framing."""
    import gzip
    import lzma

    data = SPREAD[:40 * BLOCK]
    body = b"".join(p for _, _, p in records(solid_stream(C.DEFLATE_SOLID, data)))
    assert body == gzip.compress(data, 9, mtime=0)[10:-8]
    if lzma2.available:
        body = b"".join(p for _, _, p in records(solid_stream(C.XZ_SOLID, data)))
        assert body[0] == 16 and body[1:] == lzma.compress(data, format=lzma.FORMAT_RAW, filters=[
            {"id": lzma.FILTER_LZMA2, "preset": 9}])


@pytest.mark.parametrize("old", [1, 3])        # version 3's program code had no ones' complement chain
def test_older_versions_read_except_their_program_blocks(old):
    h = C.read_header(STREAMS[0])
    records = [(b.kind, b.raw_size, STREAMS[0][b.offset:b.offset + b.payload_size]) for b in h.blocks]
    assert any(k == C.PROGRAM for k, _, _ in records)
    with pytest.raises(CorruptInput, match=f"program code of .ksz version {old}"):
        Decompressor().decompress(rebuild(records, h.original_size, h.checksum, version=old))
    data = Decompressor().decompress(STREAMS[0])
    plain = [(C.STORED, raw, data[sum(r for _, r, _ in records[:i]):][:raw])
             for i, (_, raw, _) in enumerate(records)]
    assert Decompressor().decompress(rebuild(plain, len(data), zlib.crc32(data), version=old)) == data
