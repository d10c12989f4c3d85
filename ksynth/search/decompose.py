"""Decomposition by inverse ("witness") functions, recursive, memoised, with shared lines.

KT programs fold their sequences left: out = concatenate(out, s) or interleave(out, s). So an
interleave always starts at position 0 of the (sub)target it explains, and whatever follows it can
be absorbed into the longer argument. For a target t and every split point m:
    A: X = t[0:2m:2] + t[2m:], Y = t[1:2m:2]      (the first list runs on into the tail)
    B: X = t[0:2m:2],          Y = t[1:2m:2] + t[2m:]
and t = interleave(X, Y). Both halves are scored with a fast run/literal estimate, and only the most
promising splits are solved in full (recursively: X is often itself an interleave). Other witnesses:
concatenation (the segmentation, always an option), repeat_list (t = x * k) and scan_add (t is the
prefix sum of its differences: any row's `preimage` hook). Lines are shared through the pool: the half solved second may copy
or transform any line the first built, and the halves are solved in the order that lets the
interleave's simple argument reuse the complex one.

A sub-solution's cost is the approximate bits of the lines it adds beyond its pool (`dag_cost`), so
options are compared on what they really add; the portfolio ranks final programs by exact cost.
"""
from __future__ import annotations

import time

from ksynth.config import Tuning
from ksynth.dsl.ops import with_hook
from ksynth.search.ir import Node, assemble, extend
from ksynth.search.objective import APPROX_INDEX, COST_EPS, allowed_ops, line_cost
from ksynth.search.segment import Segmenter, costs_for

MIN_INTERLEAVE = 4       # elements: the shortest target worth splitting
MIN_PREIMAGE = 4         # elements: the shortest target inverted through a preimage hook
REUSE_SCAN = 256         # splits beyond the top ones tested for reuse between their halves (O(n) each)
COPY_SPLITS = 2          # splits whose halves copy each other added at the top (1 fewer per level)
SPLIT_SLACK_RUNS = 2     # a split is solved when its estimate is within this many interval lines of the best


COPY_EST_BITS = 4.0      # estimated bits of reusing an earlier stretch (a reference, maybe a slice)


def prefix_costs(seq, c) -> list[float]:
    """pre[m] = estimated bits of a flat cover of seq[:m] by runs (length >= 3) and merged
    literals: a two-state DP (last piece an open literal or not), O(len) with maximal runs."""
    n = len(seq)
    inf = float("inf")
    closed = [0.0] + [inf] * n      # best cover of seq[:m] whose last piece is not a literal
    opened = [inf] * (n + 1)        # ... whose last piece is an open literal
    run_start = 0                   # start of the maximal arithmetic run ending at m - 1
    for m in range(1, n + 1):
        opened[m] = min(opened[m - 1] + c.lit_elem, closed[m - 1] + c.lit_line + c.lit_elem)
        if m >= 3:
            if seq[m - 1] - seq[m - 2] != seq[m - 2] - seq[m - 3]:
                run_start = m - 2
            if m - run_start >= 3:
                cost = c.run(seq[m - 1] - seq[m - 2])
                for s in (run_start, m - 3) if run_start != m - 3 else (run_start,):
                    base = min(closed[s], opened[s])
                    closed[m] = min(closed[m], base + cost)
        elif m == 2:
            run_start = 0
    return [min(a, b) for a, b in zip(closed, opened)]


def quick_cost(seq, c) -> float:
    """Estimated bits of a flat run/literal cover of seq (prefix_costs of the whole)."""
    return prefix_costs(seq, c)[-1] if seq else 0.0


TRANSFORM_PROBE = 6      # leading elements of a half matched against windows of the other


