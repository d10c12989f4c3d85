"""Baselines: registry, round trips, bit counts, the arithmetic coder, corrupt input, KT data."""
from __future__ import annotations

import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ksynth.baselines import BASELINES, POOLED, get_baseline
from ksynth.baselines.arith import (MAX_TOTAL, BitReader, BitWriter, Decoder, Encoder,
                                    elias_delta_bits, read_elias_delta, write_elias_delta)
from ksynth.baselines.lmic import LMiC, quantise
from ksynth.errors import CorruptInput, UsageError

NAMES = ["gzip", "zlib", "bz2", "xz", "xz_raw", "zstd", "brotli", "literal", "lmic", "ppmd"]
BYTE_FORMATS = ["gzip", "zlib", "bz2", "xz", "xz_raw", "zstd", "brotli", "ppmd"]
TRAINED = ["zstd_dict"]                  # bound to a modality per item (tests below)
FAST = [n for n in NAMES if n != "lmic"]        # lmic is pure Python: smaller hypothesis inputs


def _edge_inputs() -> list[bytes]:
    rng = random.Random(7)
    return [b"", b"\x00", b"\x7f", b"\xff", bytes(600), b"\xff" * 300, bytes(range(256)),
            bytes(range(255, -1, -1)), bytes(rng.sample(range(256), 256)), b"ab" * 150,
            bytes(rng.randrange(256) for _ in range(200)), b"the cat sat on the mat. " * 6]


# ---- registry --------------------------------------------------------------------------------
def test_registry_has_every_method_under_its_name():
    assert list(BASELINES) == NAMES + TRAINED
    for name, b in BASELINES.items():
        assert b.name == name and get_baseline(name) is b
    assert set(POOLED) == {"gzip_kt", "gzip_kt_raw"}


def test_unknown_name_suggests_the_nearest():
    with pytest.raises(UsageError, match="did you mean 'gzip'"):
        get_baseline("gzp")


def test_pooled_gzip_calls_the_official_metric():
    from ksynth.bench import metrics
    seqs = [[1, 2, 3, 200], [7] * 20]
    assert POOLED["gzip_kt"](seqs) == metrics.fallback_bits(seqs)
    assert POOLED["gzip_kt_raw"](seqs) == metrics.fallback_bits(seqs, raw=True)


# ---- round trips and bit counts -----------------------------------------------------------------
def _check(name: str, data: bytes) -> None:
    b = get_baseline(name)
    blob = b.encode(data)
    assert b.decode(blob) == data
    bits = b.bits(data)
    if name in BYTE_FORMATS:
        assert bits == 8 * len(blob)
    else:                               # exact bitstreams, zero-padded to whole bytes
        assert 8 * len(blob) - 8 < bits <= 8 * len(blob)


@pytest.mark.parametrize("name", NAMES)
def test_round_trip_edge_inputs(name):
    for data in _edge_inputs():
        _check(name, data)


@pytest.mark.parametrize("name", FAST)
@given(data=st.binary(max_size=400))
def test_round_trip_random(name, data):
    _check(name, data)


@settings(max_examples=25)
@given(data=st.binary(max_size=60))
def test_lmic_round_trip_random(data):
    _check("lmic", data)


def test_gzip_is_the_per_item_level9_stream():
    import gzip
    data = b"hello hello hello"
    assert get_baseline("gzip").encode(data) == gzip.compress(data, compresslevel=9, mtime=0)


def test_xz_item_sized_dictionary_matches_the_preset():
    import lzma
    from ksynth.baselines.codecs import XZ_PRESET
    rng = random.Random(5)
    for data in (b"abracadabra " * 40, bytes(rng.randrange(40) for _ in range(3000))):
        full = lzma.compress(data, format=lzma.FORMAT_XZ, preset=XZ_PRESET)   # 64 MiB dictionary
        assert get_baseline("xz").bits(data) == 8 * len(full)


