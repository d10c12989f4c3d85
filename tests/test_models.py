"""The ksynth dialect: modeled lists (models.py + rANS in encode.py), lpc, bytes_le, the predict
strategy, and the benchmark's charges. Tiny hand-built tables stand in for the trained priors
where a test needs control over them; the versioned priors are checked for shape and size."""
from __future__ import annotations

import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ksynth.config import SearchConfig
from ksynth.dsl import encode, models
from ksynth.dsl.interp import run
from ksynth.dsl.program import Program, Ref
from ksynth.errors import CorruptInput, ProgramError

RESIDUAL = models.MODEL_INDEX["residual"]
DNA = models.MODEL_INDEX["dna"]
TEXT = models.MODEL_INDEX["text"]
ROW_BITS = models.ROW_TOTAL.bit_length() - 1          # 12: the modeled rows' precision


def _bound_bits(p: Program) -> int:
    """ceil(log2 B) recomputed from the symbols, independently of encode.bits."""
    b = 1
    for s in reversed(encode.program_symbols(p)):
        if len(s) == 2:
            b *= s[1]
        else:
            c, f, t = s
            b = ((b - 1) // f) * t + c + (b - 1) % f + 1
    return (b - 1).bit_length()


def _round_trip(p: Program) -> int:
    data = encode.encode(p)
    assert encode.decode(data) == p
    n = encode.bits(p)
    assert n == _bound_bits(p) and len(data) == (n + 7) // 8
    return n


# ---- modeled lists --------------------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(-3000, 3000), max_size=80), st.integers(0, models.RESIDUAL_PARAMS - 1))
def test_residual_lists_round_trip_near_their_model_cost(values, param):
    p = Program.build([("modeled_list", (RESIDUAL, param, tuple(values))),
                       ("lpc", (Ref(0), (0, 1))), ("bytes_le", (Ref(1), 2))])
    # the raw digits (mantissa bits, signs) end the list: the rANS encoder takes them first, exactly,
    # and once they carry ROW_BITS the modeled buckets meet a state above their 12-bit frequencies;
    # with fewer raw bits (a short list of tiny residuals) the first buckets waste up to the rest
    raw = sum(math.log2(s[1]) for s in models.MODELS[RESIDUAL].symbols(values, param) if len(s) == 2)
    slack = 8 + max(0.0, ROW_BITS - raw)
    assert _round_trip(p) <= encode.program_bits_float(p) + slack
    alone = Program.build([("modeled_list", (RESIDUAL, param, tuple(values))), ("bytes_le", (Ref(0), 2))])
    assert _round_trip(alone) <= encode.program_bits_float(alone) + slack


# ---- forms: the commonest programs in their own code ------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(st.sampled_from(range(len(models.MODELS))), st.sampled_from(range(len(models.CHAINS))),
       st.integers(0, 15), st.lists(st.integers(0, 7), max_size=140),
       st.sampled_from([(0, 1), (0, 2, -1), (6, 100, -40), (3, 9, -1, 2)]))
def test_forms_round_trip(model, chain, param, values, predictor):
    param %= models.MODELS[model].param_radix
    if models.MODELS[model].kind == "small":
        lo, size = models.SmallModel.alphabet(param)
        values = [lo + v % size for v in values]
    lpc, last = models.CHAINS[chain]
    lines = [("modeled_list", (model, param, tuple(values)))]
    if lpc:
        lines.append(("lpc", (Ref(0), predictor)))
    if last:
        lines.append((last[0], (Ref(len(lines) - 1), last[1])))
    p = Program.build(lines)
    assert encode.program_form(p) == (model, chain)
    _round_trip(p)
    assert encode.bits(p) <= encode.program_bits_float(p) + 12


def _generic_cost(p: Program) -> float:
    return encode.header_bits(len(p.lines), p.output) + sum(
        encode.line_bits(l.op, l.args, i) for i, l in enumerate(p.lines))


