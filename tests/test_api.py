"""The Python API: round trips of every shape of input, levels, limits, the Result object."""
from __future__ import annotations

import io
import os
import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, strategies as st

import ksynth
from ksynth.api import CompressConfig, Compressor, Decompressor
from ksynth.errors import CorruptInput, UsageError


@pytest.mark.parametrize("data", [b"", b"\x00", b"\xff", os.urandom(3000),
                                  bytes(range(256)) * 40, b"abc" * 1000])
def test_round_trip(data):
    blob = ksynth.compress(data, level=1)
    assert ksynth.decompress(blob) == data


def test_structured_block_becomes_a_program():
    data = b"".join(struct.pack("<I", i) for i in range(1 << 16))      # 256 KiB of counters
    result = Compressor(CompressConfig(level=6)).compress(data)
    assert [b.kind for b in result.blocks] == ["program"]
    assert result.compressed_size < 100 and result.bits == 8 * len(result.blob)
    assert result.programs[0] is not None and result.blocks[0].bits <= 8 * 100
    from ksynth.dsl.interp import run

    assert bytes(run(result.programs[0], len(data))) == data


def test_never_much_larger_than_deflate_on_noise():
    data = np.random.default_rng(1).integers(0, 256, 100_000, dtype=np.uint8).tobytes()
    assert len(ksynth.compress(data)) <= len(zlib.compress(data, 9)) + 32


def test_large_input_streams_block_by_block():
    n = 10 * (1 << 20) + 12345                      # >= 10 MB, not a whole number of blocks
    pattern = bytes((7 * i + 3) % 256 for i in range(4096))

    class Source(io.RawIOBase):                     # produces the input without holding it
        def __init__(self):
            self.pos = 0

        def readable(self):
            return True

        def readinto(self, buf):
            k = min(len(buf), n - self.pos)
            start = self.pos % len(pattern)
            reps = (pattern * (2 + k // len(pattern)))[start:start + k]
            buf[:k] = reps
            self.pos += k
            return k

    out = io.BytesIO()
    summary = Compressor(CompressConfig(level=1)).compress_stream(io.BufferedReader(Source()), out)
    assert summary.original_size == n and len(summary.blocks) == 11
    assert summary.compressed_size == len(out.getvalue()) < 2000

    class Check(io.RawIOBase):
        def __init__(self):
            self.pos, self.ok = 0, True

        def write(self, b):
            want = (pattern * (2 + len(b) // len(pattern)))[self.pos % len(pattern):][:len(b)]
            self.ok &= bytes(b) == want
            self.pos += len(b)
            return len(b)

    check = Check()
    assert Decompressor().decompress_stream(io.BytesIO(out.getvalue()), check) == n
    assert check.ok


@given(st.binary(max_size=3000), st.sampled_from([1, 3]))
def test_hypothesis_round_trip(data, level):
    cfg = CompressConfig(level=level, block_size=1024)
    assert ksynth.decompress(Compressor(cfg).compress(data).blob) == data


def test_max_output_size_is_honoured():
    blob = ksynth.compress(bytes(5000), level=1)
    assert ksynth.decompress(blob, max_output_size=5000) == bytes(5000)
    with pytest.raises(UsageError, match="max-output-size 4999"):
        ksynth.decompress(blob, max_output_size=4999)


def test_checksum_is_checked():
    blob = bytearray(ksynth.compress(b"hello world, hello world", level=1))
    blob[-1] ^= 0x01
    with pytest.raises(CorruptInput, match="checksum"):
        ksynth.decompress(bytes(blob))


def test_program_that_would_outgrow_its_block_is_stopped():
    from ksynth import container as C
    from ksynth.dsl.encode import encode
    from ksynth.dsl.program import Program

    bomb = Program.parse("s1 = range_func_up(0, 255)\ns2 = repeat_list(100000, s1)\noutput = s2")
    blob = (C.header_bytes(1024) + C.block_record(C.PROGRAM, 256, encode(bomb), 1024)
            + C.trailer_bytes(256, 1, 0))
    with pytest.raises(CorruptInput, match="block 0"):
        ksynth.decompress(blob)


@pytest.mark.parametrize("kwargs, message", [({"level": 0}, "level"), ({"block_size": 1000}, "power"),
                                             ({"workers": 0}, "workers")])
def test_bad_settings_name_the_value(kwargs, message):
    with pytest.raises(UsageError, match=message):
        CompressConfig(**kwargs)


def test_parallel_output_is_identical(monkeypatch):
    # -T 2 goes through Ray (about 10 s to start a local instance), on purpose for a small input
    monkeypatch.setenv("KSYNTH_RAY_MIN_WORK_S", "0")
    data = bytes(range(256)) * 8 + os.urandom(5000) + b"xyz" * 3000
    serial = Compressor(CompressConfig(level=3, block_size=1024)).compress(data).blob
    par = Compressor(CompressConfig(level=3, block_size=1024, workers=2)).compress(data).blob
    assert serial == par


def test_zstd_prev_pays_for_a_pattern_once():
    pattern = np.random.default_rng(2).integers(0, 256, 1500, dtype=np.uint8).tobytes()
    data = (pattern * 3)[:4096]                     # block 1 continues block 0's pattern
    result = Compressor(CompressConfig(level=9, block_size=2048)).compress(data)
    assert result.blocks[1].kind == "zstd-prev" and result.blocks[1].payload_size < 100
    assert ksynth.decompress(result.blob) == data


def test_zstd_prev_as_block_0_is_refused():
    from ksynth import container as C

    blob = C.header_bytes(1024) + C.block_record(C.ZSTD_PREV, 3, b"xyz", 1024) + C.trailer_bytes(3, 1, 0)
    with pytest.raises(CorruptInput, match="block 0"):
        ksynth.decompress(blob)


def test_xz_prev_round_trip_gain_and_corruption():
    from ksynth import blocks as K, container as C, lzma2

    if not lzma2.available:
        pytest.skip("liblzma not loadable")
    text = b"".join(b"%d,%d,item-%d\n" % (i, i * i % 97, i % 13) for i in range(20000))
    a, b = text[:1 << 17], text[1 << 17:1 << 18]
    a = a[-(1 << 15):]                              # here a 32 KiB dictionary pays (128 KiB not)
    prev_payload = K.codec_encode(C.XZ_PREV, b, 6, a)
    assert len(prev_payload) < len(K.codec_encode(C.XZ, b, 6, a))
    assert K.decode_block(C.XZ_PREV, prev_payload, len(b), a, 1 << 18) == b
    for bad in (prev_payload[:-3], prev_payload[:40] + bytes([prev_payload[40] ^ 0x55]) + prev_payload[41:],
                prev_payload + b"\x00"):
        with pytest.raises(CorruptInput):
            K.decode_block(C.XZ_PREV, bad, len(b), a, 1 << 18)
    with pytest.raises(CorruptInput):                # the right bytes, the wrong dictionary
        assert K.decode_block(C.XZ_PREV, prev_payload, len(b), a[::-1], 1 << 18) == b
