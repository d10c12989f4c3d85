"""The KT synthetic distribution (KT.md section 4): random programs and the sequences they print.

A draw builds lines in passes (initiators, list updates, math, scan, filter, two-list), then folds
every kept sequence into one output. Each pass walks the sequence list *as it grows*: a sequence a
pass creates is itself visited later in the same pass (repeat of a repeat, substitute of a
substitute, scan of a scan). That reading of "each sequence" is the one that reproduces the stated
statistics; the math and two-list passes are the exceptions KT.md names ("the sequences that
existed before it"). Line i of the program is sequence i, fold lines come after them.

All randomness comes from the `random.Random` passed in: no global state, reproducible per seed.
Values are computed with the reference interpreter's op bodies, so a sample cannot disagree with
`interp.run`; tests check that anyway.

Conventions chosen where KT.md is silent (each checked against the stated statistics, see
tests/test_sample.py):
- "8.7 lines per program" counts the `output = ...` line too: the `sequence_i` lines average
  about 7.7 (5,000 draws), so len(program.lines) + 1 is the number compared with 8.7.
- the cost ratio 0.324 is pooled: sum(kt_bits) / sum(8 * len) (197 bits / (8 * 76.1) = 0.324).
- substitution draws the replacement uniformly in 0..255; when it equals the pattern nothing is
  created (and nothing is excluded), so "a random other value" has probability 255/256.
- the re-fold picks among all sequences used fewer than twice, excluded originals included
  (their count is 0); it makes len(sequences) attempts of p=0.2 each.
- duplicates: `sample(n, seed)` draws ceil(1.2 n) programs (more if needed), keeps one program
  per distinct sequence (the shortest KT text, first drawn on ties) in first-seen order, and
  returns the first n.
- blocks: draws come in blocks of DRAWS_PER_BLOCK; block 0 is `random.Random(seed)`, block b > 0
  `random.Random(block_seed(seed, b))`. Blocks are independent, so they can be drawn on Ray
  workers (`sample(..., parallel=Parallel("ray", ...))`) and de-duplicated here in block order:
  the output is the same for any number of workers. Up to ~13,600 samples (16,384 draws) it is
  also exactly what the single-stream sampler of earlier versions gave for the same seed.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Callable

from ksynth.dsl.interp import DEFAULT_MAX_LEN
from ksynth.dsl.ops import OPS
from ksynth.dsl.program import Program, Ref
from ksynth.dsl.score import kt_bits as _kt_bits

VMAX = 255                       # values stay in 0..VMAX
MIN_LEN, MAX_LEN = 5, 25         # initiator length L ~ U[5, 25]
MAX_INITIATORS = 5

P_LIST_PASS = 0.4
P_REVERSE = 0.1
P_REPEAT = 0.1
P_SUBSEQ = 0.05                  # each of x[::j] and x[a:b]
P_SUBSTITUTE = 0.1
P_EXCLUDE = 0.25                 # original left out of the fold after a substitution
P_MATH_PASS = 0.4
P_MIN_MAX = 0.1                  # set_list originals only
P_ADD_SUB = 0.1
P_MODULO = 0.1
P_SCAN = 0.1
P_FILTER_PASS = 0.4
P_FILTER = 0.3                   # so a filter is attempted with p = 0.4 * 0.3
P_TWO_LIST_PASS = 0.4
P_TWO_ADD_SUB = 0.1
P_TWO_MODULO = 0.1
P_CONCAT = 0.8                   # else interleave
P_REFOLD = 0.2
OVERSAMPLE = 1.2                 # draws per requested sample before de-duplication
DRAWS_PER_BLOCK = 16384          # draws per independent RNG stream (~3 s of work: one Ray task)
DRAW_SECONDS = 2e-4              # measured cost of one draw on this project's machine (parallel rule)

INITIATORS = ("range_func_up", "range_func_interval", "repeat_num", "set_list")
PREDICATES = ("is_even", "is_odd", "is_not_zero")


@dataclass(frozen=True)
class Sample:
    """A pruned program and its output (values 0..255)."""

    program: Program
    sequence: list[int]

    @property
    def kt_bits(self) -> float:
        return _kt_bits(self.program)


class _TooLong(Exception):
    """A draw whose lists exceed the interpreter's cap (vanishingly rare); it is redrawn."""