def test_a_form_costs_one_symbol_where_the_generic_code_pays_a_header_and_op_digits():
    res = tuple(random.Random(8).randrange(-9, 10) for _ in range(128))
    a8 = models.MODEL_INDEX["residual_a8"]
    p = Program.build([("modeled_list", (a8, 1, res)), ("lpc", (Ref(0), (0, 1))),
                       ("bytes_le", (Ref(1), 1))])
    assert encode.program_form(p) == (a8, models.CHAINS.index((True, models.INT8)))
    saved = _generic_cost(p) - encode.program_bits_float(p)
    # header (5 + 1), two op digits (2 x 4.6), a reference, the width, the model digit, the
    # length (4.2): about 25 bits, less the form symbol and the trained param / predictor rows
    assert saved > 12
    # output not the last line, or another shape: the generic code, and it still round trips
    for q in (Program.build(p.lines, 1),
              Program.build([("modeled_list", (a8, 1, res)), ("reverse_list", (Ref(0),))])):
        assert encode.program_form(q) is None
        _round_trip(q)
        assert encode.program_bits_float(q) == pytest.approx(_generic_cost(q))


def test_a_form_written_with_the_generic_code_is_rejected():
    rng = random.Random(9)
    p = Program.build([("modeled_list", (DNA, 0, tuple(rng.randrange(8) for _ in range(40))))])
    symbols = encode._op_symbol("modeled_list", 0) + [encode._generic_form_symbol()] + \
        encode.header_symbols(1, 0)
    symbols += encode._arg_symbols("modeled_list", p.lines[0].args, 0)
    n = 0
    for s in reversed(symbols):
        if len(s) == 2:
            n = n * s[1] + s[0]
        else:
            c, f, t = s
            n = (n // f) * t + c + n % f
    data = n.to_bytes(((encode._message_count(symbols) - 1).bit_length() + 7) // 8, "little")
    with pytest.raises(CorruptInput, match="generic"):
        encode.decode(data)
    assert encode.decode(encode.encode(p)) == p


def test_kt_programs_pay_only_line_0s_op_row():
    """The forms changed the stream order, not a KT program's symbols; the first-op row changed
    line 0's op from a digit of radix 5 to one of radix 16. So each length is the one pinned from
    the code before the forms (commit a04010a) times 16 / 5 in its message count: 1 or 2 bits more."""
    from ksynth.dsl.sample import sample

    rows = sample(300, seed=11)
    lengths = [encode.bits(r.program) for r in rows]
    before = [509, 130, 143, 346, 21, 405, 55, 87, 25, 81]
    for new, old, r in zip(lengths, before, rows):
        m = encode._message_count(encode.program_symbols(r.program))
        assert m % 16 == 0 and (m // 16 * 5 - 1).bit_length() == old and new - old in (1, 2)
    assert sum(lengths) == 63491


def test_line_0s_op_row():
    assert encode.first_op_bits("modeled_list") == pytest.approx(math.log2(16 / 12))
    assert all(encode.first_op_bits(op) == 4.0 for op in encode.INITIAL_OPS if op != "modeled_list")
    p = Program.build([("range_func_up", (1, 5))])
    assert encode.program_symbols(p)[0] == (encode.INITIAL_OPS.index("range_func_up"), 16)


def test_program_prior_round_trips_through_its_file(tmp_path):
    forms = [1.0] * models.n_forms()
    forms[3] = 500.0
    size = models.write_program_prior(tmp_path / "f.prior", forms, {1: [9.0] + [1.0] * 15},
                                      {1: [1.0] * len(models.predictor_book().entries) + [3.0]})
    assert size == (tmp_path / "f.prior").stat().st_size
    prior = models.read_program_prior(tmp_path / "f.prior")
    freqs, cums, total = prior.form_row()
    assert freqs[3] > 100 * freqs[0] and cums[4] == cums[3] + freqs[3]
    assert prior.param_row(1)[0][0] > 5 * prior.param_row(1)[0][1]
    assert prior.param_row(2)[0] == (1,) * models.RESIDUAL_PARAMS           # no row: uniform
    assert prior.predictor_row(1)[0][-1] > prior.predictor_row(1)[0][0]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 7), max_size=150))
