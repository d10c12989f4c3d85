"""Bottom-up enumeration of small programs in increasing cost, deduplicated on output value.

Best-first over a bank of values. Each bank entry is a small program (lines, output last) with its
value and its cost under the configured objective, written as a standalone program. Entries leave a
priority queue cheapest first; an entry's children (one more line) cost at least as much, so values
are settled in cost order. Popping an entry does three things:
  close  - the ops that could turn it into the target in ONE more line, with their constants
           solved from the target: every row's `witness` hook (x + c: c = t0 - x0; substitute: the
           one changed value; filter, jumps, max_n/min_n, reverse, scan_add, repeat_list; a new op
           with a witness is closed here with no edit), then the cases that use the target's
           precomputed views (x % c: c divides gcd(x - t); x[a:b] by substring search) and the
           two-list ops / interleave / concatenate whose partner value is then determined (e.g.
           y = t - x for add_two_lists), looked up in the bank: meet in the middle;
  grow   - children with one more line (unary ops with a few constants, binary ops with settled
           entries), pushed when their value is new and relevant;
  record - an entry equal to the target is a solution.
Growth is shallow by design: entries have at most `tuning.max_grow_lines` lines; with target pruning, unary
ops grow only one-line entries, and two-list ops appear only as the last line (found by close).
The search stops when the cheapest open entry plus the cheapest possible line costs as much as the
best solution (the literal program, or the caller's `bound`, is the first one), at the deadline, or
after config.budget.nodes built values.

Switches (config.ablations):
  observational_equivalence  keep one entry per value (the cheapest); off: every derivation is
                             kept and expanded, the plain enumeration TF-Coder-style pruning beats.
  target_pruning             leaves are drawn from the target (lengths, aligned starts, runs) and
                             a value is kept only when it can still reach the target: length n;
                             shorter and a substring of the target or of its even/odd halves or an
                             interleave component; longer (<= `tuning.long_factor` n) and containing the target as a
                             subsequence. Off: generic leaves over a constant pool, any value kept.
Values are computed incrementally with the op table's bodies (OpSpec.body, the spec), once per
entry, so batching whole programs through the executor would only repeat that work (measured by
experiments/grow_step_executor.py: ~10 us per child with the op bodies, ~60-110 us through
Program objects and jit.run); every returned program is re-run by interp.run before it is reported.
"""
from __future__ import annotations

import heapq
import math
import time
from collections import Counter

from ksynth.dsl.interp import VALUE_LIMIT, try_run
from ksynth.dsl.ops import PREDICATE_TESTS, PREDICATES, with_hook
from ksynth.dsl.program import Program, Ref
from ksynth.search.base import SearchResult
from ksynth.search.ir import apply, divisors_above, line_args, run_line
from ksynth.search.objective import allowed_ops, line_cost, output_cost

MAX_UNARY_LINES = 2           # with target pruning, one-input ops grow only entries of 1 line
MAX_POOL = 24                 # constants per argument without target pruning (nearest t[0] first)
CHECK_EVERY = 64              # nodes between deadline checks (on a 64-element target; fewer when longer)
EXTRA_CAP = 32                # elements: a value may exceed the target's length by this much at least
LEAF_STEPS = (1, 2, 3, 4, 5, -1, -2, -3, -4, -5)   # range steps of aligned leaves (KT draws 2..5)
SMALL_CONSTANTS = (2, 3, 4, 5)    # jumps, repeat counts and moduli tried when growing (KT: 2..5)


class _Entry:
    __slots__ = ("cost", "value", "lines")

    def __init__(self, cost: float, value: tuple, lines: tuple):
        self.cost, self.value, self.lines = cost, value, lines


def _merge(a: tuple, b: tuple) -> tuple[list, int, int]:
    """Lines of a followed by the lines of b not already in a; indices of a's and b's outputs."""
    lines = list(a)
    where = {line: k for k, line in enumerate(lines)}
    remap = []
    for op, args in b:
        args = tuple(Ref(remap[x.index]) if isinstance(x, Ref) else x for x in args)
        line = (op, args)
        k = where.get(line)
        if k is None:
            k = len(lines)
            lines.append(line)
            where[line] = k
        remap.append(k)
    return lines, len(a) - 1, remap[-1]


