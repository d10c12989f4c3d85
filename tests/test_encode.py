"""encode.py: exact round trips, bits == stream length, additive line costs, corrupt input."""
from __future__ import annotations

import math
import os
import random

import pytest
from hypothesis import given, settings, strategies as st

from ksynth.dsl.encode import (ALL_OPS, INITIAL_OPS, bits, decode, encode, header_bits, kt_bits,
                               line_bits, program_bits_float)
from ksynth.dsl.ops import OPS, PREDICATES, ArgKind
from ksynth.dsl.program import Line, Program, Ref
from ksynth.errors import CorruptInput, ProgramError

SLOW = os.environ.get("KSYNTH_SLOW") == "1"

EXAMPLES = [
    "sequence_1 = range_func_up(3, 9)\noutput = sequence_1",
    "sequence_1 = set_list([])\noutput = sequence_1",
    "sequence_1 = range_func_interval(200, -1, -7)\nsequence_2 = repeat_list(0, sequence_1)\n"
    "sequence_3 = repeat_list(40, sequence_2)\noutput = sequence_1",
    "sequence_1 = repeat_num(0, -300)\nsequence_2 = repeat_num(1000, 255)\n"
    "sequence_3 = concatenate(sequence_2)\nsequence_4 = concatenate(sequence_1, sequence_2, sequence_3, "
    "sequence_3, sequence_1)\nsequence_5 = filter(is_not_zero, sequence_4)\noutput = sequence_3",
    "sequence_1 = set_list([0, 255, 256, -1, 2147483647, -2147483647])\n"
    "sequence_2 = get_subsequence_with_jumps(sequence_1, 1)\n"
    "sequence_3 = get_subsequence_between_indices(sequence_2, -3, 99999)\n"
    "sequence_4 = substitute(sequence_3, 7, -7)\nsequence_5 = max_n(sequence_4, 2)\n"
    "sequence_6 = modulo_two_lists(sequence_5, sequence_1)\nsequence_7 = scan_add(sequence_6)\n"
    "output = sequence_7",
]


def _arg(draw, kind: ArgKind, op: str, i: int):
    num = st.one_of(st.integers(0, 255), st.integers(-2**31 + 1, 2**31 - 1))
    if kind is ArgKind.REF:
        return Ref(draw(st.integers(0, i - 1)))
    if kind is ArgKind.NUM:
        return draw(num)
    if kind is ArgKind.INTS:
        return tuple(draw(st.lists(num, max_size=40)))
    if kind is ArgKind.COUNT:
        return draw(st.integers(0, 5000))
    if kind is ArgKind.PRED:
        return draw(st.sampled_from(PREDICATES))
    if op == "get_subsequence_with_jumps":
        return draw(st.integers(1, 300))
    if op == "repeat_list":
        return draw(st.integers(0, 300))
    return draw(st.integers(-300, 300).filter(lambda v: v != 0))


# the KT dialect's ops take any value their kinds allow; the ksynth dialect's (models, shifts,
# widths) have their own round trips in tests/test_models.py
KT_INITIAL = tuple(n for n in INITIAL_OPS if OPS[n].dialect == "kt")
KT_ALL = tuple(n for n in ALL_OPS if OPS[n].dialect == "kt")


@st.composite
def programs(draw):
    n = draw(st.integers(1, 40))
    lines = []
    for i in range(n):
        name = draw(st.sampled_from(KT_INITIAL if i == 0 else KT_ALL))
        spec = OPS[name]
        if spec.variadic:
            args = tuple(Ref(draw(st.integers(0, i - 1))) for _ in range(draw(st.integers(1, 6))))
        else:
            args = tuple(_arg(draw, k, name, i) for k in spec.args)
        lines.append(Line(name, args))
    return Program.build(lines, draw(st.integers(0, n - 1)))


@settings(max_examples=1000 if SLOW else 80, deadline=None)
@given(programs())
def test_round_trip_and_exact_length(p):
    data = encode(p)
    assert decode(data) == p
    n = bits(p)
    assert len(data) == (n + 7) // 8
    total = program_bits_float(p)
    # bits = ceil(sum of log2 radices): the float sum is within one bit below it
    assert total - 1e-6 <= n < total + 1 + 1e-6


def test_examples_round_trip():
    for text in EXAMPLES:
        p = Program.parse(text)
        assert decode(encode(p)) == p, text


