"""The numba executor equals the reference interpreter: outputs, rejections, target matching.

Differential on 10,000 sampled KT programs, on mutations of them that hit every rejection rule,
and on hypothesis-generated programs over all ops with edge-case literals and small caps.
"""
from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, strategies as st

pytest.importorskip("numba")

from ksynth.dsl import executor, interp, jit  # noqa: E402
from ksynth.dsl.ops import OPS, PREDICATES, ArgKind  # noqa: E402
from ksynth.dsl.program import Line, Program, Ref  # noqa: E402
from ksynth.dsl.sample import sample  # noqa: E402
from ksynth.errors import ExecError, ProgramError, UsageError  # noqa: E402

LIM = interp.VALUE_LIMIT
# literals on both sides of every limit: value range, caps, zero, signs, beyond int64
EDGE_INTS = [0, 1, -1, 2, -2, 3, 7, -7, 255, 256, LIM - 1, -(LIM - 1), LIM, -LIM, 2**40, 10**30,
             -(10**30), 65535, 65536, 65537]


def reference(programs, max_len=interp.DEFAULT_MAX_LEN):
    return [interp.try_run(p, max_len) for p in programs]


def numba_outputs(programs, max_len=interp.DEFAULT_MAX_LEN, threads=1):
    status, ptr, flat = jit.run_flat(jit.lower(programs), max_len, threads=threads)
    return [flat[ptr[i]:ptr[i + 1]].tolist() if s == jit.OK else None
            for i, s in enumerate(status)]


def assert_same(programs, max_len=interp.DEFAULT_MAX_LEN, threads=1):
    want = reference(programs, max_len)
    got = numba_outputs(programs, max_len, threads)
    for p, w, g in zip(programs, want, got):
        assert g == w, f"max_len={max_len}\n{p}\nreference: {w}\nnumba:     {g}"


@pytest.fixture(scope="module")
def samples():
    return sample(10_000, seed=1234)


# ---- the op table -------------------------------------------------------------------------------
def test_every_op_has_a_jit_body():
    assert set(jit.JIT_BODIES) == set(OPS)
    assert (jit.CODE_MAP >= 0).all()
    assert len(set(jit.CODE_MAP.tolist())) == len(OPS)


def test_lower_then_unlower_is_identity(samples):
    progs = [s.program for s in samples[:500]]
    assert jit.unlower(jit.lower(progs)) == progs


# ---- differential: sampled programs -------------------------------------------------------------
def test_ten_thousand_sampled_programs(samples):
    progs = [s.program for s in samples]
    assert len(progs) == 10_000
    got = numba_outputs(progs)
    for s, g in zip(samples, got):
        assert g == s.sequence, str(s.program)
    assert reference(progs[:2000]) == got[:2000]


def _mutate(program: Program, rng: random.Random) -> Program:
    """One literal replaced by an edge value (or one predicate swapped): exercises rejections."""
    spots = [(i, j) for i, line in enumerate(program.lines) for j, a in enumerate(line.args)
             if not isinstance(a, Ref)]
    if not spots:
        return program
    i, j = rng.choice(spots)
    lines = list(program.lines)
    args = list(lines[i].args)
    old = args[j]
    if isinstance(old, str):
        args[j] = rng.choice(PREDICATES)
    elif isinstance(old, tuple):
        vals = list(old) or [0]
        vals[rng.randrange(len(vals))] = rng.choice(EDGE_INTS)
        args[j] = tuple(vals)
    else:
        args[j] = rng.choice(EDGE_INTS + [rng.randint(-300, 300)])
    lines[i] = Line(lines[i].op, tuple(args))
    return Program(tuple(lines), program.output)


def test_mutated_samples_agree_including_rejections(samples):
    rng = random.Random(7)
    progs = [_mutate(s.program, rng) for s in samples[:2000]]
    want = reference(progs)
    assert sum(w is None for w in want) > 100       # the mutations really do reach rejections
    assert_same(progs)
    assert_same(progs, max_len=40)                  # and a small cap rejects long outputs