def _item_transform_len(small, big, k: int = TRANSFORM_PROBE) -> int:
    """How many leading elements of `small` are an item-wise modulo (v % c, c = the gcd of the
    differences, above every output value) or a one-value substitute of a window of `big` (0: none,
    or a prefix shorter than k). These are the transforms of a stretch that an interleave may
    separate from it and that the run/literal estimate cannot see."""
    from math import gcd

    if len(small) < k or len(big) < k:
        return 0
    p = tuple(small[:k])
    if len({b - a for a, b in zip(p, p[1:])}) == 1:
        return 0                               # an arithmetic run is cheap on its own
    top, low = max(p), min(p)
    best = 0
    for i in range(len(big) - k + 1):
        w = big[i:i + k]
        if w == p:
            continue                           # a plain copy: _copy_split's business
        if low >= 0 and min(w) >= 0:
            g = 0
            for a, b in zip(w, p):
                if a < b:
                    g = -1
                    break
                g = gcd(g, a - b)
            if g > top:
                m = k
                while m < len(small) and i + m < len(big) and big[i + m] >= 0 and \
                        big[i + m] % g == small[m] and small[m] < g:
                    m += 1
                best = max(best, m)
                continue
        mism = {(a, b) for a, b in zip(w, p) if a != b}
        if len(mism) == 1:
            (a0, b0), = mism
            if a0 not in p:
                m = k
                while m < len(small) and i + m < len(big) and \
                        (b0 if big[i + m] == a0 else big[i + m]) == small[m] and small[m] != a0:
                    m += 1
                best = max(best, m)
    return best


# ---- reuse-aware split estimate -----------------------------------------------------------------
# The run/literal estimate cannot tell the right interleave split from its neighbours when the
# halves are random literals: every split then costs ~8 bits per element. What singles out the
# right split is reuse: KT folds the SAME sequences in again (copied, reversed, repeated, strided),
# and only the right split leaves those stretches contiguous. `reuse_cover` is a greedy LZ-style
# cover that sees such copies, within a half (its own prefix) and from the other half.
REUSE_STRIDES = (2, 3, 4, 5)     # get_subsequence_with_jumps steps seen by the estimate
REUSE_COPY_BITS = COPY_EST_BITS + 3.0   # a reused stretch: a reference plus maybe a one-ref line
REUSE_DEPTH = 1                  # deepest level whose splits get the reuse estimate
REUSE_WORK = 4000                # elements covered per target at most (keeps long targets linear)
_SEP = "\u0100"                  # separates stretches in a source text (values are < 256 there)


def _first_prefix(grams: list, span: int) -> dict:
    """gram -> the shortest prefix length that contains it (grams listed by start, each `span` long)."""
    return dict(zip(reversed(grams), range(len(grams) - 1 + span, span - 1, -1)))


