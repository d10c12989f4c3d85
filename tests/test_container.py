"""The .ksz layout: fields read back as written, and hostile streams fail only as KsynthError.

The fuzz mutates valid streams (bit flips, truncation, extension, header fields at their limits,
kind bytes and sizes that lie): 500 cases by default, 10,000 with KSYNTH_SLOW=1.
"""
from __future__ import annotations

import os
import random
import zlib

import pytest

from ksynth import container as C
from ksynth.api import CompressConfig, Compressor, Decompressor
from ksynth.errors import CorruptInput, KsynthError

SLOW = os.environ.get("KSYNTH_SLOW") == "1"
FUZZ_CASES = 10_000 if SLOW else 500
BLOCK = 1024                          # the smallest block size: many blocks from little data


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
    return [result.blob, short, Compressor().compress(b"").blob]


STREAMS = _sample_streams()


def test_layout_reads_back():
    blob = STREAMS[0]
    h = C.read_header(blob)
    assert blob[:4] == C.MAGIC and h.version == C.VERSION and h.flags == 0
    assert h.block_size == BLOCK and h.stream_size == len(blob)
    data = Decompressor().decompress(blob)
    assert h.original_size == len(data) == sum(b.raw_size for b in h.blocks)
    assert h.checksum == zlib.crc32(data)
    assert all(b.raw_size == BLOCK for b in h.blocks[:-1]) and h.blocks[-1].raw_size < BLOCK


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
    (4, 2, "version"), (5, 1, "flags"), (6, 9, "exponent"), (6, 25, "exponent"), (0, 0, "magic")])
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


def test_mutated_streams_fail_only_as_ksynth_errors():
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