def test_parallel_kernel_equals_serial(samples):
    rng = random.Random(3)
    progs = [_mutate(s.program, rng) for s in samples[:3000]]
    a = jit.run_flat(jit.lower(progs), threads=1)
    b = jit.run_flat(jit.lower(progs), threads=2)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


# ---- differential: hypothesis programs over all ops ---------------------------------------------
NUM = st.one_of(st.integers(-6, 12), st.sampled_from(EDGE_INTS), st.integers(-300, 300))
STEP = st.one_of(st.integers(-3, 6), st.sampled_from([0, -1, 7, LIM, 65536]))
COUNT = st.one_of(st.integers(-2, 9), st.sampled_from([0, 65536, 65537, LIM - 1, LIM]))


@st.composite
def programs(draw, max_lines=7):
    n = draw(st.integers(1, max_lines))
    lines = []
    for i in range(n):
        names = [name for name, spec in OPS.items() if i > 0 or spec.is_initiator]
        spec = OPS[draw(st.sampled_from(names))]
        args = []
        for kind in spec.args:
            if kind is ArgKind.REF:
                args.append(Ref(draw(st.integers(0, i - 1))))
            elif kind is ArgKind.REFS:
                args.extend(Ref(r) for r in draw(st.lists(st.integers(0, i - 1), min_size=1,
                                                          max_size=4)))
            elif kind is ArgKind.INTS:
                args.append(tuple(draw(st.lists(NUM, max_size=9))))
            elif kind is ArgKind.PRED:
                args.append(draw(st.sampled_from(PREDICATES)))
            elif kind is ArgKind.STEP:
                args.append(draw(STEP))
            elif kind is ArgKind.COUNT:
                args.append(draw(COUNT))
            else:
                args.append(draw(NUM))
        lines.append((spec.name, tuple(args)))
    return Program.build(lines, output=draw(st.integers(0, n - 1)))


@given(st.lists(programs(), min_size=1, max_size=40), st.sampled_from([0, 1, 8, 64, 65536]))
def test_random_programs_agree(progs, max_len):
    assert_same(progs, max_len)


@given(st.lists(programs(), min_size=1, max_size=20), st.data())
def test_match_equals_reference_comparison(progs, data):
    outs = reference(progs)
    pick = data.draw(st.sampled_from([o for o in outs if o is not None] or [[]]))
    target = pick + data.draw(st.lists(st.integers(-3, 3), max_size=2))
    batch = jit.lower(progs)
    exact = jit.match(batch, target) == jit.OK
    prefix = jit.match(batch, target, prefix=True) == jit.OK
    assert exact.tolist() == [o == target for o in outs]
    assert prefix.tolist() == [o is not None and o == target[:len(o)] for o in outs]