class ReuseHalf:
    """One half of a split as a copy source: its 3-grams (plain, reversed, strided by 2..5) with
    the shortest prefix holding each, and lazily its text for longest-match extension. Byte values
    only (0..255: the text maps values to characters below _SEP); Decomposer checks before use."""

    __slots__ = ("v", "plain", "firsts", "other", "all", "s", "r", "strided", "_text")

    def __init__(self, v: tuple):
        self.v = v
        plain = list(zip(v, v[1:], v[2:]))
        firsts = [_first_prefix(plain, 3), _first_prefix([g[::-1] for g in plain], 3)]
        for j in REUSE_STRIDES:
            firsts.append(_first_prefix(list(zip(v, v[j:], v[2 * j:])), 2 * j + 1))
        self.plain, self.firsts = firsts[0], firsts
        self.other = set().union(*firsts[1:])        # grams of the non-plain stretches
        self.all = self.other.union(self.plain)
        self.s = None
        self._text = None

    def strings(self) -> str:
        if self.s is None:
            s = "".join(map(chr, self.v))
            self.s, self.r = s, s[::-1]
            self.strided = [(j, r, s[r::j]) for j in REUSE_STRIDES for r in range(j) if r < len(s)]
        return self.s

    def text(self) -> str:
        """Every stretch the other half may copy: plain, reversed, strided residues."""
        if self._text is None:
            self.strings()
            self._text = _SEP.join([self.s, self.r] + [p for _, _, p in self.strided])
        return self._text

    def in_prefix(self, w: str, i: int) -> bool:
        """w occurs in a plain / reversed / strided stretch of v[:i]."""
        n = len(self.v)
        return self.s.find(w, 0, i) >= 0 or self.r.find(w, n - i) >= 0 or \
            any(s.find(w, 0, (i - r + j - 1) // j) >= 0 for j, r, s in self.strided if i > r)


def reuse_cover(h: ReuseHalf, c, ext: ReuseHalf | None = None) -> float:
    """Estimated bits of h.v by a greedy left-to-right cover: arithmetic runs (>= 3), copies
    (>= 3 elements, REUSE_COPY_BITS) of a plain / reversed / strided stretch of its own prefix or
    of `ext` (anywhere), else merged literals."""
    a = h.v
    n = len(a)
    firsts, plain, other = h.firsts, h.plain, h.other
    ext_all = ext.all if ext is not None else ()
    lit_elem, lit_line = c.lit_elem, c.lit_line
    i, cost, open_lit = 0, 0.0, False
    while i < n:
        run, d = 1, 0
        if i + 1 < n:
            d = a[i + 1] - a[i]
            run = 2
            while i + run < n and a[i + run] - a[i + run - 1] == d:
                run += 1
        best = 0
        if run < 3 and i + 3 <= n:
            g = (a[i], a[i + 1], a[i + 2])
            in_ext = g in ext_all
            if in_ext or plain[g] <= i or (g in other and any(f.get(g, n) <= i for f in firsts)):
                sa = h.strings()
                et = ext.text() if in_ext else ""
                k = 3
                while i + k < n:
                    w = sa[i:i + k + 1]
                    if (in_ext and w in et) or h.in_prefix(w, i):
                        k += 1
                    else:
                        break
                best = k
        if run >= 3:
            cost += c.run(d)
            i += run
            open_lit = False
        elif best:
            cost += REUSE_COPY_BITS
            i += best
            open_lit = False
        else:
            cost += lit_elem if open_lit else lit_elem + lit_line
            open_lit = True
            i += 1
    return cost


def reuse_split_cost(x: tuple, y: tuple, c) -> float:
    """Estimated bits of the two halves, solved in the better order (the second may copy the first)."""
    hx, hy = ReuseHalf(x), ReuseHalf(y)
    return min(reuse_cover(hx, c) + reuse_cover(hy, c, hx), reuse_cover(hy, c) + reuse_cover(hx, c, hy))


def dag_cost(root: Node, objective: str, pool_values: frozenset = frozenset()) -> float:
    """Approximate bits of the lines `root` adds beyond the pool (each distinct value once)."""
    total, seen = 0.0, set()
    for n in root.walk():
        if n.value in pool_values or n.value in seen:
            continue
        seen.add(n.value)
        total += line_cost(n.op, n.args, APPROX_INDEX, objective)
    return total


class Decomposer:
    """Solve one target by recursion over witnesses; `solve(t)` returns (approx bits, Node)."""

    def __init__(self, objective: str = "kt", ablations=None, deadline: float | None = None,
                 tuning: Tuning | None = None, hints: dict | None = None):
        tuning = tuning or Tuning()
        # depth -> {(m, tail_to_y)}: interleave splits solved beside the ranked ones at that depth
        # (the `sketch` strategy's proposals; none for the plain decompose strategy)
        self.hints = hints or {}
        self.objective = objective
        self.c = costs_for(objective)
        self.seg = Segmenter(objective, ablations, tuning)
        self.max_depth, self.top_splits = tuning.max_depth, tuning.top_splits
        self.reuse_top, self.reuse_max_m = tuning.reuse_top, tuning.reuse_max_m
        allowed = allowed_ops(objective)
        self.preimage_ops = tuple(s for s in with_hook("preimage") if s.name in allowed)
        self.memoise = getattr(ablations, "memoise", True)
        self.shared = getattr(ablations, "shared_lines", True)
        self.interleave_on = getattr(ablations, "interleave", True)
        self.split_pruning = getattr(ablations, "split_pruning", True)
        self.transformed_splits = getattr(ablations, "transformed_splits", True)
        self.reuse_estimate = getattr(ablations, "reuse_estimate", True)
        self.deadline = deadline
        self.memo: dict = {}
        self.split_memo: dict = {}    # (target, depth) -> ranked splits (they do not depend on the pool)
        self.calls = 0          # sub-target visits
        self.solved = 0         # sub-targets solved (visits minus memo hits)

    @property
    def nodes(self) -> int:
        return self.seg.nodes + self.calls

    def _late(self) -> bool:
        return self.deadline is not None and time.monotonic() > self.deadline

    def solve(self, target, pool: tuple = ()) -> tuple[float, Node]:
        """(approx bits, Node). `pool`: Nodes built elsewhere, copy sources for every sub-target;
        their own lines are not counted in the approximate bits (exact pricing is the caller's)."""
        t = tuple(target)
        pool = tuple({p.value: p for p in pool}.values())
        cost, node = self._solve(t, pool, frozenset(p.value for p in pool), 0)
        return cost + self.c.output, node

    def _pool_for(self, pool: tuple, extra: Node) -> tuple[tuple, frozenset]:
        if not self.shared:
            return pool, frozenset(p.value for p in pool)
        seen = {p.value for p in pool}
        out = list(pool)
        for n in extra.walk():
            if n.value not in seen:
                seen.add(n.value)
                out.append(n)
        return tuple(out), frozenset(seen)

    def _solve(self, t: tuple, pool: tuple, pool_values: frozenset, depth: int):
        self.calls += 1
        key = (t, pool_values)
        if self.memoise and key in self.memo:
            return self.memo[key]
        self.solved += 1
        # an exact line already built costs nothing more
        if t in pool_values:
            hit = next(p for p in pool if p.value == t)
            return 0.0, hit
        _, node = self.seg.solve(t, pool, self.deadline)
        best = (dag_cost(node, self.objective, pool_values), node)
        n = len(t)
        if not self._late() and depth < self.max_depth:
            best = self._repeat(t, pool, pool_values, depth, best)
            best = self._preimages(t, pool, pool_values, depth, best)
            if self.interleave_on and n >= MIN_INTERLEAVE:
                best = self._interleave(t, pool, pool_values, depth, best)
        if self.memoise:
            self.memo[key] = best
        return best

    # ---- witnesses -------------------------------------------------------------------------------
    def _repeat(self, t, pool, pool_values, depth, best):
        n = len(t)
        for k in range(2, n // 2 + 1):
            if n % k == 0 and t[: n // k] * k == t:
                x = t[: n // k]
                cx, nx = self._solve(x, pool, pool_values, depth + 1)
                node = extend("repeat_list", nx, (k,))
                cost = dag_cost(node, self.objective, pool_values)
                if cost < best[0]:
                    best = (cost, node)
                break                         # the shortest period explains every longer one
        return best

    def _preimages(self, t, pool, pool_values, depth, best):
        """t = op(x) for a parameter-free op with a `preimage` hook (scan_add: x = the differences
        of t): x is solved when its flat estimate plus the op's line beats t's own."""
        if len(t) < MIN_PREIMAGE:
            return best
        for spec in self.preimage_ops:
            for x in spec.hooks.preimage(t):
                x = tuple(x)
                if quick_cost(x, self.c) + self.c.unary(spec.name) >= quick_cost(t, self.c) - COST_EPS:
                    continue
                _, nx = self._solve(x, pool, pool_values, depth + 1)
                node = extend(spec.name, nx)
                cost = dag_cost(node, self.objective, pool_values)
                if cost < best[0]:
                    best = (cost, node)
        return best

    def _interleave(self, t, pool, pool_values, depth, best):
        c = self.c
        ranked = self.split_memo.get((t, depth))
        if ranked is None:
            ranked = self.split_memo[(t, depth)] = self._rank_splits(t, depth)
        splits, by_reuse = ranked
        top = self.top_splits if depth == 0 else max(1, self.top_splits - depth)
        chosen = splits if not self.split_pruning else splits[:top]
        more = []
        if self.split_pruning:
            # the best splits by the reuse-aware cover, when the flat estimate ranked them lower;
            # taken in turns with the flat ones, so a deadline cuts both lists alike
            have = {(m, ty) for _, m, ty in chosen}
            more = [s for s in by_reuse if (s[1], s[2]) not in have][:self.reuse_top]
            mixed = []
            for i in range(max(len(chosen), len(more))):
                mixed += chosen[i:i + 1] + more[i:i + 1]
            chosen = mixed
            # a half that copies the other is invisible to the estimate: always consider those splits
            extra = max(0, COPY_SPLITS - depth)
            if extra:
                have = {(m, ty) for _, m, ty in chosen}
                chosen = chosen + self._reuse_extras(
                    t, [s for s in splits[top:] if (s[1], s[2]) not in have], extra)
        hinted = self._hinted(splits, chosen, depth)
        for est, m, tail_to_y in chosen + hinted:
            if self._late():
                break
            xs, ys, tail = t[0:2 * m:2], t[1:2 * m:2], t[2 * m:]
            x, y = (xs, ys + tail) if tail_to_y else (xs + tail, ys)
            if self.split_pruning and est > best[0] + SPLIT_SLACK_RUNS * c.interval and \
                    (est, m, tail_to_y) not in hinted and not self._reuse_split(t, m, tail_to_y):
                continue
            if (est, m, tail_to_y) in more and est > best[0]:
                continue                       # the reuse estimate sees copies: no slack needed
            node = self._pair(x, y, pool, pool_values, depth)
            cost = dag_cost(node, self.objective, pool_values)
            if cost < best[0]:
                best = (cost, node)
        return best

    def _hinted(self, splits, chosen, depth) -> list:
        """The hinted splits at this depth (self.hints) that the ranking did not choose, in
        estimate order; they are solved after the ranked ones (a deadline cuts them first) and
        never pruned by their estimate."""
        want = self.hints.get(depth)
        if not want:
            return []
        have = {(m, ty) for _, m, ty in chosen}
        return [s for s in splits if (s[1], s[2]) in want and (s[1], s[2]) not in have]

    def _reuse_extras(self, t, splits, extra: int) -> list:
        """The first `extra` of `splits` (in estimate order) whose halves reuse each other. Each
        test is O(len(t)), so at most REUSE_SCAN splits are tested, and none after the deadline."""
        out = []
        for i, s in enumerate(splits[:REUSE_SCAN]):
            if len(out) >= extra or ((i & 15) == 15 and self._late()):
                break
            if self._reuse_split(t, s[1], s[2]):
                out.append(s)
        return out

    def _rank_splits(self, t, depth) -> tuple[list, list]:
        """Every interleave split (est, m, tail_to_y) by the flat estimate, cheapest first; and,
        near the top, the short splits by the reuse-aware estimate, cheapest first."""
        n = len(t)
        c = self.c
        # flat estimates of every split from three O(n) passes: prefix costs of the even and odd
        # positions, suffix costs of the target (the tail after 2m)
        pre_even = prefix_costs(t[0::2], c)
        pre_odd = prefix_costs(t[1::2], c)
        suf = prefix_costs(t[::-1], c)[::-1]
        splits, by_reuse = [], []
        # the cover's texts map values to characters below _SEP: byte values only
        reuse = self.reuse_estimate and depth <= REUSE_DEPTH and 0 <= min(t) and max(t) < 256
        work = 0
        for m in range(1, n // 2 + 1):
            est = pre_even[m] + pre_odd[m] + suf[2 * m] + c.interleave
            for tail_to_y in ((False, True) if 2 * m < n else (False,)):
                splits.append((est, m, tail_to_y))
            # the fold's last interleave takes a short piece: Y = t[1:2m:2], the tail goes to X
            if reuse and m <= self.reuse_max_m and work < REUSE_WORK:
                x, y = t[0:2 * m:2] + t[2 * m:], t[1:2 * m:2]
                by_reuse.append((reuse_split_cost(x, y, c) + c.interleave, m, False))
                work += n
        splits.sort(key=lambda s: s[0])
        by_reuse.sort(key=lambda s: s[0])
        return splits, by_reuse

    def _reuse_split(self, t, m, tail_to_y) -> bool:
        """True when one half of the split reuses a stretch of the other, plainly or (when the
        switch is on) through an item-wise modulo / substitute: reuse the estimate cannot see."""
        if self._copy_split(t, m, tail_to_y):
            return True
        if not self.transformed_splits:
            return False
        xs, ys, tail = t[0:2 * m:2], t[1:2 * m:2], t[2 * m:]
        x, y = (xs, ys + tail) if tail_to_y else (xs + tail, ys)
        return _item_transform_len(y, x) > 0 or _item_transform_len(x, y) > 0

    @staticmethod
    def _copy_split(t, m, tail_to_y) -> bool:
        """True when one half of the split is a copy / reversal / jump / shift / repetition of a
        stretch of the other: reuse the quick estimate cannot see (checked with bytes.find)."""
        xs, ys, tail = t[0:2 * m:2], t[1:2 * m:2], t[2 * m:]
        x, y = (xs, ys + tail) if tail_to_y else (xs + tail, ys)
        if len(x) < 3 or len(y) < 3 or min(t) < 0 or max(t) > 255:
            return False
        for big, small in ((x, y), (y, x)):
            if len(small) > len(big) and big is x:
                continue
            bb, bs = bytes(big), bytes(small)
            if bs in bb or bs[::-1] in bb or (len(small) >= 3 and bs in bytes(big[::2])) or \
                    (len(small) >= 3 and bs in bytes(big[::3])):
                return True
            if bb.startswith(bs[:3]) and bs and bb.count(bs[:3]) >= 2:
                return True
            if len(small) >= 5:                                  # shifted copy: equal differences
                db = bytes((b - a) & 255 for a, b in zip(big, big[1:]))
                ds = bytes((b - a) & 255 for a, b in zip(small, small[1:]))
                if len(set(ds)) > 1 and ds in db:
                    return True
        return False

    def _pair(self, x, y, pool, pool_values, depth) -> Node:
        """interleave(X, Y): the simpler half first, the other may reuse its lines; then the
        first half is re-solved with the second's lines available when that helps."""
        c = self.c
        y_first = quick_cost(y, c) <= quick_cost(x, c)
        a, b = (y, x) if y_first else (x, y)
        _, na = self._solve(a, pool, pool_values, depth + 1)
        pool_b, values_b = self._pool_for(pool, na)
        _, nb = self._solve(b, pool_b, values_b, depth + 1)
        if self.shared and depth <= 1 and not self._late():
            # second pass: the first half may reuse what the second built
            pool_a, values_a = self._pool_for(pool, nb)
            _, na2 = self._solve(a, pool_a, values_a, depth + 1)
            one = extend("interleave", (nb, na) if y_first else (na, nb))
            two = extend("interleave", (nb, na2) if y_first else (na2, nb))
            if dag_cost(two, self.objective, pool_values) < dag_cost(one, self.objective, pool_values):
                return two
            return one
        return extend("interleave", (nb, na) if y_first else (na, nb))


class DecomposeStrategy:
    """The `decompose` strategy."""

    name = "decompose"

    def search(self, target, config, deadline):
        from ksynth.search.base import SearchResult

        t0 = time.monotonic()
        dec = Decomposer(config.objective, config.ablations, deadline, config.tuning)
        cost, node = dec.solve(target)
        program = assemble(node, share=config.ablations.copies and config.ablations.shared_lines)
        return SearchResult(program, float("nan"), float("nan"), False, time.monotonic() - t0,
                            dec.nodes, self.name, {"approx_bits": cost})