def test_literal_costs():
    from ksynth.dsl import encode
    from ksynth.dsl.program import Program
    data = bytes([3, 1, 4, 1, 5, 9, 2, 6])
    lit = get_baseline("literal")
    assert lit.kt_bits(data) == pytest.approx(2 * math.log2(25) + 8 * len(data))
    assert lit.bits(data) == encode.bits(Program.build([("set_list", (tuple(data),))]))


def test_lmic_learns_structure():
    """The model must exploit what it sees: repeats, a small alphabet, slow drifts."""
    lm = get_baseline("lmic")
    rng = random.Random(1)
    assert lm.bits(bytes(1000)) < 100
    assert lm.bits(b"abcdefgh" * 16) < 0.25 * 8 * 128
    dna = bytes(rng.choice(b"\x04\x05\x06\x07") for _ in range(128))
    assert lm.bits(dna) < 2.8 * 128            # 2 bits/symbol + learning the alphabet
    noise = bytes(rng.randrange(256) for _ in range(128))
    assert lm.bits(noise) < 8 * 128 * 1.10     # incompressible data: bounded overhead


def test_lmic_resets_per_item():
    lm = LMiC()
    a, b = b"first item " * 5, b"second one"
    blob_b = lm.encode(b)
    lm.encode(a)
    assert lm.encode(b) == blob_b and LMiC().decode(blob_b) == b


def test_lmic_takes_any_predictor():
    """The Predictor protocol: a uniform model codes n bytes in 8n bits + length + termination."""
    class Uniform:
        def predict(self, history: bytes) -> np.ndarray:
            return np.full(256, 1 / 256)

    lm = LMiC(predictor_factory=Uniform)
    data = bytes(range(200))
    assert lm.decode(lm.encode(data)) == data
    assert 8 * 200 < lm.bits(data) - elias_delta_bits(201) <= 8 * 200 + 2


# ---- the arithmetic coder ------------------------------------------------------------------------
def _code(symbols, cums):
    w = BitWriter()
    enc = Encoder(w)
    for s, cum in zip(symbols, cums):
        enc.encode(cum[s], cum[s + 1], cum[-1])
    enc.finish()
    assert enc.bit_length == len(w)
    r = BitReader(w.to_bytes())
    dec = Decoder(r)
    out = []
    for cum in cums:
        target = dec.decode_target(cum[-1])
        s = int(np.searchsorted(cum, target, side="right")) - 1
        dec.consume(cum[s], cum[s + 1], cum[-1])
        out.append(s)
    assert dec.finish() == len(w)
    return out, len(w)


@given(st.lists(st.tuples(st.lists(st.integers(1, 1 << 12), min_size=1, max_size=12),
                          st.integers(0, 1 << 30)), max_size=150))
def test_coder_round_trips_and_is_near_ideal(steps):
    cums, symbols, ideal_bits = [], [], 0.0
    for freqs, pick in steps:
        cum = [0]
        for f in freqs:
            cum.append(cum[-1] + f)
        s = pick % len(freqs)
        cums.append(cum)
        symbols.append(s)
        ideal_bits += -math.log2(freqs[s] / cum[-1])
    out, n_bits = _code(symbols, cums)
    assert out == symbols
    # within 2 termination bits (+ rounding, < 2^-12 bits per symbol at these totals) of ideal
    assert ideal_bits - 1e-9 <= n_bits + 1e-9 and n_bits <= ideal_bits + 2 + 1e-3 * len(steps) + 1