# ---- hand-written edge cases --------------------------------------------------------------------
EDGE_PROGRAMS = [
    # Python % sign rules, zero pairs dropped, filters on negatives
    "a = set_list([-7, 7, -8, 0, 5])\nb = set_list([2, -2, 0, -3, 3])\nc = modulo_two_lists(a, b)\noutput = c",
    "a = set_list([-7, 7, -8, 0])\nb = modulo_item_list(a, -3)\noutput = b",
    "a = set_list([-7, 7, -8, 0])\nb = modulo_item_list(a, 0)\noutput = a",
    "a = set_list([-3, -2, 0, 1, 2])\nb = filter(is_odd, a)\nc = filter(is_even, a)\nd = concatenate(b, c)\noutput = d",
    # slices with negative and out-of-range indices, jumps, empty lists everywhere
    "a = range_func_up(0, 9)\nb = get_subsequence_between_indices(a, -3, 100)\noutput = b",
    "a = range_func_up(0, 9)\nb = get_subsequence_between_indices(a, 7, -8)\noutput = b",
    "a = range_func_up(0, 9)\nb = get_subsequence_between_indices(a, -100, -1)\noutput = b",
    "a = range_func_up(5, 1)\nb = reverse_list(a)\nc = scan_add(b)\nd = max_n(c, 3)\noutput = d",
    "a = range_func_up(0, 9)\nb = get_subsequence_with_jumps(a, 0)\noutput = a",
    "a = range_func_up(0, 9)\nb = get_subsequence_with_jumps(a, 4)\noutput = b",
    # ranges: negative steps, step 0, empty
    "a = range_func_interval(10, -10, -3)\noutput = a",
    "a = range_func_interval(10, 20, -3)\noutput = a",
    "a = range_func_interval(1, 5, 0)\noutput = a",
    # counts, caps and values at the limits
    "a = repeat_num(65536, 1)\noutput = a",
    "a = repeat_num(65537, 1)\noutput = a",
    "a = repeat_num(-1, 1)\noutput = a",
    "a = range_func_up(1, 300)\nb = repeat_list(218, a)\noutput = b",
    "a = range_func_up(1, 300)\nb = repeat_list(219, a)\noutput = b",
    "a = set_list([])\nb = repeat_list(2147483647, a)\noutput = b",
    "a = repeat_num(3, 2147483647)\nb = add_item_list(a, 1)\noutput = a",
    "a = repeat_num(3, -2147483647)\nb = subtract_item_list(a, 1)\noutput = b",
    "a = repeat_num(3, 2147483648)\noutput = a",
    "a = set_list([1, 100000000000000000000000])\noutput = a",
    "a = repeat_num(40000, 100000)\nb = scan_add(a)\noutput = a",
    "a = repeat_num(3, 1073741824)\nb = add_two_lists(a, a)\noutput = b",
    "a = range_func_up(-2147483647, -2147483640)\nb = min_n(a, 2)\nc = max_n(a, 100)\nd = interleave(b, c)\noutput = d",
    "a = range_func_up(1, 5)\nb = max_n(a, -1)\noutput = a",
    "a = set_list([3, 1, 2, 3, 1])\nb = substitute(a, 3, -9)\nc = max_n(b, 4)\nd = min_n(b, 0)\ne = concatenate(c, d, c)\noutput = e",
    # dead lines still run: a rejected dead line rejects the program
    "a = range_func_up(1, 5)\nb = repeat_num(99999999, 1)\noutput = a",
]


@pytest.mark.parametrize("text", EDGE_PROGRAMS)
def test_edge_cases(text):
    assert_same([Program.parse(text)])
    assert_same([Program.parse(text)], max_len=100)


def test_arena_growth_and_full_output_regions(monkeypatch, samples):
    # 12 lines of 65536 elements overflow the initial arena
    lines = [("repeat_num", (65536, 5))] + [("add_item_list", (Ref(i), 1)) for i in range(11)]
    progs = [Program.build(lines)] + [Program.build([("range_func_up", (0, n))]) for n in
                                      (0, 127, 128, 129, 5000)]
    assert_same(progs)
    many = progs[1:] * 100 + progs[:1] + [s.program for s in samples[:500]]
    want = jit.run_flat(jit.lower(many), threads=1)
    # a 1-element budget per program fills every output region: chunks stop and resume
    monkeypatch.setattr(jit, "EST_OUT", 1)
    for threads in (1, 2):
        for x, y in zip(want, jit.run_flat(jit.lower(many), threads=threads)):
            np.testing.assert_array_equal(x, y)
        out = jit.run(jit.lower(many), threads=threads)          # spilled outputs, in place
        status, ptr, flat = want
        for p in range(len(many)):
            np.testing.assert_array_equal(out[p], flat[ptr[p]:ptr[p + 1]])


def test_outputs_in_place_and_reused_workspace(samples):
    progs = [s.program for s in samples[:2000]]
    batch = jit.lower(progs)
    work = jit.Workspace()
    for threads in (1, 2, 1, 2):                     # the same memory serves every call
        out = jit.run(batch, threads=threads, work=work)
        assert len(out) == len(progs)
        assert all(out[i].tolist() == s.sequence for i, s in enumerate(samples[:2000]))
        status, ptr, flat = jit.run_flat(batch, threads=threads, work=work)
        assert (status == jit.OK).all()
        assert flat[ptr[7]:ptr[8]].tolist() == samples[7].sequence
    size = work.nbytes
    jit.run(jit.lower(progs[:100]), threads=2, work=work)
    assert work.nbytes == size                       # smaller batches do not allocate again
    with_gaps = jit.run(batch, threads=2)
    assert with_gaps.values.shape[0] > int(with_gaps.length.sum())   # chunk regions, uncompacted