def test_sampled_programs_round_trip():
    sample = pytest.importorskip("ksynth.dsl.sample").sample
    rows = sample(2000 if SLOW else 400, seed=7)
    for row in rows:
        p = row.program
        data = encode(p)
        assert decode(data) == p
        assert abs(program_bits_float(p) - bits(p)) < 1 + 1e-9


OP_BITS = math.log2(len(ALL_OPS))      # a later line's op: uniform over the whole table
INIT_BITS = 4.0                        # line 0's op, a KT initiator: 1 / 16 (encode.FIRST_OP_FREQS)


def test_line_bits_are_the_documented_alphabets():
    assert line_bits("range_func_up", (3, 9), 0) == pytest.approx(INIT_BITS + math.log2(257) + math.log2(33))
    assert line_bits("reverse_list", (Ref(0),), 1) == pytest.approx(OP_BITS)    # ref forced
    # lengths in disguise use SPAN: window 1..32, escape outward (33, 0, 34, -1, ...)
    assert line_bits("range_func_up", (0, 99), 0) == pytest.approx(INIT_BITS + math.log2(257) + math.log2(33) + 15)          # 100 = 33 + 67: rank 134, gamma 15 bits
    assert line_bits("range_func_up", (5, 4), 0) == pytest.approx(INIT_BITS + math.log2(257) + math.log2(33) + 3)
    # range_func_interval: s, k, then the end as (length, offset past the tight end)
    tight = line_bits("range_func_interval", (3, 28, 2), 0)     # 3, 5, ..., 27: 13 values
    assert tight == pytest.approx(INIT_BITS + math.log2(257) + math.log2(9) + math.log2(33) + 1)
    loose = line_bits("range_func_interval", (3, 30, 5), 0)     # tight end 29, r = 1
    assert loose == pytest.approx(INIT_BITS + math.log2(257) + math.log2(9) + math.log2(33) + 1 + 2)
    assert line_bits("max_n", (Ref(0), 5), 1) == pytest.approx(OP_BITS + math.log2(33))
    assert line_bits("get_subsequence_between_indices", (Ref(0), 2, 10), 1) == pytest.approx(
        OP_BITS + math.log2(257) + math.log2(33))
    assert line_bits("reverse_list", (Ref(2),), 5) == pytest.approx(OP_BITS + math.log2(5))
    assert line_bits("filter", ("is_odd", Ref(0)), 4) == pytest.approx(
        OP_BITS + math.log2(3) + 2)
    # a value outside 0..255 pays the escape plus a gamma code; 256 is the cheapest escape
    assert line_bits("repeat_num", (5, 256), 0) == pytest.approx(INIT_BITS + math.log2(33) + math.log2(257) + 1)
    assert line_bits("repeat_num", (5, 256), 0) < line_bits("repeat_num", (5, 1000), 0)
    # concatenate's arity is paid for: three refs cost more than two
    two = line_bits("concatenate", (Ref(0), Ref(1)), 3)
    three = line_bits("concatenate", (Ref(0), Ref(1), Ref(2)), 3)
    assert three == pytest.approx(two + math.log2(3))
    assert header_bits(1) == pytest.approx(math.log2(33))
    assert header_bits(5, 2) == pytest.approx(math.log2(33) + 1 + 2)


def test_output_not_last_costs_more():
    a = Program.parse("sequence_1 = range_func_up(1, 5)\nsequence_2 = reverse_list(sequence_1)\n"
                      "sequence_3 = reverse_list(sequence_1)\noutput = sequence_3")
    b = Program.build(a.lines, 1)
    assert bits(b) > bits(a) and decode(encode(b)) == b


def test_kt_bits_reexported():
    p = Program.parse(EXAMPLES[0])
    assert kt_bits(p) == pytest.approx(math.log2(25) * 2 + 16)


def test_unencodable_values_are_program_errors():
    with pytest.raises(ProgramError):
        encode(Program.build([("range_func_interval", (1, 9, 0))]))
    with pytest.raises(ProgramError):
        encode(Program.build([("repeat_num", (-1, 3))]))


def test_corrupt_and_truncated_input_raise():
    p = Program.parse(EXAMPLES[4])
    data = encode(p)
    with pytest.raises(CorruptInput):
        decode(b"")
    with pytest.raises(CorruptInput):
        decode(data + b"\x00")                  # a trailing byte the program does not account for
    for cut in range(1, len(data)):
        try:
            q = decode(data[:cut])
        except CorruptInput:
            continue
        assert q != p