def test_coder_extreme_distributions():
    """Near-certain symbols (long pending chains / carries), the rare symbol, the largest total."""
    rare = [0, 1, MAX_TOTAL]                     # symbol 0: probability 2^-30
    sure = [0, MAX_TOTAL - 1, MAX_TOTAL]
    half = [0, MAX_TOTAL // 2, MAX_TOTAL]
    for symbols in ([1] * 3000, [0] * 20, [0, 1] * 40, [1] * 500 + [0] + [1] * 500):
        cums = [rare] * len(symbols)
        assert _code(symbols, cums)[0] == symbols
    assert _code([0] * 5000, [sure] * 5000)[0] == [0] * 5000
    rng = random.Random(3)
    mixed = [rng.choice([rare, sure, half, [0, 1, 2, 3]]) for _ in range(2000)]
    syms = [rng.randrange(len(c) - 1) for c in mixed]
    assert _code(syms, mixed)[0] == syms


def test_elias_delta():
    w = BitWriter()
    values = list(range(1, 600)) + [2**20 + 5, 2**40 - 1]
    for v in values:
        before = len(w)
        write_elias_delta(w, v)
        assert len(w) - before == elias_delta_bits(v)
    r = BitReader(w.to_bytes())
    assert [read_elias_delta(r, 2**41) for _ in values] == values


def test_quantise_keeps_every_byte_codable():
    p = np.zeros(256)
    p[17] = 1.0
    cum = quantise(p)
    assert cum[0] == 0 and cum[256] <= 1 << 16 and np.all(np.diff(cum) >= 1)


# ---- corrupt input -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_corrupt_blobs_raise_corrupt_input(name):
    b = get_baseline(name)
    blob = b.encode(b"a message long enough to be compressed, compressed, compressed")
    with pytest.raises(CorruptInput):
        b.decode(b"")
    with pytest.raises(CorruptInput):
        b.decode(blob[:-1])
    with pytest.raises(CorruptInput):
        b.decode(blob + b"\x01")


def test_lmic_rejects_impossible_lengths():
    w = BitWriter()
    write_elias_delta(w, 10**9)                  # a billion bytes cannot fit in a few bits
    w.write_uint(0, 40)
    with pytest.raises(CorruptInput, match="length"):
        LMiC().decode(w.to_bytes())


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=40)
@given(blob=st.binary(max_size=10), flip=st.integers(0, 10**6))
def test_garbage_never_escapes_as_another_error(name, blob, flip):
    """Random blobs and bit-flipped real blobs: CorruptInput or some bytes, nothing else."""
    b = get_baseline(name)
    real = bytearray(b.encode(b"flip me: 0123456789"))
    real[flip % len(real)] ^= 1 << (flip % 8)
    for candidate in (blob, bytes(real)):
        try:
            out = b.decode(candidate)
        except CorruptInput:
            continue
        assert isinstance(out, bytes)


# ---- KT data ----------------------------------------------------------------------------------
def test_kt_chunks_round_trip_and_lmic_beats_per_chunk_gzip(kt_data_dir):
    """A few 128-byte chunks of every modality: all baselines round trip; LMiC < per-chunk gzip."""
    for modality in ("text", "dna", "audio_8bit", "audio_16bit", "audio_mfcc"):
        data = (kt_data_dir / f"{modality}.bin").read_bytes()
        n_chunks = len(data) // 128
        chunks = [data[i * 128:(i + 1) * 128] for i in range(0, n_chunks // 2, n_chunks // 8)][:3]
        for chunk in chunks:
            for name in NAMES:
                _check(name, chunk)
        lmic = sum(get_baseline("lmic").bits(c) for c in chunks)
        gz = sum(get_baseline("gzip").bits(c) for c in chunks)
        assert lmic < 0.9 * gz, modality


# ---- zstd with a dictionary trained on dev ------------------------------------------------------
def test_zstd_dict_round_trips_and_its_dictionary_helps(monkeypatch):
    from ksynth.baselines import trained
    from ksynth.bench.datasets import Item

    monkeypatch.setattr(trained, "SYNTHETIC_DEV_DRAWS", 300)
    trained.zstd_dictionary.cache_clear()
    try:
        codec = get_baseline("zstd_dict").for_item(Item("synthetic", 0, b""))
        data = bytes(range(40, 90)) * 2
        blob = codec.encode(data)
        assert codec.decode(blob) == data and codec.bits(data) == 8 * len(blob)
        assert len(trained.zstd_dictionary("synthetic")) <= trained.ZSTD_DICT_BYTES
        with pytest.raises(CorruptInput):
            codec.decode(b"\x00garbage")
        with pytest.raises(CorruptInput):                 # unbound: no modality, no dictionary
            get_baseline("zstd_dict").encode(data)
    finally:
        trained.zstd_dictionary.cache_clear()