# ---- one program in a layout made ahead (the decoder's path) -------------------------------------
def one_in_layout(program, max_len, work=None):
    try:
        return jit.run_one(program, max_len, work=work).tolist()
    except ExecError:
        return None


def test_run_one_equals_reference(samples):
    rng = random.Random(5)
    progs = [s.program for s in samples[:1000]] + [_mutate(s.program, rng) for s in samples[:1000]]
    progs += [Program.parse(text) for text in EDGE_PROGRAMS]
    work = jit.Workspace()
    for max_len in (interp.DEFAULT_MAX_LEN, 40):
        for p in progs:
            assert one_in_layout(p, max_len, work) == interp.try_run(p, max_len), str(p)


@given(programs(max_lines=9), st.sampled_from([0, 1, 8, 64, 65536]))
def test_run_one_random_programs_agree(program, max_len):
    assert one_in_layout(program, max_len) == interp.try_run(program, max_len)


def test_layout_reuses_regions_of_lines_no_longer_read():
    # a chain of 12 lines of 65536: each line is read only by the next, so two regions suffice
    lines = [("repeat_num", (65536, 5))] + [("add_item_list", (Ref(i), 1)) for i in range(11)]
    program = Program.build(lines)
    at, cap, size = jit.layout(program)
    assert size == 2 * 65536 and cap.tolist() == [65536] * 12
    assert jit.run_one(program).tolist() == [16] * 65536
    # live at once -> disjoint; max_n sorts a whole copy of its list, so its region holds it
    p = Program.parse("a = range_func_up(1, 50)\nb = reverse_list(a)\nc = max_n(b, 3)\n"
                      "d = concatenate(a, c)\noutput = d")
    at, cap, size = jit.layout(p)
    assert cap.tolist() == [50, 50, 50, 53] and one_in_layout(p, 1000) == interp.run(p)
    assert at[2] >= at[0] + 50 or at[0] >= at[2] + 50


def test_malformed_arrays_are_refused():
    good = jit.lower([Program.parse("a = range_func_up(1, 3)\nb = reverse_list(a)\noutput = b")])
    lines = good.lines.copy()
    lines[1, 1] = 1                                  # reverse_list of itself: not an earlier line
    with pytest.raises(ProgramError):
        jit.run_flat(jit.Batch.from_arrays(lines, good.starts, good.outputs, good.pool))
    with pytest.raises(ProgramError):
        jit.Batch.from_arrays(good.lines, [0, 5], good.outputs)


# ---- the executor switch ------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["reference", "numba"])
def test_executor_backends_agree(monkeypatch, backend, samples):
    monkeypatch.setattr(executor, "backend", backend)
    rng = random.Random(11)
    progs = [_mutate(s.program, rng) for s in samples[:300]]
    want = reference(progs)
    assert executor.run_batch(progs) == want
    assert executor.run_batch(executor.lower(progs)) == want
    assert [executor.try_run(p) for p in progs[:50]] == want[:50]
    target = samples[0].sequence
    np.testing.assert_array_equal(executor.matches(progs, target), [w == target for w in want])
    np.testing.assert_array_equal(executor.matches(executor.lower(progs), target, prefix=True),
                                  [w is not None and w == target[:len(w)] for w in want])
    assert not executor.matches(progs, target + [2**70]).any()
    bad = Program.parse("a = range_func_up(1, 5)\nb = modulo_item_list(a, 0)\noutput = a")
    with pytest.raises(ExecError, match="line 2: modulo_item_list: modulus must not be 0"):
        executor.run(bad)
    assert executor.run(samples[1].program) == samples[1].sequence


def test_executor_env_choice(monkeypatch):
    monkeypatch.setenv("KSYNTH_EXECUTOR", "reference")
    assert executor._choose() == "reference"
    monkeypatch.setenv("KSYNTH_EXECUTOR", "numba")
    assert executor._choose() == "numba"
    monkeypatch.setenv("KSYNTH_EXECUTOR", "nunba")
    with pytest.raises(UsageError, match="reference, numba"):
        executor._choose()