@settings(max_examples=300 if SLOW else 100, deadline=None)
@given(st.binary(min_size=1, max_size=64))
def test_random_bytes_decode_or_raise_corrupt(data):
    try:
        p = decode(data)
    except CorruptInput:
        return
    assert encode(p) == data                     # anything that decodes is canonical


DECODE_SECONDS_LIMIT = 10.0     # generous: these 204 decodes take milliseconds; a hang blows it


def _decode_outcome(data: bytes) -> str:
    """"program" (and then it re-encodes to the same bytes) or "corrupt"; anything else fails."""
    try:
        p = decode(data)
    except CorruptInput:
        return "corrupt"
    assert encode(p) == data                     # what decodes is canonical
    return "program"


def test_all_ff_bytes_and_random_streams_end_with_a_program_or_corrupt_input():
    import time

    t0 = time.monotonic()
    # all-ones streams read as the longest runs of continuation digits: each must stop cleanly
    outcomes = [_decode_outcome(b"\xff" * n) for n in (1, 8, 64, 512)]
    assert outcomes[-1] == "corrupt"             # 512 bytes of 1s cannot be a canonical program
    rng = random.Random(3)
    streams = [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40))) for _ in range(200)]
    outcomes += [_decode_outcome(s) for s in streams]
    assert set(outcomes) <= {"program", "corrupt"}
    assert "corrupt" in outcomes
    assert time.monotonic() - t0 < DECODE_SECONDS_LIMIT


# ---- literal lists: PLAIN vs ENUMERATIVE --------------------------------------------------------------
def _literal(values) -> Program:
    return Program.build([("set_list", (tuple(values),))])


@settings(max_examples=300 if SLOW else 60, deadline=None)
@given(st.lists(st.integers(0, 255), min_size=30, max_size=300), st.integers(1, 256))
def test_long_literals_round_trip_with_either_code(values, alphabet):
    values = [v % alphabet for v in values]          # small alphabets make ENUMERATIVE win
    p = _literal(values)
    data = encode(p)
    assert decode(data) == p
    assert program_bits_float(p) - 1e-6 <= bits(p) < program_bits_float(p) + 1 + 1e-6


def test_enumerative_literal_beats_eight_bits_per_byte_on_low_entropy_data():
    rng = random.Random(4)
    dna_like = [rng.choice((4, 5, 6, 7)) for _ in range(128)]
    text_like = list(b"the quick brown fox jumps over the lazy dog and then some more text here. " * 2)[:128]
    assert bits(_literal(dna_like)) < 0.35 * 8 * 128         # about 2 bits a symbol + the counts
    assert bits(_literal(text_like)) < 0.8 * 8 * 128
    # on uniform bytes the choice costs one bit over the per-element code, never more
    from ksynth.dsl.encode import LENGTH
    uniform = tuple(rng.randrange(256) for _ in range(128))
    plain_bits = INIT_BITS + LENGTH.bits(128) + 128 * math.log2(257)
    assert line_bits("set_list", (uniform,), 0) <= plain_bits + 1 + 1e-9
    # short literals keep the per-element code: 8 bits and a bit each, no choice digit
    assert line_bits("set_list", ((1, 2, 3),), 0) == pytest.approx(INIT_BITS + math.log2(33) + 3 * math.log2(257))


def test_non_canonical_literal_choice_is_rejected():
    from ksynth.dsl import encode as enc

    values = (7,) * 40                                   # ENUMERATIVE is far cheaper here
    symbols = enc._op_symbol("set_list", 0) + enc.LINES.symbols(1)
    symbols += enc.LENGTH.symbols(40) + [(0, 2)]         # ... but the stream says PLAIN
    for v in values:
        symbols += enc.NUM.symbols(v)
    n, m = 0, 1
    for digit, radix in reversed(symbols):
        n = n * radix + digit
    for _, radix in symbols:
        m *= radix
    data = n.to_bytes(((m - 1).bit_length() + 7) // 8, "little")
    with pytest.raises(CorruptInput):
        decode(data)
    assert decode(encode(_literal(values))) == _literal(values)


def test_kt_data_chunks_round_trip_as_literals():
    import pathlib

    root = pathlib.Path(os.environ.get("KSYNTH_DATA_DIR",
                                       pathlib.Path(__file__).resolve().parents[1] / ".." / "shared" / "kt-data"))
    path = root / "text.bin"
    if not path.exists():
        pytest.skip(f"KT data not found at {root}")
    data = path.read_bytes()
    for k in (0, 17, 301):
        p = _literal(data[128 * k:128 * (k + 1)])
        assert decode(encode(p)) == p
        assert bits(p) < 8 * 128