def test_dna_lists_round_trip(values):
    p = Program.build([("modeled_list", (DNA, 0, tuple(values)))])
    n = _round_trip(p)
    # alone in its program the list pays the rANS tail: a few bits over the additive cost (a
    # list of a few values, whose case symbols are in the tail too, up to about 10)
    assert n <= encode.program_bits_float(p) + (6 if len(values) > 24 else 12)


def test_dna_case_runs_cost_little():
    rng = random.Random(6)
    bases = [rng.randrange(4) for _ in range(128)]
    model = models.MODELS[DNA]
    upper = model.cost(tuple(bases), 0)
    lower = model.cost(tuple(b + 4 for b in bases), 0)
    one_run = model.cost(tuple(b + 4 * (30 <= i < 70) for i, b in enumerate(bases)), 0)
    noisy = model.cost(tuple(b + 4 * rng.randrange(2) for b in bases), 0)
    assert abs(upper - lower) < 3                     # the first case: about a bit
    assert one_run - upper < 25                       # two switches: their count and where
    assert noisy - upper > 100                        # ~64 switches anywhere: ~a bit a symbol
    alternating = [b + 4 * (i % 2) for i, b in enumerate(bases)]     # 127 switches: no choice
    for values in (bases, alternating, [b + 4 * (30 <= i < 70) for i, b in enumerate(bases)], [4] * 20, [1]):
        _round_trip(Program.build([("modeled_list", (DNA, 0, tuple(values)))]))


@settings(max_examples=15, deadline=None)
@given(st.binary(max_size=140))
def test_text_lists_round_trip(data):
    _round_trip(Program.build([("modeled_list", (TEXT, 0, tuple(data)))]))