class _Target:
    """The target and the precomputed views that relevance checks and leaves use."""

    OFFSET = 1 << 19         # values are mapped to characters for C-speed substring search

    def __init__(self, target: list[int]):
        self.t = tuple(target)
        self.n = len(self.t)
        self.halves = (self.t[0::2], self.t[1::2])
        self.key = self._key(self.t)
        self.half_keys = tuple(self._key(h) for h in self.halves)
        # filter(p, x) == t needs every element of t to satisfy p
        self.preds = tuple(p for p, test in PREDICATE_TESTS.items() if all(map(test, self.t)))

    def _key(self, v) -> str | None:
        off = self.OFFSET
        if v and (min(v) < -off or max(v) > 0x10FFFF - off):
            return None
        return "".join(map(chr, (x + off for x in v)))

    def is_substring(self, v: tuple) -> bool:
        k = self._key(v)
        if k is None or self.key is None:
            return False
        return k in self.key or any(h is not None and k in h for h in self.half_keys)

    def interleave_partner(self, v: tuple, left: bool) -> tuple | None:
        """y with interleave(v, y) == t (left) or interleave(y, v) == t; None when impossible."""
        t, n, m = self.t, self.n, len(v)
        if m == 0 or m >= n:
            return None
        k = min(m, n - m)                     # pairs; the longer list runs on into the tail
        first, second = (0, 1) if left else (1, 0)
        if t[first:2 * k:2] != v[:k]:
            return None
        if m > n - m:
            if t[2 * k:] != v[k:]:
                return None
            return t[second:2 * k:2]
        return t[second:2 * k:2] + t[2 * k:]

    def is_subsequence_of(self, v: tuple) -> bool:
        it = iter(v)
        return all(x in it for x in self.t)

    def relevant(self, v: tuple, long_factor: int) -> bool:
        m, n = len(v), self.n
        if m == n:
            return True
        if m < n:
            if m == 0:
                return False
            return (self.is_substring(v) or self.interleave_partner(v, True) is not None
                    or self.interleave_partner(v, False) is not None)
        return m <= long_factor * n and self.is_subsequence_of(v)


class _Costs:
    """Program costs under one objective, with line costs memoised (lines recur across entries)."""

    def __init__(self, objective: str):
        self.objective = objective
        self.memo: dict = {}

    def program_cost(self, lines) -> float:
        total = output_cost(len(lines), self.objective)
        memo = self.memo
        for i, (op, args) in enumerate(lines):
            key = (op, args, i)
            c = memo.get(key)
            if c is None:
                c = memo[key] = line_cost(op, args, i, self.objective)
            total += c
        return total


def _ok(v: tuple) -> bool:
    return not v or (-VALUE_LIMIT < min(v) and max(v) < VALUE_LIMIT)


