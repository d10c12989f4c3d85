"""Decomposition by inverse ("witness") functions, recursive, memoised, with shared lines.

KT programs fold their sequences left: out = concatenate(out, s) or interleave(out, s). So an
interleave always starts at position 0 of the (sub)target it explains, and whatever follows it can
be absorbed into the longer argument. For a target t and every split point m:
    A: X = t[0:2m:2] + t[2m:], Y = t[1:2m:2]      (the first list runs on into the tail)
    B: X = t[0:2m:2],          Y = t[1:2m:2] + t[2m:]
and t = interleave(X, Y). Both halves are scored with a fast run/literal estimate, and only the most
promising splits are solved in full (recursively: X is often itself an interleave). Other witnesses:
concatenation (the segmentation, always an option), repeat_list (t = x * k) and scan_add (t is the
prefix sum of its differences). Lines are shared through the pool: the half solved second may copy
or transform any line the first built, and the halves are solved in the order that lets the
interleave's simple argument reuse the complex one.

A sub-solution's cost is the approximate bits of the lines it adds beyond its pool (`dag_cost`), so
options are compared on what they really add; the portfolio ranks final programs by exact cost.
"""
from __future__ import annotations

import time

from ksynth.search.segment import (Node, Segmenter, assemble, costs_for, interleave_node,
                                   unary_node)
from ksynth.search.objective import line_cost, APPROX_INDEX

MAX_DEPTH = 4            # nested interleaves explored
TOP_SPLITS = 3           # interleave splits solved in full at the top level (fewer deeper down)
MIN_INTERLEAVE = 4       # shortest target worth splitting


def quick_cost(seq, c) -> float:
    """Fast estimate (bits) of a flat cover by maximal runs (length >= 3) and merged literals."""
    n = len(seq)
    i = 0
    cost = 0.0
    open_lit = False
    while i < n:
        if i + 2 < n:
            d = seq[i + 1] - seq[i]
            j = i + 2
            while j < n and seq[j] - seq[j - 1] == d:
                j += 1
            if j - i >= 3:
                cost += c.run(d)
                i = j
                open_lit = False
                continue
        cost += c.lit_elem + (0.0 if open_lit else c.lit_line)
        open_lit = True
        i += 1
    return cost


class Decomposer:
    """Solve one target by recursion over witnesses; `solve(t)` returns (approx bits, Node)."""

    def __init__(self, objective: str = "kt", ablations=None, deadline: float | None = None):
        self.objective = objective
        self.c = costs_for(objective)
        self.seg = Segmenter(objective, ablations)
        self.memoise = getattr(ablations, "memoise", True)
        self.shared = getattr(ablations, "shared_lines", True)
        self.interleave_on = getattr(ablations, "interleave", True)
        self.split_pruning = getattr(ablations, "split_pruning", True)
        self.deadline = deadline
        self.memo: dict = {}
        self.calls = 0

    @property
    def nodes(self) -> int:
        return self.seg.nodes + self.calls

    def _late(self) -> bool:
        return self.deadline is not None and time.monotonic() > self.deadline

    def dag_cost(self, root: Node, pool_values: frozenset) -> float:
        """Approximate bits of the lines `root` adds beyond the pool (each distinct value once)."""
        total, seen = 0.0, set()
        for n in root.walk():
            if n.value in pool_values or n.value in seen:
                continue
            seen.add(n.value)
            total += line_cost(n.op, n.args, APPROX_INDEX, self.objective)
        return total

    def solve(self, target) -> tuple[float, Node]:
        t = tuple(target)
        cost, node = self._solve(t, (), frozenset(), 0)
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
        # an exact line already built costs nothing more
        if t in pool_values:
            hit = next(p for p in pool if p.value == t)
            return 0.0, hit
        _, node = self.seg.solve(t, pool, self.deadline)
        best = (self.dag_cost(node, pool_values), node)
        n = len(t)
        if not self._late() and depth < MAX_DEPTH:
            best = self._repeat(t, pool, pool_values, depth, best)
            best = self._scan(t, pool, pool_values, depth, best)
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
                node = unary_node("repeat_list", nx, (k,))
                cost = self.dag_cost(node, pool_values)
                if cost < best[0]:
                    best = (cost, node)
                break                         # the shortest period explains every longer one
        return best

    def _scan(self, t, pool, pool_values, depth, best):
        n = len(t)
        if n < 4:
            return best
        d = (t[0],) + tuple(t[i] - t[i - 1] for i in range(1, n))
        if quick_cost(d, self.c) + self.c.ref_only >= quick_cost(t, self.c) - 1e-9:
            return best
        cd, nd = self._solve(d, pool, pool_values, depth + 1)
        node = unary_node("scan_add", nd, ())
        cost = self.dag_cost(node, pool_values)
        return (cost, node) if cost < best[0] else best

    def _interleave(self, t, pool, pool_values, depth, best):
        n = len(t)
        c = self.c
        splits = []
        for m in range(1, n // 2 + 1):
            xs, ys, tail = t[0:2 * m:2], t[1:2 * m:2], t[2 * m:]
            options = [(xs + tail, ys)]
            if tail:
                options.append((xs, ys + tail))
            for x, y in options:
                est = quick_cost(x, c) + quick_cost(y, c) + c.interleave
                splits.append((est, x, y))
        splits.sort(key=lambda s: s[0])
        top = TOP_SPLITS if depth == 0 else max(1, TOP_SPLITS - depth)
        if not self.split_pruning:
            top = len(splits)
        for est, x, y in splits[:top]:
            if self._late():
                break
            if self.split_pruning and est > best[0] + 2 * c.interval:
                break
            node = self._pair(x, y, pool, pool_values, depth)
            cost = self.dag_cost(node, pool_values)
            if cost < best[0]:
                best = (cost, node)
        return best

    def _pair(self, x, y, pool, pool_values, depth) -> Node:
        """interleave(X, Y): the simpler half first, the other may reuse its lines; then the
        first half is re-solved with the second's lines available when that helps."""
        c = self.c
        y_first = quick_cost(y, c) <= quick_cost(x, c)
        a, b = (y, x) if y_first else (x, y)
        _, na = self._solve(a, pool, pool_values, depth + 1)
        pool_b, values_b = self._pool_for(pool, na)
        _, nb = self._solve(b, pool_b, values_b, depth + 1)
        if self.shared and not self._late():
            # second pass: the first half may reuse what the second built
            pool_a, values_a = self._pool_for(pool, nb)
            _, na2 = self._solve(a, pool_a, values_a, depth + 1)
            one = interleave_node(*((nb, na) if y_first else (na, nb)))
            two = interleave_node(*((nb, na2) if y_first else (na2, nb)))
            if self.dag_cost(two, pool_values) < self.dag_cost(one, pool_values):
                return two
            return one
        return interleave_node(*((nb, na) if y_first else (na, nb)))


class DecomposeStrategy:
    """The `decompose` strategy."""

    name = "decompose"

    def search(self, target, config, deadline):
        from ksynth.search.base import SearchResult

        t0 = time.monotonic()
        dec = Decomposer(config.objective, config.ablations, deadline)
        cost, node = dec.solve(target)
        program = assemble(node)
        return SearchResult(program, float("nan"), float("nan"), False, time.monotonic() - t0,
                            dec.nodes, self.name, {"approx_bits": cost})