def _stream(symbols) -> bytes:
    n = 0
    for s in reversed(symbols):
        if len(s) == 2:
            n = n * s[1] + s[0]
        else:
            c, f, t = s
            n = (n // f) * t + c + n % f
    return n.to_bytes(((encode._message_count(symbols) - 1).bit_length() + 7) // 8, "little")


def test_text_lists_are_capped_where_the_net_decodes_in_under_a_second():
    cap = models.MODELS[TEXT].max_len
    assert cap == models.TEXT_MAX_LEN < models.MAX_MODELED_LEN
    for n in (cap + 1, models.MAX_MODELED_LEN):
        values = (97,) * n
        for p in (Program.build([("modeled_list", (TEXT, 0, values))]),              # a form
                  Program.build([("modeled_list", (TEXT, 0, values)), ("reverse_list", (Ref(0),))])):
            with pytest.raises(ProgramError, match=f"at most {cap} values"):
                encode.bits(p)
        # a stream naming such a list stops at its length, before any byte is decoded
        prior = models.program_prior()
        head = encode._op_symbol("modeled_list", 0) + [encode._row_symbol(
            prior.form_row(), encode._form_index(TEXT, models.CHAINS.index((False, None))))]
        head += [encode._row_symbol(prior.param_row(TEXT), 0)] if models.MODELS[TEXT].param_radix > 1 else []
        long = [(models.STD_LEN_FREQ, models.STD_LEN_TOTAL - models.STD_LEN_FREQ, models.STD_LEN_TOTAL)]
        with pytest.raises(CorruptInput, match="too long"):
            encode.decode(_stream(head + long + encode.BLOCK.symbols(n) + [(1, 2)] * 64))
    _round_trip(Program.build([("modeled_list", (TEXT, 0, (97,) * cap))]))


def test_models_refuse_what_they_cannot_code():
    with pytest.raises(ProgramError, match="0..7"):
        encode.bits(Program.build([("modeled_list", (DNA, 0, (1, 8)))]))
    with pytest.raises(ProgramError, match="0..255"):
        encode.bits(Program.build([("modeled_list", (TEXT, 0, (300,)))]))
    with pytest.raises(ProgramError, match="does not exist"):
        encode.bits(Program.build([("modeled_list", (len(models.MODELS), 0, (1,)))]))
    with pytest.raises(ProgramError, match="parameter"):
        encode.bits(Program.build([("modeled_list", (RESIDUAL, models.RESIDUAL_PARAMS, (1,)))]))
    with pytest.raises(ProgramError, match="2\\^32"):
        encode.bits(Program.build([("modeled_list", (RESIDUAL, 0, (1 << 32,)))]))


def test_small_alphabets_cost_their_runs():
    small = models.MODEL_INDEX["small"]
    model = models.MODELS[small]
    binary = models.SmallModel.param_of(-1, 2)
    assert models.SmallModel.alphabet(binary) == (-1, 2)
    runs = tuple([-1] * 40 + [0] * 30 + [-1] * 58)
    rng = random.Random(4)
    noise = tuple(rng.choice((-1, 0)) for _ in range(128))
    assert model.cost(runs, binary) < 24 < 100 < model.cost(noise, binary)   # 24: the coarse tail rows
    assert model.cost((3,) * 128, models.SmallModel.param_of(3, 1)) == 0     # one value: nothing
    with pytest.raises(ProgramError, match="codes -1..0"):
        model.cost((1,), binary)
    for values, param in ((runs, binary), (noise, binary), ((3,) * 9, models.SmallModel.param_of(3, 1)),
                          ((-8, -5, -7, -6), models.SmallModel.param_of(-8, 4))):
        p = Program.build([("modeled_list", (small, param, values)), ("bytes_le", (Ref(0), 1))])
        _round_trip(p)
        assert run(p) == [v & 255 for v in values]


def test_a_skewed_list_costs_its_entropy_not_eight_bits_a_value():
    rng = random.Random(3)
    dna = tuple(rng.choice((4, 4, 4, 5, 6, 7)) for _ in range(128))      # ~1.8 bits a symbol
    lit = Program.build([("set_list", (dna,))])
    mod = Program.build([("modeled_list", (DNA, 0, dna))])
    assert encode.bits(mod) < 0.3 * 8 * 128 < encode.bits(lit)
    quiet = tuple(rng.choice((0, 0, 0, 0, 0, 1, -1)) for _ in range(128))
    assert encode.bits(Program.build([("modeled_list", (RESIDUAL, 0, quiet))])) < 2 * 128


def test_corrupt_streams_raise_and_never_hang():
    rng = random.Random(5)
    p = Program.build([("modeled_list", (DNA, 0, tuple(rng.randrange(8) for _ in range(100)))),
                       ("bytes_le", (Ref(0), 1))])
    data = encode.encode(p)
    for bad in (data[:-1], data + b"\x00", data + b"\x01", data[:len(data) // 2]):
        with pytest.raises(CorruptInput):
            encode.decode(bad)
    for _ in range(200):                      # random bytes: a program or CorruptInput, quickly
        blob = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))
        try:
            q = encode.decode(blob)
        except CorruptInput:
            continue
        assert encode.encode(q) == blob       # what decodes is canonical


def test_tiny_trained_tables():
    """The training helpers' outputs are valid models: rows sum to ROW_TOTAL, every value codable."""
    counts = [[0] * models.N_BUCKETS for _ in range(models.N_CTX)]
    for ctx in range(models.N_CTX):
        counts[ctx][0] = 50
        counts[ctx][1] = 10
    rows = models._rows_from_counts(counts)
    assert all(sum(r) == models.ROW_TOTAL and min(r) >= 1 for r in rows)
    tiny = models.ResidualModel("tiny", rows=rows)
    cheap = tiny.cost((0,) * 64, 0)
    assert cheap < 64 * 0.5 < tiny.cost((1, -1) * 32, 0)
    q = models.quantise_row([900, 90, 9, 1])
    assert list(q) == sorted(q) and models.log_row(q)[0] > 10 * models.log_row(q)[2]
    assert sum(models.coarse([4000, 90, 5, 1])) == models.TAIL_TOTAL
    assert min(models.coarse([4000, 90, 5, 1])) >= 1


def test_versioned_priors_load_with_their_documented_shapes():
    for name in ("residual_a8", "residual_a16", "residual_mfcc"):
        rows = models.MODELS[models.MODEL_INDEX[name]].rows
        assert len(rows) == models.N_CTX and all(len(r) == models.N_BUCKETS for r in rows)
    base, first, switches = models.MODELS[DNA].tables
    assert len(base) == 4 ** models.DNA_ORDER and len(first) == 2
    assert len(switches) == models.CASE_K_MAX + 2
    assert models.MODELS[TEXT].net.hidden > 0                         # text_net.prior (test_textnet.py)
    book = models.predictor_book()
    assert book.entries[:3] == models.FIXED_PREDICTORS and len(book.entries) <= 128
    for files in models.MODALITY_PRIORS.values():
        assert all(0 < models.prior_bytes(f) < 40_000 for f in files)    # small files, charged


def test_residual_prior_round_trips_and_models_the_top_mantissa_bit(tmp_path):
    rows = models.MODELS[RESIDUAL].rows
    low = tuple(3000 for _ in range(models.N_TOP))            # P(top bit = 0) = 3000 / 4096
    first = models._rows_from_counts([[1] * 9 + [1000] + [1] * (models.N_BUCKETS - 10)])[0]
    size = models.write_residual(tmp_path / "r.prior", rows, first, low)
    assert size == (tmp_path / "r.prior").stat().st_size
    assert models.read_residual(tmp_path / "r.prior") == (rows, first, low)
    tiny = models.ResidualModel("tiny", rows=rows, top=low)
    # the first value's own row: a bucket-9 start (256..511) is cheap under it, dear without it
    starts = models.ResidualModel("starts", rows=rows, top=low, first=first)
    loud_start = (300,) + tuple([40, -37, 33, -45] * 20)
    assert starts.cost(loud_start, 6) < tiny.cost(loud_start, 6) - 3
    assert starts.cost(loud_start[1:], 6) > tiny.cost(loud_start[1:], 6) + 3     # but not a 40
    assert sum(math.log2(s[2] / s[1]) if len(s) == 3 else math.log2(s[1])
               for s in starts.symbols(loud_start, 6)) == pytest.approx(starts.cost(loud_start, 6))
    lower = tuple([40, -37, 33, -45] * 20)                     # 32..47: top bit 0 in bucket 6
    upper = tuple([56, -60, 49, -63] * 20)                     # 48..63: top bit 1
    assert tiny.cost(lower, 6) < models.MODELS[RESIDUAL].cost(lower, 6) < tiny.cost(upper, 6)
    for values in (lower, upper, (0, 1, -1, 2, 3, -5, 1000)):
        p = Program.build([("modeled_list", (RESIDUAL, 6, values)), ("bytes_le", (Ref(0), 2))])
        assert encode.decode(encode.encode(p)) == p
    assert sum(math.log2(s[1]) if len(s) == 2 else math.log2(s[2] / s[1])
               for s in tiny.symbols(lower, 6)) == pytest.approx(tiny.cost(lower, 6))


def test_predictor_book_round_trips_through_its_file(tmp_path):
    entries = [(6, 60, -30), (5, 40)]
    size = models.write_book(tmp_path / "book.prior", entries)
    assert size == (tmp_path / "book.prior").stat().st_size
    assert models.read_book(tmp_path / "book.prior") == tuple(entries)


def test_book_predictors_cost_one_digit():
    book = models.predictor_book()
    digit = math.log2(len(book.entries) + 1)
    assert encode.CODERS["predictor"].bits((0, 1), (), None, 1) == pytest.approx(digit)
    explicit = encode.CODERS["predictor"].bits((9, 300, -200, 17), (), None, 1)
    assert explicit > digit + 4 + 3 * (9 + 3)


# ---- jit == interp on the ksynth ops ------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-2000, 2000), max_size=40), st.integers(0, 15),
       st.lists(st.integers(-300, 300), min_size=0, max_size=6),
       st.sampled_from((models.INT8, models.INT16, models.ONES8)))
def test_jit_agrees_with_the_interpreter(res, shift, coeffs, last):
    from ksynth.dsl import jit
    from ksynth.dsl.interp import try_run

    p = Program.build([("modeled_list", (RESIDUAL, 0, tuple(res))),
                       ("lpc", (Ref(0), (shift,) + tuple(coeffs))),
                       (last[0], (Ref(1), last[1]))])
    want = try_run(p)
    out = jit.run(jit.lower([p]))
    assert jit.unlower(jit.lower([p]))[0] == p
    if want is None:
        assert out.status[0] != jit.OK
    else:
        assert list(out[0]) == want


# ---- the predict strategy --------------------------------------------------------------------------
def _ar2_int16(n: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    y = np.zeros(n)
    for k in range(2, n):
        y[k] = 1.6 * y[k - 1] - 0.8 * y[k - 2] + rng.normal(0, 40)
    return np.round(y).astype("<i2").tobytes()


def test_predict_finds_a_verified_predictor_program():
    from ksynth.search.predict import PredictStrategy

    data = _ar2_int16(64, 1)
    cfg = SearchConfig(objective="bits")
    res = PredictStrategy().search(list(data), cfg, deadline=float("inf"))
    assert run(res.program) == list(data)
    assert [line.op for line in res.program.lines] == ["modeled_list", "lpc", "bytes_le"]
    literal = encode.bits(Program.build([("set_list", (tuple(data),))]))
    assert res.bits < 0.75 * literal


def test_the_portfolio_polishes_a_predict_program():
    """The portfolio polishes every program it checks; polish prices each line at every position,
    line 0 included, whatever its op (a KeyError at 5e80e06 on every bits-objective audio chunk)."""
    from ksynth.search.portfolio import Portfolio

    data = list(_ar2_int16(64, 1))
    res = Portfolio(SearchConfig(objective="bits", strategies=("predict",))).search(data)
    assert res.verified and run(res.program) == data
    assert res.program.lines[0].op == "modeled_list" and res.bits == encode.bits(res.program)


def test_predict_reads_ones_complement_bytes_through_modulo_255():
    from ksynth.search.predict import PredictStrategy, best_residual_code, candidates, readings, residuals

    rng = np.random.default_rng(3)
    y = np.zeros(128)
    for k in range(1, 128):                       # a small signal that crosses zero often
        y[k] = 0.7 * y[k - 1] + rng.normal(0, 3)
    v = np.clip(np.round(y), -127, 127).astype(int)
    data = [int(x) % 255 for x in v]              # -1 -> 254, -127 -> 128: no byte 255
    assert max(data) >= 128 and 255 not in data
    ones = [s for last, s in readings(np.array(data)) if last == models.ONES8]
    assert ones and list(ones[0]) == list(v)
    res = PredictStrategy().search(data, SearchConfig(objective="bits"), deadline=float("inf"))
    assert run(res.program) == data
    assert res.program.lines[-1].op == "modulo_item_list" and res.program.lines[-1].args[1] == 255
    assert encode.program_form(res.program)[1] == models.CHAINS.index((True, models.ONES8))
    assert encode.decode(encode.encode(res.program)) == res.program
    # the same bytes read as int8 (-1 -> -2, ...): every sign change is a step of one more
    best = {}
    for last, s in readings(np.array(data)):
        for pred in candidates(s)[1:]:
            r = tuple(int(x) for x in residuals(s, pred))
            best[last] = min(best.get(last, float("inf")), best_residual_code(r, predictor=pred, last=last)[0])
    assert best[models.ONES8] < best[models.INT8] - 4


def test_predict_gives_every_reading_a_turn_under_a_short_budget(monkeypatch):
    import ksynth.search.predict as predict

    rng = np.random.default_rng(3)
    data = [int(x) % 255 for x in np.clip(np.round(rng.normal(0, 20, 128)), -127, 127)]
    tried, clock = [], [0.0]
    real = predict.best_residual_code

    def counted(res, predictor=(), last=models.INT8, **kw):
        tried.append(last)
        clock[0] += 1.0                           # each candidate costs one fake second
        return real(res, predictor=predictor, last=last, **kw)

    monkeypatch.setattr(predict, "best_residual_code", counted)
    monkeypatch.setattr(predict.time, "monotonic", lambda: clock[0])
    rounds = 3
    res = predict.PredictStrategy().search(data, SearchConfig(objective="bits"),
                                           deadline=rounds * len(predict.readings(np.array(data))))
    assert run(res.program) == data
    # int8 first, ones' complement last among the readings: both are tried, equally often
    assert models.ONES8 in tried and tried.count(models.INT8) <= tried.count(models.ONES8) + 2
    assert len(tried) < 8 * rounds                # the budget was kept: no reading ran to its end


def test_predict_stays_out_of_the_kt_objective():
    from ksynth.search.portfolio import Portfolio
    from ksynth.search.predict import PredictStrategy

    assert PredictStrategy().search([1, 2, 3], SearchConfig(objective="kt"), float("inf")) is None
    assert "predict" not in [s.name for s in Portfolio(SearchConfig(objective="kt"))._strategies]
    assert "predict" in [s.name for s in Portfolio(SearchConfig(objective="bits"))._strategies]


def test_portfolio_returns_model_programs_under_bits():
    from ksynth.search.portfolio import Portfolio

    rng = random.Random(2)
    dna = [rng.choice((0, 1, 2, 3)) for _ in range(128)]
    cfg = SearchConfig(objective="bits", strategies=("predict",))
    res = Portfolio(cfg).search(dna)
    assert res.verified and res.program.lines[0].op == "modeled_list"
    assert "modeled_list(" in res.program.format()          # readable KT-style lines


# ---- charges ------------------------------------------------------------------------------------------
def test_charges_share_priors_and_decoder_over_the_split(monkeypatch):
    from ksynth.bench import charges

    monkeypatch.setattr(charges, "split_chunks", lambda modality, split, directory=None: 1000)
    prog = Program.build([("modeled_list", (models.MODEL_INDEX["residual_a8"], 0, (1, 2))),
                          ("lpc", (Ref(0), (0, 1))), ("bytes_le", (Ref(1), 1))]).format()
    assert charges.program_priors(prog) == (models.FORMS_FILE, "residual_a8.prior", models.BOOK_FILE)
    row = {"modality": "audio_8bit", "split": "test", "method": "ksynth", "bits": 100.0, "program": prog}
    out = charges.charge(row)
    prior = 8 * sum(models.prior_bytes(f) for f in
                    (models.FORMS_FILE, "residual_a8.prior", models.BOOK_FILE))
    assert out["bits_charged"] == pytest.approx(100 + prior / 1000)
    assert out["decoder_bits"] == pytest.approx(8 * charges.decoder_bytes("ksynth") / 1000)
    gz = charges.charge(dict(row, method="gzip", program=None))
    assert gz == {"bits_charged": 100.0, "decoder_bits": 0.0}
    assert charges.charge(dict(row, modality="synthetic")) == {"bits_charged": None, "decoder_bits": None}