class _Draw:
    """The lines of one program under construction; line i holds values[i]."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.lines: list[tuple[str, tuple]] = []
        self.values: list[list[int]] = []
        self.origin: list[str | None] = []     # initiator op for initiator lines, else None

    def add(self, op: str, args: tuple, origin: str | None = None) -> int:
        resolved = [self.values[a.index] if isinstance(a, Ref) else a for a in args]
        out = OPS[op].body(*resolved)
        if len(out) > DEFAULT_MAX_LEN:
            raise _TooLong
        self.lines.append((op, args))
        self.values.append(out)
        self.origin.append(origin)
        return len(self.lines) - 1

    def __len__(self) -> int:
        return len(self.lines)


def _initiator(d: _Draw) -> None:
    rng = d.rng
    n = rng.randint(MIN_LEN, MAX_LEN)
    start = rng.randint(0, VMAX - n)
    kind = rng.choice(INITIATORS)
    if kind == "range_func_up":
        args = (start, start + n - 1)
    elif kind == "range_func_interval":
        step = rng.randint(2, 5)
        # the end is capped at 255, so the list may hold fewer than n values
        args = (start, min(start + (n - 1) * step, VMAX) + 1, step)
    elif kind == "repeat_num":
        args = (n, rng.randint(0, VMAX))
    else:
        args = (tuple(rng.randint(0, VMAX) for _ in range(n)),)
    d.add(kind, args, origin=kind)


def _list_pass(d: _Draw, excluded: set[int]) -> None:
    rng = d.rng
    reversed_ = set()                  # reversed originals and their reversals
    k = 0
    while k < len(d):                  # the list grows while we walk it (see module doc)
        if rng.random() < P_REVERSE and k not in reversed_ and d.origin[k] != "repeat_num":
            reversed_ |= {k, d.add("reverse_list", (Ref(k),))}
        k += 1
    k = 0
    while k < len(d):
        if rng.random() < P_REPEAT:
            d.add("repeat_list", (rng.randint(2, 4), Ref(k)))
        if k not in reversed_:
            if rng.random() < P_SUBSEQ:
                d.add("get_subsequence_with_jumps", (Ref(k), rng.randint(2, 5)))
            if rng.random() < P_SUBSEQ and len(d.values[k]) > 1:
                a = rng.randint(0, len(d.values[k]) - 2)
                b = rng.randint(a + 2, len(d.values[k]))
                d.add("get_subsequence_between_indices", (Ref(k), a, b))
        k += 1
    k = 0
    while k < len(d):
        if rng.random() < P_SUBSTITUTE:
            pattern = rng.choice(sorted(set(d.values[k])))
            replacement = rng.randint(0, VMAX)
            if replacement != pattern:
                d.add("substitute", (Ref(k), pattern, replacement))
                if rng.random() < P_EXCLUDE:
                    excluded.add(k)
        k += 1


def _math_pass(d: _Draw) -> None:
    rng = d.rng
    for k in range(len(d)):            # only the sequences that existed before the pass
        x = d.values[k]
        r = rng.random()
        if d.origin[k] == "set_list" and rng.random() < P_MIN_MAX:
            op = "max_n" if rng.random() < 0.5 else "min_n"
            d.add(op, (Ref(k), rng.randint(3, len(x) - 2)))
        elif r < P_ADD_SUB:
            if rng.random() < 0.5:
                room = VMAX - max(x)           # largest c keeping x + c <= 255
                if room > 1:
                    d.add("add_item_list", (Ref(k), rng.randint(1, room)))
            else:
                room = min(x)                  # largest c keeping x - c >= 0
                if room > 1:
                    d.add("subtract_item_list", (Ref(k), rng.randint(1, room)))
        elif r < P_ADD_SUB + P_MODULO:
            third = sorted(x, reverse=True)[:3][-1]   # third-largest value, duplicates counted
            if third > 2:
                d.add("modulo_item_list", (Ref(k), rng.randint(2, third)))


def _scan_pass(d: _Draw) -> None:
    k = 0
    while k < len(d):
        x = d.values[k]
        if d.rng.random() < P_SCAN and len(set(x)) > 2 and sum(x) <= VMAX:   # values >= 0
            d.add("scan_add", (Ref(k),))
        k += 1


def _filter_pass(d: _Draw) -> None:
    rng = d.rng
    if rng.random() < P_FILTER_PASS:
        pred = rng.choice(PREDICATES)
        last = len(d) - 1
        kept = OPS["filter"].body(pred, d.values[last])
        if kept != d.values[last] and len(kept) > 2 and rng.random() < P_FILTER:
            d.add("filter", (pred, Ref(last)))


def _two_list_pass(d: _Draw) -> None:
    rng = d.rng
    n = len(d)
    for i in range(n):
        for j in range(i + 1, n):
            r = rng.random()
            if r < P_TWO_ADD_SUB:
                op = rng.choice(("add_two_lists", "subtract_two_lists"))
            elif r < P_TWO_ADD_SUB + P_TWO_MODULO:
                op = "modulo_two_lists"
            else:
                continue
            if len(d.values[i]) != len(d.values[j]):
                continue
            out = OPS[op].body(d.values[i], d.values[j])
            if all(0 <= v <= VMAX for v in out) and len(set(out)) > 2:
                d.add(op, (Ref(i), Ref(j)))


def _fold(d: _Draw, excluded: set[int]) -> int:
    """Fold kept sequences left into one output, then re-fold rarely used ones; the output line."""
    rng = d.rng
    n = len(d)
    used = [0] * n
    out = None

    def step(k: int) -> int:
        used[k] += 1
        if out is None:
            return k
        op = "concatenate" if rng.random() < P_CONCAT else "interleave"
        return d.add(op, (Ref(out), Ref(k)))

    for k in range(n):
        if k not in excluded:
            out = step(k)
    for _ in range(n):
        if rng.random() < P_REFOLD:
            spare = [k for k in range(n) if used[k] < 2]
            if spare:
                out = step(rng.choice(spare))
    return out


def sample_one(rng: random.Random) -> Sample:
    """One draw of the KT synthetic distribution (no de-duplication)."""
    while True:
        d = _Draw(rng)
        try:
            for _ in range(rng.randint(1, MAX_INITIATORS)):
                _initiator(d)
            excluded: set[int] = set()
            if rng.random() < P_LIST_PASS:
                _list_pass(d, excluded)
            if rng.random() < P_MATH_PASS:
                _math_pass(d)
            _scan_pass(d)
            _filter_pass(d)
            if rng.random() < P_TWO_LIST_PASS:
                _two_list_pass(d)
            out = _fold(d, excluded)
        except _TooLong:
            continue
        program = Program.build(d.lines, output=out).pruned()
        return Sample(program, d.values[out])


def block_seed(seed: int, block: int) -> int:
    """The RNG seed of draw block `block` (block 0 keeps `seed` itself)."""
    if block == 0:
        return seed
    import hashlib

    return int.from_bytes(hashlib.sha256(f"ksynth-sample:{seed}:{block}".encode()).digest()[:8], "big")


def draw_block(seed_and_block: tuple[int, int]) -> list[Sample]:
    """The DRAWS_PER_BLOCK draws of one block, in order (module level: a Ray task body)."""
    seed, block = seed_and_block
    rng = random.Random(block_seed(seed, block))
    return [sample_one(rng) for _ in range(DRAWS_PER_BLOCK)]


def _blocks_lazily(seed: int, first: int):
    """Blocks first, first+1, ... drawn in this process one at a time, as the merge asks."""
    rng, block = None, first - 1
    while True:
        if rng is None:
            block += 1
            rng, left = random.Random(block_seed(seed, block)), DRAWS_PER_BLOCK
        yield sample_one(rng)
        left -= 1
        if left == 0:
            rng = None


def sample(n: int, seed: int, progress: Callable[[int], None] | None = None,
           parallel=None) -> list[Sample]:
    """n samples with distinct sequences, deterministic for `seed` (see the module doc).

    `progress(1)` is called after every draw (about ceil(1.2 n) of them), e.g. to move a bar.
    `parallel` (a ksynth.parallel.Parallel) draws the blocks the target needs on its workers
    when that pays; the result is the same either way.
    """
    best: dict[tuple, Sample] = {}        # insertion order = first time a sequence was seen
    target = math.ceil(OVERSAMPLE * n)

    def draws():
        block = 0
        if parallel is not None and n > 0:
            blocks = -(-target // DRAWS_PER_BLOCK)
            got = {}
            jobs = [(seed, b) for b in range(blocks)]
            for b, samples in parallel.imap(draw_block, jobs, item_seconds=DRAW_SECONDS * DRAWS_PER_BLOCK):
                got[b] = samples
                while block in got:           # merge in block order, as the draws finish
                    yield from got.pop(block)
                    block += 1
        yield from _blocks_lazily(seed, block)    # the rest (duplicates ran the target over)

    count = 0
    for s in draws():
        if not (count < target or len(best) < n):
            break
        count += 1
        key = tuple(s.sequence)
        old = best.get(key)
        if old is None or len(s.program.format()) < len(old.program.format()):
            best[key] = s
        if progress is not None:
            progress(1)
    return list(best.values())[:n]