class _Search:
    def __init__(self, target: list[int], config, deadline: float, bound: float | None = None):
        self.tg = _Target(target)
        self.config = config
        self.obj = _Costs(config.objective)
        self.deadline = deadline
        self.node_limit = config.budget.nodes
        self.oe = config.ablations.observational_equivalence
        self.prune = config.ablations.target_pruning
        self.long_factor = config.tuning.long_factor
        self.max_grow_lines = config.tuning.max_grow_lines
        self.cap = max(self.long_factor * self.tg.n, self.tg.n + EXTRA_CAP)
        allowed = allowed_ops(config.objective)
        self.witness_ops = tuple(s for s in with_hook("witness") if s.name in allowed)
        self.heap: list = []
        self.counter = 0
        self.nodes = 0
        self.pops = 0
        self.settled: dict[tuple, _Entry] = {}      # value -> cheapest entry (OE on)
        self.settled_list: list[_Entry] = []          # in cost order (popping order)
        self.settled_long: list[_Entry] = []          # ... of length >= n (two-list op inputs)
        self.settled_short: list[_Entry] = []         # ... shorter (interleave/concatenate pieces)
        self.out_cost = output_cost(1, config.objective)
        self.heads: set = set()                       # (len, v0, v1) of settled values: quick rejects
        self.pushed_cost: dict[tuple, float] = {}
        literal = (("set_list", (self.tg.t,)),)
        self.best_lines: tuple | None = None
        self.best_cost = self.obj.program_cost(literal)
        if bound is not None:
            self.best_cost = min(self.best_cost, bound)
        self.stopped = False
        # a node costs O(n): check the clock more often on long targets
        self.check_every = max(1, CHECK_EVERY * 64 // max(64, self.tg.n))
        # the cheapest line any program can add (a one-reference op at line 1)
        self.min_line = line_cost("reverse_list", (Ref(0),), 1, config.objective)

    # ---- bookkeeping --------------------------------------------------------------------------
    def _tick(self) -> bool:
        self.nodes += 1
        if self.node_limit is not None and self.nodes >= self.node_limit:
            self.stopped = True
        elif self.nodes % self.check_every == 0 and time.monotonic() >= self.deadline:
            self.stopped = True
        return not self.stopped

    def push(self, lines: tuple, op: str, args: tuple) -> None:
        """Offer a new entry: lines end with (op, args) whose refs are replaced by values in `args`.

        Its cost is checked before its value is computed; bad, irrelevant or dominated values are
        dropped."""
        cost = self.obj.program_cost(lines)
        if cost >= self.best_cost:
            return
        if not self._tick():
            return
        try:
            value = apply(op, args)
        except ZeroDivisionError:
            return
        if not value or len(value) > self.cap or not _ok(value):
            return                                   # an empty list never helps build a non-empty one
        if value == self.tg.t:
            self._solution(lines, cost)
            return
        if self.oe:
            if value in self.settled or self.pushed_cost.get(value, math.inf) <= cost:
                return
            self.pushed_cost[value] = cost
        if cost + self.min_line >= self.best_cost:
            return                                   # any program built on it costs too much
        if self.prune and not self.tg.relevant(value, self.long_factor):
            return
        self.counter += 1
        heapq.heappush(self.heap, (cost, self.counter, _Entry(cost, value, lines)))

    def _solution(self, lines, cost: float) -> None:
        if cost < self.best_cost and try_run(Program.build(lines)) == list(self.tg.t):
            self.best_cost, self.best_lines = cost, tuple(lines)

    def close_with(self, entry: _Entry, op: str, params: tuple = ()):
        """Candidate solution: one more line, op on the entry with the other arguments `params`."""
        if not self._tick():
            return
        k = len(entry.lines) - 1
        lines = entry.lines + ((op, line_args(op, (Ref(k),), params)),)
        cost = self.obj.program_cost(lines)
        if cost < self.best_cost:
            self._solution(lines, cost)

    def close_pair(self, a: _Entry, b: _Entry, op: str) -> None:
        if not self._tick():
            return
        lines, ia, ib = _merge(a.lines, b.lines)
        lines.append((op, (Ref(ia), Ref(ib))))
        cost = self.obj.program_cost(lines)
        if cost < self.best_cost:
            self._solution(tuple(lines), cost)

    # ---- leaves ----------------------------------------------------------------------------------
    def leaves(self) -> None:
        t, n = self.tg.t, self.tg.n
        if self.prune:
            for view in self._views():
                m = len(view)
                for k in LEAF_STEPS:
                    for s in {view[0], view[min(1, m - 1)] - k, view[-1] - (m - 1) * k}:
                        self._range_leaf(s, k, m)
                for c in {view[0], view[-1], Counter(view).most_common(1)[0][0], 0}:
                    self._leaf("repeat_num", (m, c))
            self._run_leaves()
            lo, hi = min(t), max(t)
            for a in (lo - 1, lo):
                for b in (hi, hi + 1):
                    if b - a + 1 <= self.cap:
                        self._leaf("range_func_up", (a, b))
        else:
            small = sorted(set(self._pool()[:MAX_POOL]) | {n, n - 1})
            for s in small:
                for e in small:
                    if s <= e:
                        self._leaf("range_func_up", (s, e))
                    for k in (2, 3, 4, 5, -1, -2, -3, -4, -5):
                        if (e - s) * k > 0:
                            self._leaf("range_func_interval", (s, e, k))
                self._leaf("repeat_num", (n, s))

    def _views(self) -> list[tuple]:
        """Stretches a leaf should be aligned with: the target, its even/odd halves, its period."""
        t, n = self.tg.t, self.tg.n
        views = [t] + [h for h in self.tg.halves if h]
        views += [t[:n // d] for d in range(2, 6) if n % d == 0 and t[:n // d] * d == t]
        return views

    def _pool(self) -> list[int]:
        """Constants drawn from the target: values, neighbours of its ends, length, small ints."""
        t, n = self.tg.t, self.tg.n
        vals = set(t) | {0, 1, 2, n, n - 1, n + 1, t[0] - 1, t[0] + 1, t[-1] - 1, t[-1] + 1}
        vals |= {b - a for a, b in zip(t[:4], t[1:5])}
        return sorted(vals, key=lambda v: (abs(v - t[0]), v))

    def _range_leaf(self, s: int, k: int, m: int) -> None:
        if m > 0:
            self._leaf(*run_line(s, k, m))

    def _run_leaves(self) -> None:
        """Arithmetic runs at both ends of the target and of its halves (concatenate pieces)."""
        for seq in (self.tg.t,) + self.tg.halves:
            for v in (seq, seq[::-1]):
                if len(v) < 2:
                    continue
                k, m = v[1] - v[0], 2
                while m < len(v) and v[m] - v[m - 1] == k:
                    m += 1
                run = v[:m] if v is seq else v[:m][::-1]
                self._range_leaf(run[0], run[1] - run[0], m)

    def _leaf(self, op: str, args: tuple) -> None:
        if op == "range_func_interval" and not -5 <= args[2] <= 5:
            return
        if op == "repeat_num" and args[0] > self.cap:
            return
        if op == "range_func_up" and args[1] - args[0] + 1 > self.cap:
            return
        if op == "range_func_interval" and len(range(*args)) > self.cap:
            return
        self.push(((op, args),), op, args)

    # ---- closing: one more line reaches the target -------------------------------------------------
    def close(self, e: _Entry) -> None:
        v, t = e.value, self.tg.t
        for spec in self.witness_ops:
            for params in spec.hooks.witness(v, t):
                self.close_with(e, spec.name, params)
        if len(v) == self.tg.n:
            self._close_modulo(e)
        elif len(v) > self.tg.n:
            self._close_slice(e)
        self._close_pairs(e)

    def _close_modulo(self, e: _Entry) -> None:
        v, t = e.value, self.tg.t
        if min(t) < 0:
            return
        g = 0
        top = max(t)
        for a, b in zip(v, t):
            g = math.gcd(g, a - b)
            if 0 < g <= top:
                return                               # c must exceed max(t) and divide g
        if g == 0:
            return
        # the smallest divisor of g above max(t) gives the cheapest constant under both objectives
        for c in divisors_above(g, top):
            if all(a % c == b for a, b in zip(v, t)):
                self.close_with(e, "modulo_item_list", (c,))
                return

    def _close_slice(self, e: _Entry) -> None:
        """x[a:b] == t: the target's first occurrence in the value, by C-speed substring search."""
        v, n = e.value, self.tg.n
        kv, kt = self.tg._key(v), self.tg.key
        if kv is not None and kt is not None:
            a = kv.find(kt)
            if a >= 0:
                self.close_with(e, "get_subsequence_between_indices", (a, a + n))

    def _close_pairs(self, e: _Entry) -> None:
        """Two-input last lines whose other input is now determined: look it up among settled values."""
        v, t, n = e.value, self.tg.t, self.tg.n
        look = self._lookup
        heads = self.heads
        if len(v) == n and n >= 2:
            if (n, t[0] - v[0], t[1] - v[1]) in heads:
                y = look(tuple(b - a for a, b in zip(v, t)))
                if y is not None:
                    self.close_pair(e, y, "add_two_lists")
            if (n, v[0] - t[0], v[1] - t[1]) in heads:
                y = look(tuple(a - b for a, b in zip(v, t)))
                if y is not None:
                    self.close_pair(e, y, "subtract_two_lists")
            if (n, v[0] + t[0], v[1] + t[1]) in heads:
                y = look(tuple(a + b for a, b in zip(v, t)))
                if y is not None:
                    self.close_pair(y, e, "subtract_two_lists")
        if len(v) < n:
            for left in (True, False):
                w = self.tg.interleave_partner(v, left)
                y = look(w) if w is not None else None
                if y is not None:
                    self.close_pair(e, y, "interleave") if left else self.close_pair(y, e, "interleave")
            m = len(v)
            if t[:m] == v:
                y = look(t[m:])
                if y is not None:
                    self.close_pair(e, y, "concatenate")
            if t[n - m:] == v:
                y = look(t[:n - m])
                if y is not None:
                    self.close_pair(y, e, "concatenate")

    def _lookup(self, value: tuple) -> _Entry | None:
        if self.oe:
            return self.settled.get(value)
        for s in self.settled_list:
            if s.value == value:
                return s
        return None

    # ---- growing: children with one more line ------------------------------------------------------
    def grow(self, e: _Entry) -> None:
        v, t = e.value, self.tg.t
        k = len(e.lines) - 1
        if self.prune and len(e.lines) >= MAX_UNARY_LINES:
            self._grow_pairs(e)
            return
        ref = Ref(k)
        lv = list(v)
        unary = [("reverse_list", (ref,)), ("scan_add", (ref,))]
        preds = self.tg.preds if self.prune else PREDICATES
        unary += [("filter", (p, ref)) for p in preds]
        if v:
            for c in {t[0] - v[0], t[-1] - v[-1]} - {0}:
                unary.append(("add_item_list", (ref, c)) if c > 0 else ("subtract_item_list", (ref, -c)))
        for c in sorted({*SMALL_CONSTANTS, max(t) + 1}):
            unary.append(("modulo_item_list", (ref, c)))
        for j in SMALL_CONSTANTS:
            if len(v) >= 2 * j:
                unary.append(("get_subsequence_with_jumps", (ref, j)))
        for r in SMALL_CONSTANTS:
            if 0 < len(v) * r <= self.cap:
                unary.append(("repeat_list", (r, ref)))
        for op, args in unary:
            if self.stopped:
                return
            vals = [lv if isinstance(a, Ref) else a for a in args]
            self.push(e.lines + ((op, args),), op, vals)
        self._grow_pairs(e)

    def _grow_pairs(self, e: _Entry) -> None:
        """Binary children of e with settled entries. Settled lists are in cost order, so the scan
        stops at the first partner whose (additive, sharing ignored) cost is already too high."""
        n = self.tg.n
        long = len(e.value) >= n
        if long and self.prune:
            return          # a last two-list line is found by close(); as a middle line it rarely pays
        group = self.settled_long if long else self.settled_short
        ops = (("add_two_lists", "subtract_two_lists", "modulo_two_lists") if long
               else ("interleave", "concatenate"))
        room = self.best_cost - self.min_line - e.cost + self.out_cost - self.min_line
        for other in group:
            if self.stopped or other.cost > room:
                return
            if len(other.lines) + len(e.lines) > self.max_grow_lines:
                continue
            if not long and len(other.value) + len(e.value) >= n:
                continue
            for a, b in ((e, other), (other, e)):
                for op in ops:
                    lines, ia, ib = _merge(a.lines, b.lines)
                    lines.append((op, (Ref(ia), Ref(ib))))
                    self.push(tuple(lines), op, (list(a.value), list(b.value)))
                if a is b:
                    break

    # ---- main loop -----------------------------------------------------------------------------------
    def run(self) -> None:
        self.leaves()
        if time.monotonic() >= self.deadline:
            return
        while self.heap and not self.stopped:
            cost, _, e = heapq.heappop(self.heap)
            if cost + self.min_line >= self.best_cost:
                break
            if self.oe:
                if e.value in self.settled:
                    continue
                self.settled[e.value] = e
            self.settled_list.append(e)
            if len(e.value) >= 2:
                self.heads.add((len(e.value), e.value[0], e.value[1]))
            (self.settled_long if len(e.value) >= self.tg.n else self.settled_short).append(e)
            self.pops += 1
            self.close(e)
            if len(e.lines) < self.max_grow_lines:
                self.grow(e)


class EnumerateStrategy:
    """Bottom-up, cost-ordered enumeration with observational equivalence and target pruning."""

    name = "enumerate"
    takes_bound = True           # search(..., bound=bits): the portfolio passes its best so far

    def search(self, target: list[int], config, deadline: float,
               bound: float | None = None) -> SearchResult | None:
        """The cheapest program found, or None. `bound` (bits under config.objective, optional): only
        programs cheaper than it are wanted, e.g. the best another strategy already has; the search
        space shrinks with it, so a good bound makes this call nearly free."""
        t0 = time.monotonic()
        if not target:
            return None
        s = _Search(list(target), config, deadline, bound)
        s.run()
        if s.best_lines is None:
            return None
        from ksynth.dsl.encode import bits
        from ksynth.dsl.score import kt_bits

        program = Program.build(s.best_lines)
        verified = try_run(program, config.max_len) == list(target)
        return SearchResult(program=program, bits=bits(program), kt_bits=kt_bits(program),
                            verified=verified, seconds=time.monotonic() - t0, nodes=s.nodes,
                            strategy=self.name,
                            stats={"pops": s.pops, "settled": len(s.settled_list),
                                   "stopped_early": s.stopped})
