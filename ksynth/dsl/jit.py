"""The Numba executor: programs lowered to flat int64 arrays, whole batches run by @njit kernels.

It must agree with interp.py (the spec) exactly, rejections included; tests/test_jit.py checks that.

Lowered layout (`Batch`), built by `lower()` or directly by a caller that makes candidates in bulk:
    lines[L, 4]  int64  per line: OpSpec.code, then up to three argument slots in op-table order
    starts[P+1]  int64  program p owns lines[starts[p]:starts[p+1]]
    outputs[P]   int64  index of p's output line, relative to its first line
    pool[K]      int64  set_list's literals and concatenate's references
Argument slots: an int literal as is; a literal list of any other op (modeled_list's values,
lpc's predictor) as one slot, the start of a block pool[start] = count, then the values; a reference as the 0-based line index inside its program;
a predicate as its index in PREDICATES; set_list's literal list and concatenate's references as
(start in pool, count). Literals beyond int64 are clamped to +/-VALUE_LIMIT by `lower()`, which the
kernel rejects like any out-of-range literal.

Each program runs in its chunk's arena: line i's value lives at arena[off[i]:off[i] + n[i]]. Every
list is capped at max_len before it is written, so the arena grows at most to lines * max_len
elements. Outputs are appended to a buffer region per chunk of programs (`run` returns them in
place, `run_flat` compacts them); a chunk that fills its region stops and resumes in a fresh one.
A `Workspace` keeps those buffers between calls. With a target (`match`) nothing is written, and a
program stops as soon as its output line disagrees.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numba
import numpy as np
from numba import njit, prange

from ksynth.dsl.interp import DEFAULT_MAX_LEN, VALUE_LIMIT
from ksynth.dsl.interp import line_sizes as interp_line_sizes
from ksynth.dsl.interp import run as interp_run
from ksynth.dsl.ops import OPS, OPS_BY_CODE, PREDICATES, ArgKind
from ksynth.dsl.program import Line, Program, Ref
from ksynth.errors import ProgramError

# Kernel body ids. The lowered arrays carry OpSpec.code; CODE_MAP translates it at run time, so a
# reordered op table can never meet a stale cached kernel, and an op without a body reports
# UNSUPPORTED (the caller falls back to the reference) instead of running the wrong body.
(_RANGE_UP, _RANGE_INTERVAL, _REPEAT_NUM, _SET_LIST, _REPEAT_LIST, _REVERSE, _SUBSTITUTE, _JUMPS,
 _BETWEEN, _MAX_N, _MIN_N, _ADD_ITEM, _SUB_ITEM, _MOD_ITEM, _FILTER, _SCAN_ADD, _ADD_TWO, _SUB_TWO,
 _MOD_TWO, _CONCAT, _INTERLEAVE, _MODELED, _LPC, _LE16) = range(24)

JIT_BODIES = {
    "range_func_up": _RANGE_UP, "range_func_interval": _RANGE_INTERVAL, "repeat_num": _REPEAT_NUM,
    "set_list": _SET_LIST, "repeat_list": _REPEAT_LIST, "reverse_list": _REVERSE,
    "substitute": _SUBSTITUTE, "get_subsequence_with_jumps": _JUMPS,
    "get_subsequence_between_indices": _BETWEEN, "max_n": _MAX_N, "min_n": _MIN_N,
    "add_item_list": _ADD_ITEM, "subtract_item_list": _SUB_ITEM, "modulo_item_list": _MOD_ITEM,
    "filter": _FILTER, "scan_add": _SCAN_ADD, "add_two_lists": _ADD_TWO,
    "subtract_two_lists": _SUB_TWO, "modulo_two_lists": _MOD_TWO, "concatenate": _CONCAT,
    "interleave": _INTERLEAVE, "modeled_list": _MODELED, "lpc": _LPC, "bytes_le": _LE16,
}

CODE_MAP = np.full(len(OPS_BY_CODE), -1, np.int64)      # OpSpec.code -> kernel body id
for _name, _body in JIT_BODIES.items():
    if _name in OPS:
        CODE_MAP[OPS[_name].code] = _body

# Per-program status written by the kernels.
OK, REJECTED, MISMATCH, UNSUPPORTED, MALFORMED = 0, 1, 2, 3, 4
# Target modes: none (run), exact (output == target), prefix (output == target[:len(output)]).
NO_TARGET, EXACT, PREFIX = 0, 1, 2

_LIM = VALUE_LIMIT               # |value| < _LIM, as in the interpreter
_ARENA0 = 1 << 14                # initial arena per chunk of programs, in elements (grows)


# ---- kernels ------------------------------------------------------------------------------------
# Op bodies are small functions returning one int64 (the output length, or -status). The common
# ones (initiators, concatenate, two-list ops, copies) are inlined into the program loop: a call
# that takes arrays pays atomic refcount updates, and inlining them cut ~25% of the instructions
# per sampled program. The rarer one-list ops stay a call, since numba's type inference grows
# superlinearly with function size (cold compile ~20 s CPU as it is). Element loops index with
# uint64 (`_u`): a signed index costs a negative-index test per element and blocks vectorising;
# every offset here is known to be >= 0 by then.
_GROW = 5                        # internal: the arena is too small; enlarge it and re-run
_u = np.uint64


@njit(cache=True)
def _bad(v):
    return v <= -_LIM or v >= _LIM


@njit(cache=True, inline="always")
def _copy(dst, d, src, s, n):
    """dst[d:d + n] = src[s:s + n]; callers guarantee the regions do not overlap."""
    du = _u(d)
    su = _u(s)
    for k in range(_u(n)):
        dst[du + k] = src[su + k]


@njit(cache=True, inline="always")
def _initiator(body, a0, a1, a2, pool, max_len, arena, pos):
    """range_func_up, range_func_interval, repeat_num, set_list written at arena[pos:]."""
    if body == _SET_LIST:
        if a0 < 0 or a1 < 0 or a0 + a1 > pool.shape[0]:
            return -MALFORMED
        if a1 > max_len:
            return -REJECTED
        if pos + a1 > arena.shape[0]:
            return -_GROW
        for k in range(_u(a1)):
            if _bad(pool[_u(a0) + k]):
                return -REJECTED
        _copy(arena, pos, pool, a0, a1)
        return a1
    if _bad(a0) or _bad(a1):
        return -REJECTED
    if body == _RANGE_UP:
        n = a1 - a0 + 1
        step = 1
    elif body == _RANGE_INTERVAL:
        if _bad(a2) or a2 == 0:
            return -REJECTED
        step = a2
        n = (a1 - a0 + a2 - 1) // a2 if a2 > 0 else (a0 - a1 - a2 - 1) // (-a2)
    else:                                   # repeat_num(n, v)
        if a0 < 0:
            return -REJECTED
        n = a0
        step = 0
    n = max(n, 0)
    if n > max_len:
        return -REJECTED
    if pos + n > arena.shape[0]:
        return -_GROW
    first = a1 if body == _REPEAT_NUM else a0
    up = _u(pos)
    for k in range(_u(n)):
        arena[up + k] = first + np.int64(k) * step
    return n


@njit(cache=True)
def _heapsort(a, lo, n):
    """Sort a[lo:lo + n] ascending in place (compiles far faster than numba's generic sort)."""
    for start in range(n // 2 - 1, -1, -1):
        _sift(a, lo, start, n)
    for end in range(n - 1, 0, -1):
        t = a[lo]
        a[lo] = a[lo + end]
        a[lo + end] = t
        _sift(a, lo, end - end, end)    # not the literal 0: one signature


@njit(cache=True)
def _sift(a, lo, root, n):
    while True:
        child = 2 * root + 1
        if child >= n:
            return
        if child + 1 < n and a[lo + child + 1] > a[lo + child]:
            child += 1
        if a[lo + root] >= a[lo + child]:
            return
        t = a[lo + root]
        a[lo + root] = a[lo + child]
        a[lo + child] = t
        root = child


@njit(cache=True)
def _unary(body, c, d, max_len, arena, pos, xs, xn):
    """One list x = arena[xs:xs + xn] and literals c, d (for repeat_list c is the count, for
    filter the predicate index)."""
    if body == _REPEAT_LIST:
        if _bad(c) or c < 0:
            return -REJECTED
        n = c * xn
        if n > max_len:
            return -REJECTED
        if pos + n > arena.shape[0]:
            return -_GROW
        for r in range(c if xn > 0 else 0):
            _copy(arena, pos + r * xn, arena, xs, xn)
        return n
    if pos + xn > arena.shape[0]:           # every other one-list op yields <= len(x) values
        return -_GROW
    up = _u(pos)
    ux = _u(xs)
    n = xn
    if body == _REVERSE:
        last = _u(xs + xn - 1)
        for k in range(_u(xn)):
            arena[up + k] = arena[last - k]
    elif body == _SCAN_ADD:
        acc = 0
        for k in range(_u(xn)):
            acc += arena[ux + k]            # |acc| < max_len * 2^31: no int64 overflow
            if _bad(acc):
                return -REJECTED
            arena[up + k] = acc
    elif body == _FILTER:
        if c < 0 or c > 2:
            return -MALFORMED
        n = 0
        for k in range(_u(xn)):
            v = arena[ux + k]
            if (c == 0 and v % 2 == 0) or (c == 1 and v % 2 == 1) or (c == 2 and v != 0):
                arena[up + _u(n)] = v
                n += 1
    elif body == _SUBSTITUTE:
        if _bad(c) or _bad(d):
            return -REJECTED
        for k in range(_u(xn)):
            v = arena[ux + k]
            arena[up + k] = d if v == c else v
    elif body == _JUMPS:
        if _bad(c) or c < 1:
            return -REJECTED
        n = (xn + c - 1) // c
        uc = _u(c)
        for k in range(_u(n)):
            arena[up + k] = arena[ux + k * uc]
    elif body == _BETWEEN:
        if _bad(c) or _bad(d):
            return -REJECTED
        a = min(max(c + xn if c < 0 else c, 0), xn)      # Python slice normalisation
        b = min(max(d + xn if d < 0 else d, 0), xn)
        n = max(b - a, 0)
        _copy(arena, pos, arena, xs + a, n)
    elif body == _MAX_N or body == _MIN_N:
        if _bad(c) or c < 0:
            return -REJECTED
        _copy(arena, pos, arena, xs, xn)
        _heapsort(arena, pos, xn)
        if body == _MAX_N:
            for k in range(xn // 2):
                t = arena[pos + k]
                arena[pos + k] = arena[pos + xn - 1 - k]
                arena[pos + xn - 1 - k] = t
        n = min(c, xn)
    elif body == _ADD_ITEM or body == _SUB_ITEM:
        if _bad(c):
            return -REJECTED
        if body == _SUB_ITEM:
            c = -c
        for k in range(_u(xn)):
            v = arena[ux + k] + c
            if _bad(v):
                return -REJECTED
            arena[up + k] = v
    elif body == _MOD_ITEM:
        if _bad(c) or c == 0:
            return -REJECTED
        for k in range(_u(xn)):
            arena[up + k] = arena[ux + k] % c          # numba follows Python's sign rules
    else:
        return -UNSUPPORTED
    return n


@njit(cache=True)
def _block(pool, start, max_len):
    """(first, count) of a length-prefixed literal block at pool[start], or (-status, 0)."""
    if start < 0 or start >= pool.shape[0]:
        return -MALFORMED, 0
    count = pool[start]
    if count < 0 or start + 1 + count > pool.shape[0]:
        return -MALFORMED, 0
    if count > max_len:
        return -REJECTED, 0
    for k in range(count):
        if _bad(pool[start + 1 + k]):
            return -REJECTED, 0
    return start + 1, count


@njit(cache=True)
def _ksynth_op(body, a0, a1, a2, pool, max_len, arena, pos, xs, xn):
    """modeled_list(model, param, values), lpc(x, [shift, coeffs]), bytes_le(x, width)."""
    if body == _MODELED:
        if _bad(a0) or _bad(a1) or a0 < 0 or a1 < 0:
            return -REJECTED
        first, n = _block(pool, a2, max_len)
        if first < 0:
            return first
        if pos + n > arena.shape[0]:
            return -_GROW
        _copy(arena, pos, pool, first, n)
        return n
    if body == _LE16:
        if a1 != 1 and a1 != 2:
            return -REJECTED
        n = a1 * xn
        if n > max_len:
            return -REJECTED
        if pos + n > arena.shape[0]:
            return -_GROW
        for k in range(xn):
            v = arena[xs + k]
            if a1 == 1:
                arena[pos + k] = v & 255
            else:
                arena[pos + 2 * k] = v & 255
                arena[pos + 2 * k + 1] = (v >> 8) & 255
        return n
    if body == _LPC:
        first, order = _block(pool, a1, 33)
        if first < 0:
            return first
        if order < 1:
            return -REJECTED
        shift = pool[first]
        if shift < 0 or shift > 15:
            return -REJECTED
        first += 1
        order -= 1
        for k in range(order):
            c = pool[first + k]
            if c <= -(1 << 24) or c >= (1 << 24):
                return -REJECTED
        if pos + xn > arena.shape[0]:
            return -_GROW
        for n in range(xn):
            if n < order:                     # warm-up: the fixed polynomial of the history
                if n == 0:
                    guess = np.int64(0)
                elif n == 1:
                    guess = arena[pos]
                else:
                    guess = 2 * arena[pos + n - 1] - arena[pos + n - 2]
            else:
                acc = np.int64(0)
                for k in range(order):
                    acc += pool[first + k] * arena[pos + n - 1 - k]
                guess = acc >> shift
            v = arena[xs + n] + guess
            if _bad(v):
                return -REJECTED
            arena[pos + n] = v
        return xn
    return -UNSUPPORTED


@njit(cache=True, inline="always")
def _binary(body, max_len, arena, pos, xs, xn, ys, yn):
    """add/subtract/modulo_two_lists (zipped to the shorter) and interleave."""
    m = min(xn, yn)
    up = _u(pos)
    ux = _u(xs)
    uy = _u(ys)
    if body == _INTERLEAVE:
        n = xn + yn
        if n > max_len:
            return -REJECTED
        if pos + n > arena.shape[0]:
            return -_GROW
        two = _u(2)                         # a bare 2 would make 2 * k a float64
        for k in range(_u(m)):
            arena[up + two * k] = arena[ux + k]
            arena[up + two * k + _u(1)] = arena[uy + k]
        _copy(arena, pos + 2 * m, arena, xs + m, xn - m)     # the tail of the longer list
        _copy(arena, pos + 2 * m, arena, ys + m, yn - m)
        return n
    if pos + m > arena.shape[0]:
        return -_GROW
    n = 0
    for k in range(_u(m)):
        x = arena[ux + k]
        y = arena[uy + k]
        if body == _MOD_TWO:
            if y != 0:
                arena[up + _u(n)] = x % y
                n += 1
        else:
            v = x + y if body == _ADD_TWO else x - y
            if _bad(v):
                return -REJECTED
            arena[up + k] = v
            n += 1
    return n


@njit(cache=True, inline="always")
def _concat(start, count, i, pool, max_len, arena, pos, off, ln):
    """concatenate of the `count` line indices at pool[start:]."""
    if start < 0 or count < 1 or start + count > pool.shape[0]:
        return -MALFORMED
    n = 0
    for r in range(count):
        x = pool[start + r]
        if x < 0 or x >= i:
            return -MALFORMED
        n += ln[x]
    if n > max_len:
        return -REJECTED
    if pos + n > arena.shape[0]:
        return -_GROW
    w = pos
    for r in range(count):
        x = pool[start + r]
        m = ln[x]
        _copy(arena, w, arena, off[x], m)
        w += m
    return n


@njit(cache=True, inline="always")
def _exec(lines, lo, n_lines, out_line, pool, code_map, max_len, target, mode, arena, off, ln,
          at, cap):
    """Run one program (lines[lo:lo + n_lines]); line i's value lands at arena[off[i]:][:ln[i]].

    Lines are written one after another, unless `at` is non-empty: a layout made ahead
    (`layout`) that puts line i at arena[at[i]:at[i] + cap[i]]. Returns a status; with a target,
    stops with MISMATCH as soon as the output line disagrees."""
    pos = np.int64(0)               # not the literal 0: one compiled signature per callee
    planned = at.shape[0] > 0
    for i in range(n_lines):
        row = lo + i
        if planned:
            pos = at[i]
        opc = lines[row, 0]
        if opc < 0 or opc >= code_map.shape[0]:
            return MALFORMED
        body = code_map[opc]
        a0 = lines[row, 1]
        a1 = lines[row, 2]
        a2 = lines[row, 3]
        if body < 0:
            return UNSUPPORTED
        if body <= _SET_LIST:
            n = _initiator(body, a0, a1, a2, pool, max_len, arena, pos)
        elif body == _CONCAT:
            n = _concat(a0, a1, i, pool, max_len, arena, pos, off, ln)
        elif body == _MODELED:
            n = _ksynth_op(body, a0, a1, a2, pool, max_len, arena, pos, pos, 0)
        elif body == _LPC or body == _LE16:
            if a0 < 0 or a0 >= i:
                return MALFORMED
            n = _ksynth_op(body, a0, a1, a2, pool, max_len, arena, pos, off[a0], ln[a0])
        elif body == _ADD_TWO or body == _SUB_TWO or body == _MOD_TWO or body == _INTERLEAVE:
            if a0 < 0 or a0 >= i or a1 < 0 or a1 >= i:
                return MALFORMED
            n = _binary(body, max_len, arena, pos, off[a0], ln[a0], off[a1], ln[a1])
        else:
            # repeat_list(n, x) and filter(p, x) put the list second; the rest put it first
            if body == _REPEAT_LIST or body == _FILTER:
                x, c, d = a1, a0, a2
            else:
                x, c, d = a0, a1, a2
            if x < 0 or x >= i:
                return MALFORMED
            n = _unary(body, c, d, max_len, arena, pos, off[x], ln[x])
        if n < 0:
            return -REJECTED if planned and n == -_GROW else -n
        if planned and n > cap[i]:          # the layout was wrong: never trust what follows
            return REJECTED
        off[i] = pos
        ln[i] = n
        pos += n
        if mode != NO_TARGET and i == out_line:
            tn = target.shape[0]
            if n > tn or (mode == EXACT and n != tn):
                return MISMATCH
            up = _u(pos - n)
            for k in range(_u(n)):
                if arena[up + k] != target[k]:
                    return MISMATCH
    return OK


@njit(cache=True)
def _run_span(lines, starts, outputs, pool, code_map, max_len, which, lo, hi, target, mode,
              out_buf, w0, w_end, out_at, status, out_len, max_lines):
    """The serial kernel. For k in [lo, hi): run program which[k], set status[k] and out_len[k];
    without a target, append its output to out_buf[w0:w_end] at out_at[k]. Returns the k it
    stopped at: hi, or the first program whose output no longer fits (not yet run)."""
    arena = np.empty(_ARENA0, np.int64)
    off = np.empty(max_lines, np.int64)
    ln = np.empty(max_lines, np.int64)
    sequential = np.empty(0, np.int64)      # no layout: lines one after another
    w = w0
    for k in range(lo, hi):
        p = which[k]
        first = starts[p]
        n_lines = starts[p + 1] - first
        out = outputs[p]
        if n_lines < 1 or out < 0 or out >= n_lines or n_lines > max_lines:
            status[k] = MALFORMED
            out_len[k] = 0
            out_at[k] = w
            continue
        st = _exec(lines, first, n_lines, out, pool, code_map, max_len, target, mode, arena,
                   off, ln, sequential, sequential)
        while st == _GROW:                  # bounded: a program needs <= n_lines * max_len
            arena = np.empty(2 * arena.shape[0], np.int64)
            st = _exec(lines, first, n_lines, out, pool, code_map, max_len, target, mode, arena,
                       off, ln, sequential, sequential)
        n = ln[out] if st == OK else 0
        if mode == NO_TARGET:
            if w + n > w_end:
                return k
            _copy(out_buf, w, arena, off[out], n)
        status[k] = st
        out_len[k] = n
        out_at[k] = w
        w += n if mode == NO_TARGET else 0
    return hi


@njit(cache=True, parallel=True)
def _run_parallel(lines, starts, outputs, pool, code_map, max_len, which, target, mode,
                  out_buf, region, out_at, status, out_len, max_lines, n_chunks):
    """_run_span over n_chunks contiguous chunks of `which` spread over numba's threads; chunk c
    writes into out_buf[c * region:(c + 1) * region]. Returns each chunk's stop index."""
    total = which.shape[0]
    stops = np.empty(n_chunks, np.int64)
    for c in prange(n_chunks):
        stops[c] = _run_span(lines, starts, outputs, pool, code_map, max_len, which,
                             c * total // n_chunks, (c + 1) * total // n_chunks, target, mode,
                             out_buf, c * region, (c + 1) * region, out_at, status, out_len,
                             max_lines)
    return stops


@njit(cache=True)
def _run_laid_out(lines, n_lines, out_line, pool, code_map, max_len, arena, at, cap, off, ln):
    """One program (all of `lines`) in the arena layout at/cap: one pass, nothing regrown."""
    no_target = np.empty(0, np.int64)
    return _exec(lines, 0, n_lines, out_line, pool, code_map, max_len, no_target, NO_TARGET,
                 arena, off, ln, at, cap)


@njit(cache=True, parallel=True)
def _gather(src, at, length, ptr, flat, n_chunks):
    """flat[ptr[k]:ptr[k] + length[k]] = src[at[k]:at[k] + length[k]] for every k, in n_chunks
    contiguous chunks spread over numba's threads (compaction of the per-chunk output regions)."""
    n = at.shape[0]
    for c in prange(n_chunks):
        for k in range(c * n // n_chunks, (c + 1) * n // n_chunks):
            _copy(flat, ptr[k], src, at[k], length[k])


# ---- lowering -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Batch:
    """Programs as flat int64 arrays (layout in the module doc)."""

    lines: np.ndarray
    starts: np.ndarray
    outputs: np.ndarray
    pool: np.ndarray

    def __len__(self) -> int:
        return self.outputs.shape[0]

    @classmethod
    def from_arrays(cls, lines, starts, outputs, pool=()) -> "Batch":
        """A batch from caller-built arrays (copied to contiguous int64 when needed)."""
        lines = np.ascontiguousarray(lines, np.int64).reshape(-1, 4)
        starts = np.ascontiguousarray(starts, np.int64)
        outputs = np.ascontiguousarray(outputs, np.int64)
        pool = np.ascontiguousarray(pool, np.int64)
        if starts.shape[0] != outputs.shape[0] + 1 or starts[0] != 0 or starts[-1] != lines.shape[0]:
            raise ProgramError("malformed batch: starts must run from 0 to len(lines), one more "
                               "entry than outputs")
        return cls(lines, starts, outputs, pool)


def _clamp(v: int) -> int:
    """Literals beyond int64 become +/-VALUE_LIMIT: still rejected, now representable."""
    return v if -_LIM < v < _LIM else (_LIM if v > 0 else -_LIM)


_PRED_INDEX = {p: i for i, p in enumerate(PREDICATES)}
_REF, _PRED, _NUM, _BLOCK = 0, 1, 2, 3
# per op: (OpSpec.code, how to lower it): "refs" (variadic), "ints" (set_list) or one tag per arg
_PLAN = {name: (spec.code, "refs" if spec.variadic else "ints" if spec.args == (ArgKind.INTS,) else
                tuple(_REF if k is ArgKind.REF else _PRED if k is ArgKind.PRED else
                      _BLOCK if k is ArgKind.INTS else _NUM for k in spec.args))
         for name, spec in OPS.items()}
_PAD = ((0, 0, 0), (0, 0), (0,), ())


def lower(programs) -> Batch:
    """Lower Program objects into one Batch (plain Python: ~5 us per line; callers that make
    candidates in bulk can build the arrays themselves, see Batch.from_arrays)."""
    rows: list[int] = []
    pool: list[int] = []
    starts = [0]
    outputs = []
    n_lines = 0
    for prog in programs:
        for line in prog.lines:
            code, plan = _PLAN[line.op]
            args = line.args
            if plan == "refs":
                rows += (code, len(pool), len(args), 0)
                pool += [r.index for r in args]
            elif plan == "ints":
                values = args[0]
                rows += (code, len(pool), len(values), 0)
                if values and -_LIM < min(values) and max(values) < _LIM:
                    pool += values
                else:
                    pool += [_clamp(v) for v in values]
            else:
                rows.append(code)
                for tag, v in zip(plan, args):
                    if tag == _REF:
                        rows.append(v.index)
                    elif tag == _NUM:
                        rows.append(v if -_LIM < v < _LIM else _clamp(v))
                    elif tag == _BLOCK:
                        rows.append(len(pool))
                        pool.append(len(v))
                        pool += [x if -_LIM < x < _LIM else _clamp(x) for x in v]
                    else:
                        rows.append(_PRED_INDEX[v])
                rows += _PAD[len(args)]
        n_lines += len(prog.lines)
        starts.append(n_lines)
        outputs.append(prog.output)
    return Batch(np.array(rows, np.int64).reshape(-1, 4), np.array(starts, np.int64),
                 np.array(outputs, np.int64), np.array(pool, np.int64))


def unlower(batch: Batch) -> list[Program]:
    """The Program objects a batch encodes (the inverse of `lower` up to clamped literals)."""
    progs = []
    for p in range(len(batch)):
        lines = []
        for row in batch.lines[batch.starts[p]:batch.starts[p + 1]]:
            code, a0, a1, a2 = (int(v) for v in row)
            if not 0 <= code < len(OPS_BY_CODE):
                raise ProgramError(f"malformed batch: program {p} has op code {code}")
            spec = OPS_BY_CODE[code]
            if spec.variadic:
                args = tuple(Ref(int(r)) for r in batch.pool[a0:a0 + a1])
            else:
                slots = (a0, a1, a2)
                args = []
                for j, kind in enumerate(spec.args):
                    if kind is ArgKind.REF:
                        args.append(Ref(slots[j]))
                    elif kind is ArgKind.INTS and len(spec.args) > 1:     # a length-prefixed block
                        n = int(batch.pool[slots[j]])
                        args.append(tuple(int(v) for v in batch.pool[slots[j] + 1:slots[j] + 1 + n]))
                    elif kind is ArgKind.INTS:
                        args.append(tuple(int(v) for v in batch.pool[slots[j]:slots[j] + slots[j + 1]]))
                    elif kind is ArgKind.PRED:
                        args.append(PREDICATES[slots[j]])
                    else:
                        args.append(slots[j])
            lines.append(Line(spec.name, tuple(args)))
        progs.append(Program.build(lines, int(batch.outputs[p])))
    return progs


# ---- drivers ------------------------------------------------------------------------------------
class Workspace:
    """Output memory reused across `run` / `run_flat` calls.

    A batch of P programs writes about EST_OUT * P int64 values. Fresh arrays cost a page fault
    per 4 KiB on first touch, and page faults serialise within a process: with fresh buffers every
    call, two threads ran only 1.3x faster than one (1.8x with a workspace). A caller that runs
    batch after batch passes one Workspace; the arrays returned are then views into it, valid until
    the workspace's next use (copy what must outlive it). Not shareable between concurrent calls."""

    def __init__(self):
        self._arrays: dict[str, np.ndarray] = {}

    def take(self, name: str, size: int) -> np.ndarray:
        """An int64 array of `size` elements (contents undefined), grown by >= 25% when short."""
        have = self._arrays.get(name)
        if have is None or have.shape[0] < size:
            grown = max(size, int(1.25 * have.shape[0])) if have is not None else size
            have = self._arrays[name] = np.empty(grown, np.int64)
        return have[:size]

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self._arrays.values())


def _fresh(name: str, size: int) -> np.ndarray:
    return np.empty(size, np.int64)


_EMPTY = np.empty(0, np.int64)
PARALLEL_MIN = 512               # below this many programs the serial kernel wins (thread start-up)
EST_OUT = 96                     # output elements budgeted per program (KT samples average 76)
CHUNKS_PER_THREAD = 32           # prange iterations per thread, handed out dynamically


def _threads(threads: int | None, n: int) -> int:
    if threads is None:
        return numba.get_num_threads() if n >= PARALLEL_MIN else 1
    return max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS))


@contextlib.contextmanager
def _parallel(threads: int):
    """numba's thread count for one call, with chunks handed out one at a time (dynamic
    scheduling): on a shared machine a thread that loses its core just takes fewer chunks."""
    previous = numba.get_num_threads()
    numba.set_num_threads(threads)
    chunk = numba.set_parallel_chunksize(1)
    try:
        yield
    finally:
        numba.set_parallel_chunksize(chunk)
        numba.set_num_threads(previous)


def _check(batch: Batch, status, which) -> None:
    bad = status == MALFORMED
    if bad.any():
        p = int(which[np.argmax(bad)])
        raise ProgramError(f"malformed batch: program {p} has a bad op code, reference, output "
                           f"index or pool slice")


def _common(batch: Batch, max_len: int):
    counts = np.diff(batch.starts)
    max_lines = max(int(counts.max()) if counts.size else 1, 1)
    return (batch.lines, batch.starts, batch.outputs, batch.pool, CODE_MAP, int(max_len)), max_lines


@dataclass(frozen=True)
class Outputs:
    """What `run` returns: program p's output is values[at[p]:at[p] + length[p]] (empty unless
    status[p] == OK). Outputs sit where the kernel wrote them, one region per chunk of programs,
    so `values` may have gaps between chunks; `run_flat` compacts them when that is needed."""

    status: np.ndarray
    at: np.ndarray
    length: np.ndarray
    values: np.ndarray

    def __len__(self) -> int:
        return self.status.shape[0]

    def __getitem__(self, p: int) -> np.ndarray:
        a = int(self.at[p])
        return self.values[a:a + int(self.length[p])]


def run(batch: Batch, max_len: int = DEFAULT_MAX_LEN, *, threads: int | None = None,
        work: Workspace | None = None) -> Outputs:
    """Run every program of the batch, outputs written in place (see Outputs). threads: None =
    numba's threads for large batches. work: reuse its memory (the results are then views into it,
    valid until its next use).

    Each chunk of programs appends its outputs to its own region of one buffer; a chunk whose
    region fills up stops, and the rest of it runs serially into fresh, doubling buffers that are
    appended to `values` afterwards (rare: regions budget EST_OUT values per program).
    """
    n = len(batch)
    take = work.take if work is not None else _fresh
    args, max_lines = _common(batch, max_len)
    which = np.arange(n, dtype=np.int64)
    status = take("status", n)
    out_len = take("out_len", n)
    out_at = take("out_at", n)
    t = _threads(threads, n)
    n_chunks = min(max(n, 1), CHUNKS_PER_THREAD * t) if t > 1 else 1
    region = EST_OUT * (n // n_chunks + 1)
    buf = take("buf", region * n_chunks)
    if t > 1:
        with _parallel(t):
            stops = _run_parallel(*args, which, _EMPTY, NO_TARGET, buf, region, out_at, status,
                                  out_len, max_lines, n_chunks)
    else:
        stops = np.array([_run_span(*args, which, 0, n, _EMPTY, NO_TARGET, buf, 0, region,
                                    out_at, status, out_len, max_lines)])
    pieces, end = [buf], buf.shape[0]
    for c in range(n_chunks):
        k, hi = int(stops[c]), (c + 1) * n // n_chunks
        size = region
        while k < hi:                         # the chunk's region filled up
            size = max(2 * size, int(max_len))    # >= max_len: one output always fits
            extra = np.empty(size, np.int64)
            stop = _run_span(*args, which, k, hi, _EMPTY, NO_TARGET, extra, 0, size, out_at,
                             status, out_len, max_lines)
            used = int(out_at[stop - 1] + out_len[stop - 1]) if stop > k else 0
            out_at[k:stop] += end
            pieces.append(extra[:used])
            end += used
            k = stop
    _check(batch, status, which)
    values = buf if len(pieces) == 1 else np.concatenate(pieces)
    return Outputs(status, out_at, out_len, values)


def run_flat(batch: Batch, max_len: int = DEFAULT_MAX_LEN, *, threads: int | None = None,
             work: Workspace | None = None):
    """`run`, then the outputs made contiguous: (status, ptr, flat), program p's output at
    flat[ptr[p]:ptr[p + 1]]. A serial run is contiguous already (no copy); otherwise the chunk
    regions are compacted in parallel."""
    out = run(batch, max_len, threads=threads, work=work)
    n = len(out)
    take = work.take if work is not None else _fresh
    ptr = take("ptr", n + 1)
    ptr[0] = 0
    np.cumsum(out.length, out=ptr[1:])
    total = int(ptr[n])
    if np.array_equal(out.at, ptr[:n]):
        return out.status, ptr, out.values[:total]
    flat = take("flat", total)
    t = _threads(threads, n)
    with _parallel(t):
        _gather(out.values, out.at, out.length, ptr, flat, min(max(n, 1), CHUNKS_PER_THREAD * t))
    return out.status, ptr, flat


def match(batch: Batch, target, max_len: int = DEFAULT_MAX_LEN, *, prefix: bool = False,
          threads: int | None = None) -> np.ndarray:
    """Status per program against `target` (int64-convertible): OK where the output equals it
    (with prefix=True: equals its first len(output) elements), MISMATCH or REJECTED otherwise,
    UNSUPPORTED where an op has no kernel body. A program stops at its output line when that
    line disagrees."""
    target = np.ascontiguousarray(target, np.int64)
    n = len(batch)
    args, max_lines = _common(batch, max_len)
    which = np.arange(n, dtype=np.int64)
    status = np.empty(n, np.int64)
    scratch = np.empty(n, np.int64)
    mode = PREFIX if prefix else EXACT
    t = _threads(threads, n)
    if t > 1:
        with _parallel(t):
            _run_parallel(*args, which, target, mode, _EMPTY, 0, scratch, status, scratch,
                          max_lines, min(n, CHUNKS_PER_THREAD * t))
    elif n:
        _run_span(*args, which, 0, n, target, mode, _EMPTY, 0, 0, scratch, status, scratch,
                  max_lines)
    _check(batch, status, which)
    return status


# Bodies that sort a whole copy of their list in place before cutting it to n: a line's region
# must hold that copy.
_WORKS_ON_COPY = frozenset(OPS[name].code for name in ("max_n", "min_n"))


def layout(program: Program, max_len: int = DEFAULT_MAX_LEN) -> tuple[np.ndarray, np.ndarray, int]:
    """(at, cap, arena size) for `run_one`: line i is written to arena[at[i]:at[i] + cap[i]].

    cap[i] bounds the line's length (interp.line_sizes: the op rows' `size`, at most max_len), or
    its list's for bodies that sort a copy. A line's
    region is free again once its last reader has run (the output's only at the end) and is reused
    first fit, so the arena is about the most the program holds at once, not its lines' sum (and
    long enough that a line's longest input would fit after its start: the kernels check that)."""
    sizes = interp_line_sizes(program, max_len)
    n = len(sizes)
    last = list(range(n))                # a line that nothing reads is free as soon as it has run
    cap = list(sizes)
    reach = list(sizes)                  # one-list bodies check len(x) fits after their start
    for i, line in enumerate(program.lines):
        refs = [a.index for a in line.args if isinstance(a, Ref)]
        for j in refs:
            last[j] = i
        if OPS[line.op].code in _WORKS_ON_COPY:
            cap[i] = max(cap[i], sizes[refs[0]])
        reach[i] = max([cap[i]] + [sizes[j] for j in refs])
    last[program.output] = n
    at = [0] * n
    live: list[tuple[int, int, int]] = []        # (start, end, line), by start
    top = 0
    for i in range(n):
        pos = 0
        for start, end, _ in live:
            if start - pos >= cap[i]:
                break
            pos = max(pos, end)
        at[i] = pos
        top = max(top, pos + reach[i])
        live = sorted([x for x in live if last[x[2]] > i] + ([(pos, pos + cap[i], i)]
                                                              if last[i] > i else []))
    return np.array(at, np.int64), np.array(cap, np.int64), top


def run_one(program: Program, max_len: int = DEFAULT_MAX_LEN, *,
            work: Workspace | None = None) -> np.ndarray:
    """One program's output (int64), run once in its `layout`: the arena is sized before the run,
    touched once and never regrown (fresh memory costs a page fault per 4 KiB; a Workspace kept
    across calls pays them once). The result is a view into the arena, valid until `work`'s next
    use. Raises ExecError, with the reference's message, when the program is rejected."""
    at, cap, size = layout(program, max_len)
    batch = lower([program])
    n = len(program.lines)
    arena = (work.take if work is not None else _fresh)("arena", size)
    off = np.empty(n, np.int64)
    ln = np.empty(n, np.int64)
    status = _run_laid_out(batch.lines, n, program.output, batch.pool, CODE_MAP, int(max_len),
                           arena, at, cap, off, ln)
    if status == UNSUPPORTED:                    # an op without a kernel body
        return np.array(interp_run(program, max_len), np.int64)
    if status != OK:
        interp_run(program, max_len)             # raises the reference's ExecError
        raise RuntimeError(f"numba executor rejected a program the reference accepts:\n{program}")
    a = int(off[program.output])
    return arena[a:a + int(ln[program.output])]


def warm_up(parallel: bool = True) -> None:
    """Compile (or load from NUMBA_CACHE_DIR) the kernels now instead of on first use."""
    batch = lower([Program.build([("range_func_up", (1, 3))])] * 4)
    run_flat(batch, threads=1)
    match(batch, [1, 2, 3], threads=1)
    if parallel and numba.config.NUMBA_NUM_THREADS > 1:
        run_flat(batch, threads=2)                  # also loads _gather
        match(batch, [1, 2, 3], threads=2)
