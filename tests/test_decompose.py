"""Decompose: the reuse-aware interleave split estimate (tiny hand-made targets, no timing)."""
from __future__ import annotations

import random
import time

import pytest

from ksynth.config import Ablations
from ksynth.dsl.interp import run
from ksynth.dsl.score import kt_bits
from ksynth.search.decompose import Decomposer, ReuseHalf, reuse_cover, reuse_split_cost
from ksynth.search.ir import assemble
from ksynth.search.segment import costs_for

RNG = random.Random(3)
LIT = tuple(RNG.randrange(256) for _ in range(14))     # random literals: no cheaper program
LIT2 = tuple(RNG.randrange(256) for _ in range(9))
C = costs_for("kt")


def interleave(x, y):
    out = []
    for a, b in zip(x, y):
        out += (a, b)
    m = min(len(x), len(y))
    return tuple(out) + tuple(x[m:]) + tuple(y[m:])


def dec_program(target, **ablations):
    dec = Decomposer("kt", Ablations(**ablations), time.monotonic() + 60)   # a safety net only
    _, node = dec.solve(target)
    return assemble(node)


def literal_bits(n: int) -> float:
    return C.lit_line + n * C.lit_elem


def test_reuse_cover_literal_and_run():
    assert reuse_cover(ReuseHalf(LIT), C) == pytest.approx(literal_bits(len(LIT)))
    assert reuse_cover(ReuseHalf(tuple(range(10, 40, 3))), C) == pytest.approx(C.interval)


def test_reuse_cover_sees_own_copies():
    # plain, reversed, strided and repeated copies of the half's own prefix
    for tail in (LIT, LIT[::-1], LIT[::2], LIT[1::3], LIT + LIT):
        cost = reuse_cover(ReuseHalf(LIT + tail), C)
        assert cost < literal_bits(len(LIT)) + 3 * C.lit_elem, tail


def test_reuse_cover_copies_come_from_the_prefix_only():
    # the first occurrence pays in full: a copy of a LATER stretch is not a saving
    assert reuse_cover(ReuseHalf(LIT + (1, 200, 7) + LIT), C) >= literal_bits(len(LIT)) - 1e-9


def test_reuse_cover_copies_from_the_other_half():
    other = ReuseHalf(LIT2 + LIT)
    assert reuse_cover(ReuseHalf(LIT[::-1]), C, other) < 2 * C.lit_line
    assert reuse_cover(ReuseHalf(LIT[::-1]), C) == pytest.approx(literal_bits(len(LIT)))


def test_reuse_split_cost_prefers_the_true_split():
    # interleave(concatenate(range, L), M) followed by reverse(L): only the true split keeps
    # L and M contiguous, so it gets the lowest reuse-aware estimate
    x = tuple(range(40, 60)) + LIT
    t = interleave(x, LIT2) + LIT[::-1] + LIT2
    m = len(LIT2)

    def split_cost(k):
        xs, ys, tail = t[0:2 * k:2], t[1:2 * k:2], t[2 * k:]
        return reuse_split_cost(xs + tail, ys, C)

    true = split_cost(m)
    assert all(true < split_cost(k) for k in range(2, len(t) // 2) if k != m)


def test_reuse_estimate_finds_jumps_of_a_piece():
    # interleave(concatenate(L, range), M) + M[::2] + L: the flat estimate misses the split
    target = interleave(LIT + tuple(range(3, 30, 2)), LIT2) + LIT2[::2] + LIT
    on = dec_program(target)
    off = dec_program(target, reuse_estimate=False)
    assert run(on) == list(target) and run(off) == list(target)
    assert kt_bits(on) < kt_bits(off)


def test_values_outside_bytes_skip_the_reuse_estimate():
    # sub-targets (differences for scan_add) and user sequences may leave 0..255: the reuse
    # cover maps values to characters and must not be asked about them (this target, a list
    # interleaved with its reversal, made it look for copies)
    a = (-5, 9, -7, 3, 11, -2, 8, -9, 4)
    t = tuple(v for pair in zip(a, a[::-1]) for v in pair)
    cost, node = Decomposer("kt").solve(t)
    assert node.value == t and cost > 0
