"""MDL segmentation: the target as ONE concatenate of pieces, chosen by a shortest path over positions.

A piece explains t[a:b] and costs the bits of the lines it adds:
- arithmetic runs: repeat_num, range_func_up, range_func_interval (any step, negative included);
- literals: adjacent literal elements share ONE set_list line, so the DP charges the line overhead
  once per maximal literal run (an entry whose last piece is an open literal can be extended for
  the element cost alone);
- fresh transformed runs: modulo sawtooths (diffs take two values hi > 0 > lo, c = hi - lo),
  a run with one substituted element, scan_add of a run;
- copies of SOURCES: the pieces already on the path to `a` and the caller's pool (lines built
  elsewhere, e.g. the other side of an interleave). An exact copy is one more argument of the final
  concatenate (flat cost: 0 KT bits); transformed copies add one line: reverse, +/- c, modulo,
  substitute, jumps, slices, max_n/min_n, scan_add, filter, two-list ops between sources and
  between a source and a fresh run.
The one-line transforms of a source are the op table's `derive` hooks (a new op with one is tried
here with no edit); two-list ops are the rows' bodies. The DP keeps the `tuning.beam` cheapest
entries per position (plus the best open literals), so a copy whose source lies on a slightly more
expensive path is still found. Line positions are unknown while searching, so costs use
objective.APPROX_INDEX; callers rank assembled programs by exact cost. Pieces are ir.Nodes.
"""
from __future__ import annotations

import time
from functools import lru_cache

from ksynth.config import Tuning
from ksynth.dsl.ops import OPS, PREDICATES, ArgKind, with_hook
from ksynth.dsl.program import Ref
from ksynth.search.ir import Node, apply, assemble, extend, literal_node, run_node
from ksynth.search.objective import APPROX_INDEX, allowed_ops, line_cost, output_cost

FAST_SOURCES = 4         # path sources per entry once a long target falls behind its deadline
LITERALS_KEPT = 2        # open-literal entries kept per position beyond the beam (cut variants)
MIN_FAMILY_LEN = 3       # elements: fresh transformed runs / slices / pair values shorter never pay off
LONG_RUN_ENDS = 3        # a long run offers its LONG_RUN_ENDS shortest and LONG_RUN_ENDS + 1 longest ends
PAIR_OPS = ("add_two_lists", "subtract_two_lists", "modulo_two_lists")   # tried on two sources
SYMMETRIC_PAIR_OPS = frozenset({"add_two_lists"})     # one argument order is enough


def concat_node(parts: list[Node]) -> Node:
    return parts[0] if len(parts) == 1 else extend("concatenate", tuple(parts))


# ---- approximate costs --------------------------------------------------------------------------
class Costs:
    """Approximate bits per piece family under one objective, at line index APPROX_INDEX."""

    def __init__(self, objective: str):
        r = Ref(0)
        i = APPROX_INDEX

        def c(op, args):
            return line_cost(op, args, i, objective)

        self.objective = objective
        self.lit_line = c("set_list", ((),))
        self.lit_elem = c("set_list", ((7,),)) - self.lit_line
        self.repeat_num = c("repeat_num", (5, 7))
        self.up = c("range_func_up", (10, 20))
        self.interval = c("range_func_interval", (10, 40, 3))
        self.item = c("add_item_list", (r, 7))           # add / subtract / modulo a constant
        self.substitute = c("substitute", (r, 3, 4))
        self.slice = c("get_subsequence_between_indices", (r, 1, 5))
        self.ref_only = c("scan_add", (r,))               # a line with one reference and no constant
        self.two = c("add_two_lists", (r, r))
        self.concat = c("concatenate", (r, r))
        self.copy = c("concatenate", (r, r, r)) - self.concat     # one more concatenate argument
        self.interleave = c("interleave", (r, r))
        self.output = output_cost(APPROX_INDEX + 1, objective)
        self._unary: dict[str, float] = {}

    def run(self, d: int) -> float:
        return self.repeat_num if d == 0 else self.up if d == 1 else self.interval

    def unary(self, op: str) -> float:
        """Bits of a one-list line of `op` with typical constants (memoised per op)."""
        hit = self._unary.get(op)
        if hit is None:
            args = tuple(_TYPICAL[k] for k in OPS[op].args)
            hit = self._unary[op] = line_cost(op, args, APPROX_INDEX, self.objective)
        return hit


# a typical argument of each kind, for pricing a line before its constants are known
_TYPICAL = {ArgKind.NUM: 7, ArgKind.STEP: 2, ArgKind.COUNT: 5, ArgKind.INTS: (7,),
            ArgKind.PRED: PREDICATES[0], ArgKind.REF: Ref(0), ArgKind.REFS: (Ref(0), Ref(0))}


@lru_cache(maxsize=8)
def costs_for(objective: str) -> Costs:
    return Costs(objective)


# ---- derived values of a source, indexed by first element ------------------------------------------
def derive_ops(objective: str) -> tuple[str, ...]:
    """The ops whose rows derive transformed copies of a source, allowed under the objective."""
    allowed = allowed_ops(objective)
    return tuple(spec.name for spec in with_hook("derive") if spec.name in allowed)


@lru_cache(maxsize=4096)
def _derived(v: tuple, ops: tuple[str, ...]) -> dict:
    """first value -> [(op, params, value)]: the exact copy of v, then each row's `derive`
    transforms of v, for the rows in `ops` (table order)."""
    out: dict[int, list] = {v[0]: [("copy", (), v)]} if v else {}
    for op in ops:
        for params, w in OPS[op].hooks.derive(v):
            if w:
                out.setdefault(w[0], []).append((op, params, tuple(w)))
    return out


@lru_cache(maxsize=4096)
def _pair_derived(u: tuple, v: tuple) -> dict:
    """first value -> [(op, swap, value)] for two-list ops of u and v (both orders)."""
    out: dict[int, list] = {}
    for op in PAIR_OPS:
        for swap in ((False,) if op in SYMMETRIC_PAIR_OPS else (False, True)):
            w = apply(op, (v, u) if swap else (u, v))
            if len(w) >= MIN_FAMILY_LEN and len(set(w)) > 2:
                out.setdefault(w[0], []).append((op, swap, w))
    return out


def _arith_len(seq, start: int, end: int) -> int:
    """Length of the longest arithmetic prefix of seq[start:end]."""
    n = end - start
    if n <= 2:
        return n
    d = seq[start + 1] - seq[start]
    k = 2
    while k < n and seq[start + k] - seq[start + k - 1] == d:
        k += 1
    return k


# ---- the DP ------------------------------------------------------------------------------------
class _Entry:
    """A path ending at position b whose last piece covers t[a:b]; `desc` says how to build it."""

    __slots__ = ("cost", "prev", "a", "b", "desc", "pieces", "srcs")

    def __init__(self, cost, prev, a, b, desc):
        self.cost, self.prev, self.a, self.b, self.desc = cost, prev, a, b, desc
        self.pieces = 0
        self.srcs = None


def _item_key(item):
    return item[0], item[1], item[3]      # ties: fewer pieces, then the piece that started first


class Segmenter:
    """Segment one target. `pool`: nodes already built elsewhere that pieces may copy/transform."""

    def __init__(self, objective: str = "kt", ablations=None, tuning: Tuning | None = None,
                 interleave_pieces: bool = False):
        tuning = tuning or Tuning()
        self.c = costs_for(objective)
        self.derive_ops = derive_ops(objective)
        self.copies = getattr(ablations, "copies", True)
        self.transformed = getattr(ablations, "transformed_copies", True)
        self.fresh_families = getattr(ablations, "fresh_transforms", True)
        # interleave(fresh, source) pieces: slow and no gain inside the search (measured: median
        # time +30%, same bits), so only the polish's re-cover of a finished program asks for them
        self.interleaved = interleave_pieces and getattr(ablations, "interleaved_copies", True)
        self.beam = tuning.beam
        self.degrade = getattr(ablations, "segment_degrade", True)
        self.source_cap = tuning.max_sources          # sources cached per entry
        self.max_sources = tuning.max_sources         # ... used per entry (fewer once behind time)
        self.max_pair_sources = tuning.max_pair_sources
        self.long_run = tuning.long_run
        self.nodes = 0

    # -- candidates that do not depend on the path: runs and fresh transformed runs --------------
    def _fixed_candidates(self, t: tuple, a: int) -> list:
        c, n, out = self.c, len(t), []
        if a + 1 >= n:
            return out
        d = t[a + 1] - t[a]
        b = a + 2
        while b < n and t[b] - t[b - 1] == d:
            b += 1
        rc = c.run(d)
        ends = range(a + 2, b + 1)
        if b - a > self.long_run:
            ends = list(range(a + 2, a + 2 + LONG_RUN_ENDS)) + list(range(b - LONG_RUN_ENDS, b + 1))
        for e in ends:
            out.append((e, rc, ("run", d)))
        if not self.fresh_families:
            return out
        # one substituted element strictly inside a run (d != 0 keeps the replaced value unique)
        if d != 0 and b < n - 1:
            p = b
            q = p + 1
            while q < n and t[q] == t[a] + (q - a) * d:
                q += 1
            for e in range(p + 2, q + 1):
                out.append((e, rc + c.substitute, ("subrun", d, p)))
        # modulo sawtooth: diffs take two values hi > 0 > lo, values below c = hi - lo
        if b < n:
            d2 = t[b] - t[b - 1]
            hi, lo = max(d, d2), min(d, d2)
            if hi > 0 > lo:
                mod = hi - lo
                if max(t[a:b + 1]) < mod and min(t[a:b + 1]) >= 0:
                    e = b + 1
                    while e < n and t[e] - t[e - 1] in (hi, lo) and 0 <= t[e] < mod:
                        e += 1
                    cost = c.run(hi) + c.item
                    for x in range(b + 1, e + 1):
                        out.append((x, cost, ("mod", hi, mod)))
        # scan_add of a run: u = (t[a], t[a+1]-t[a], ...) arithmetic with a nonzero step
        if a + 2 < n:
            step = (t[a + 1] - t[a]) - t[a]
            if step != 0:
                e = a + 1
                while e + 1 < n and (t[e + 1] - t[e]) - (t[e] - t[e - 1] if e > a else t[a]) == step:
                    e += 1
                for x in range(a + 3, e + 2):
                    out.append((x, c.run(step) + c.ref_only, ("scanrun", step)))
        return out

    # -- candidates from copy sources -------------------------------------------------------------
    def _value_candidates(self, t: tuple, a: int, v: tuple) -> list:
        """[(b, cost, op, params)] for pieces at `a` made from ONE source value v (handle-free, so
        the result is shared by every entry that has v on its path). op "tworun+"/"tworun-" are
        two-list ops of v with a fresh run of length params[0]."""
        c, n, out = self.c, len(t), []
        first = t[a]
        L = len(v)
        ops = self.derive_ops if self.transformed else ()
        for op, params, w in _derived(v, ops).get(first, ()):
            k = len(w)
            if a + k <= n and t[a:a + k] == w:
                out.append((a + k, c.copy if op == "copy" else c.unary(op), op, params))
        if self.interleaved and L >= MIN_FAMILY_LEN and a + 2 < n:
            derived = _derived(v, ops)
            for side in (0, 1):
                for op, params, w in derived.get(t[a + side], ()):
                    if len(w) >= MIN_FAMILY_LEN:
                        self._interleaved(t, a, w, side, (op, params), out)
        if not self.transformed or L < 2:
            return out
        if a + L <= n:
            seg = t[a:a + L]
            delta = first - v[0]
            if delta != 0 and seg[1] - v[1] == delta and seg[-1] - v[-1] == delta and \
                    all(x - y == delta for x, y in zip(seg, v)):
                op = "add_item_list" if delta > 0 else "subtract_item_list"
                out.append((a + L, c.item, op, (abs(delta),)))
            if (seg[0] == v[0] or seg[1] == v[1] or seg[-1] == v[-1]) or \
                    (seg[0] <= v[0] and seg[1] <= v[1] and seg[-1] <= v[-1]):
                self._modulo_and_substitute(seg, v, a, out)
        # slices of the source that match here (not the whole source: that is a copy)
        if L >= MIN_FAMILY_LEN:
            for i in _positions(v).get(first, ()):
                m = 1
                while a + m < n and i + m < L and t[a + m] == v[i + m]:
                    m += 1
                if m >= MIN_FAMILY_LEN:
                    for k in ({m, m - 1, MIN_FAMILY_LEN} if m > MIN_FAMILY_LEN else {m}):
                        if k >= MIN_FAMILY_LEN and not (i == 0 and k == L):
                            out.append((a + k, c.slice, "get_subsequence_between_indices", (i, i + k)))
        # two-list op of the source and a fresh run (t = v + run, or t = run - v)
        if self.fresh_families and L >= 4 and a + 4 <= n:
            k = min(L, n - a)
            if t[a + 2] - v[2] - (t[a + 1] - v[1]) == t[a + 1] - v[1] - (first - v[0]):
                dif = [t[a + i] - v[i] for i in range(k)]
                m = _arith_len(dif, 0, k)
                if m >= 4:
                    out.append((a + m, c.two + c.run(dif[1] - dif[0]), "tworun+", (m,)))
            if t[a + 2] + v[2] - (t[a + 1] + v[1]) == t[a + 1] + v[1] - (first + v[0]):
                sm = [t[a + i] + v[i] for i in range(k)]
                m = _arith_len(sm, 0, k)
                if m >= 4:
                    out.append((a + m, c.two + c.run(sm[1] - sm[0]), "tworun-", (m,)))
        return out

    def _interleaved(self, t: tuple, a: int, v: tuple, side: int, how: tuple, out: list) -> None:
        """Pieces interleave(F, v) / interleave(v, F) with F fresh: v (the source itself or a
        parameter-free transform of it, `how` = (op, params)) at every other position from a + 1
        (side 1) or a (side 0), the longer list's tail after the alternation. op "ilv", params
        (side, F, how); F is priced as a run or a literal here (as a copy by the caller)."""
        n, L = len(t), len(v)
        extra = 0.0 if how[0] == "copy" else self.c.unary(how[0])
        p = a + side
        k = 1                                        # v[:k] found at stride 2 from p
        while k < L and p + 2 * k < n and t[p + 2 * k] == v[k]:
            k += 1
        if k >= 2:
            q = a + 1 - side                         # F's alternating positions
            # F at least as long as v: all of v alternates, F's tail follows (len(F) in L, L+1 and
            # the longest arithmetic F)
            if k == L and q + 2 * (L - 1) < n:
                head = t[q:q + 2 * L:2]
                start = a + 2 * L                    # F's tail starts here
                ends = {L, L + 1}
                fresh = head + t[start:n]
                m = _arith_len(fresh, 0, len(fresh))
                if m > L:
                    ends.add(m)
                for f in sorted(ends):
                    if f == L or start + (f - L) <= n:
                        F = head + t[start:start + f - L]
                        if len(F) == f:
                            out.append((a + L + f, extra + self._fresh_cost(F), "ilv", (side, F, how)))
            # F shorter than v: v[f:] follows the alternation
            for f in range(2, min(k, L - 1) + 1):
                e = a + 2 * f
                if e + L - f <= n and t[e:e + L - f] == v[f:] and q + 2 * (f - 1) < n:
                    F = t[q:q + 2 * f:2]
                    out.append((a + L + f, extra + self._fresh_cost(F), "ilv", (side, F, how)))

    def _fresh_cost(self, F: tuple) -> float:
        """Bits of a fresh interleave argument plus the interleave line."""
        c = self.c
        lit = c.lit_line + c.lit_elem * len(F)
        if len(F) >= 2 and _arith_len(F, 0, len(F)) == len(F):
            lit = min(lit, c.run(F[1] - F[0]))
        return c.interleave + lit

    def _pair_candidates(self, t: tuple, a: int, u: tuple, v: tuple) -> list:
        """[(b, cost, op, swap)] for two-list ops of two equal-length sources."""
        n, out = len(t), []
        for op, swap, w in _pair_derived(u, v).get(t[a], ()):
            k = len(w)
            if a + k <= n and t[a:a + k] == w:
                out.append((a + k, self.c.two, op, swap))
        return out

    def _modulo_and_substitute(self, seg, v, a, out):
        c = self.c
        mism = [(x, y) for x, y in zip(v, seg) if x != y]
        if not mism:
            return
        x0, y0 = mism[0]
        if all(p == (x0, y0) for p in mism) and v.count(x0) == len(mism):
            out.append((a + len(v), c.substitute, "substitute", (x0, y0)))
        # modulo: c divides x0 - y0 and exceeds every output value
        diff = x0 - y0
        if diff > 0 and min(v) >= 0:
            top = max(seg)
            for k in range(1, diff + 1):
                if diff % k:
                    continue
                mod = diff // k
                if mod <= top:
                    break
                if all(x % mod == y for x, y in zip(v, seg)):
                    out.append((a + len(v), c.item, "modulo_item_list", (mod,)))
                    break

    def _candidates_for(self, t, a, sources, cache, pair_cache) -> list:
        """[(b, cost, desc)] from sources [(value, handle)], with per-position caches by value."""
        out = []
        values = None
        for key, v, h in sources:
            cands = cache.get(key)
            if cands is None:
                cands = cache[key] = self._value_candidates(t, a, v)
            for b, cost, op, params in cands:
                if op[0] == "t" and op.startswith("tworun"):
                    out.append((b, cost, ("tworun", "add" if op == "tworun+" else "sub", h, params[0])))
                elif op == "ilv":
                    side, F, how = params
                    if values is None:
                        values = {u: hu for _, u, hu in sources}
                    hf = values.get(F)
                    if hf is not None:             # both arguments already built: one line
                        cost -= self._fresh_cost(F) - self.c.interleave
                    out.append((b, cost, ("ilv", side, h, F, hf, how)))
                else:
                    out.append((b, cost, ("src", op, h, params)))
        if self.transformed and len(sources) >= 2:
            recent = sources[:self.max_pair_sources]
            for i, (ku, u, hu) in enumerate(recent):
                for kv, v, hv in recent[i + 1:]:
                    if len(u) != len(v) or len(u) < MIN_FAMILY_LEN:
                        continue
                    key = (ku, kv)
                    cands = pair_cache.get(key)
                    if cands is None:
                        cands = pair_cache[key] = self._pair_candidates(t, a, u, v)
                    for b, cost, op, swap in cands:
                        hx, hy = (hv, hu) if swap else (hu, hv)
                        out.append((b, cost, ("pair", op, hx, hy)))
        return out

    # -- the shortest path -------------------------------------------------------------------------
    def solve(self, target, pool: list[Node] = (), deadline: float | None = None):
        """(approx bits, Node) of the best segmentation (the root is a concatenate of the pieces)."""
        t = tuple(target)
        n = len(t)
        c = self.c
        if n == 0:
            node = literal_node(())
            return c.lit_line + c.output, node
        pool_src = []
        if self.copies:
            seen = set()
            for p in pool:
                if p.value and p.value not in seen:
                    seen.add(p.value)
                    pool_src.append((id(p), p.value, p))
        hints = split_hints(t) if self.copies and self.transformed else ()
        # bucket items: (cost, pieces, prev entry, start, desc); entries are made when kept
        buckets: list[list] = [[] for _ in range(n + 1)]
        root = _Entry(0.0, None, 0, 0, None)
        root.srcs = ()
        saved = (self.beam, self.transformed, self.max_sources)
        started = time.monotonic()
        try:
            return self._dp(t, n, pool_src, hints, buckets, root, deadline, started)
        finally:
            self.beam, self.transformed, self.max_sources = saved

    def _dp(self, t, n, pool_src, hints, buckets, root, deadline, started):
        c = self.c
        lit = ("lit",)
        entries = [root]
        fast = False
        for a in range(n):
            if a > 0:
                if deadline is not None and (a & 15) == 0:
                    now = time.monotonic()
                    if now > deadline:
                        self._finish_literal(buckets, a, n)
                        break
                    if self.degrade and not fast and (now - started) * (n - a) > a * (deadline - now):
                        # at this pace the DP would end in a literal tail (8 bits per element):
                        # go on with one entry per position, the newest sources and plain copies
                        # (~10x faster on long periodic targets, much cheaper than a literal)
                        fast = True
                        self.beam, self.transformed = 1, False
                        self.max_sources = FAST_SOURCES
                entries = self._prune(buckets[a], a)
                buckets[a] = None
                if not entries:
                    continue
            fixed = self._fixed_candidates(t, a)
            cache: dict = {}
            pair_cache: dict = {}
            pool_cands = self._candidates_for(t, a, pool_src, cache, pair_cache) if pool_src else []
            nxt = buckets[a + 1]
            for e in entries:
                ec, ep = e.cost, e.pieces
                # literal element: extends an open literal, else opens one
                if e.desc is lit:
                    nxt.append((ec + c.lit_elem, ep, e.prev, e.a, lit))
                    if a in hints:       # a reused stretch starts here: let a new literal start too
                        nxt.append((ec + c.lit_line + c.lit_elem, ep + 1, e, a, lit))
                else:
                    nxt.append((ec + c.lit_line + c.lit_elem, ep + 1, e, a, lit))
                cands = fixed + pool_cands
                if self.copies and e.desc is not None:
                    sources = self._path_sources(e, t)[:self.max_sources]
                    cands += self._candidates_for(t, a, sources, cache, pair_cache)
                ep1 = ep + 1
                for b, cost, desc in cands:
                    buckets[b].append((ec + cost, ep1, e, a, desc))
                self.nodes += len(cands)
        finals = self._prune(buckets[n], n, keep_all=True)
        best = min(finals, key=lambda e: e.cost + (c.concat if e.pieces > 1 else 0.0))
        node = self._build(best, t)
        cost = best.cost + (c.concat if best.pieces > 1 else 0.0) + c.output
        return cost, node

    def _finish_literal(self, buckets, a, n):
        """Out of time at position a: close the cheapest path with one literal for the rest."""
        c = self.c
        entries = self._prune(buckets[a], a)
        best = min(entries, key=lambda e: e.cost)
        if best.desc is not None and best.desc[0] == "lit":
            buckets[n].append((best.cost + c.lit_elem * (n - a), best.pieces, best.prev, best.a, best.desc))
        else:
            buckets[n].append((best.cost + c.lit_line + c.lit_elem * (n - a), best.pieces + 1, best, a,
                               ("lit",)))

    def _prune(self, items: list, b: int, keep_all: bool = False) -> list:
        """The `beam` cheapest items at position b (plus the cheapest open literal), as entries."""
        if not keep_all and len(items) > self.beam:
            items.sort(key=_item_key)
            keep = items[:self.beam]
            kept_lits = sum(it[4][0] == "lit" for it in keep)
            if kept_lits < LITERALS_KEPT:
                extra = [it for it in items[self.beam:] if it[4][0] == "lit"]
                keep += extra[:LITERALS_KEPT - kept_lits]
            items = keep
        out = []
        for cost, pieces, prev, a, desc in items:
            e = _Entry(cost, prev, a, b, desc)
            e.pieces = pieces
            out.append(e)
        return out

    def _path_sources(self, e: _Entry, t: tuple) -> tuple:
        """(key, value, entry) of the pieces on the path to e, newest first (cached on the entry)."""
        if e.srcs is None:
            rest = self._path_sources(e.prev, t) if e.prev is not None else ()
            e.srcs = (((e.a, e.b), t[e.a:e.b], e),) + rest[:self.source_cap - 1]
        return e.srcs

    # -- reconstruction ----------------------------------------------------------------------------
    def _build(self, last: _Entry, t: tuple) -> Node:
        chain = []
        e = last
        while e is not None and e.desc is not None:
            chain.append(e)
            e = e.prev
        chain.reverse()
        built: dict[int, Node] = {}
        parts = []
        for e in chain:
            node = self._piece(e, t, built)
            built[id(e)] = node
            parts.append(node)
        return concat_node(parts)

    @staticmethod
    def _handle(h, built) -> Node:
        return h if isinstance(h, Node) else built[id(h)]

    def _piece(self, e: _Entry, t: tuple, built) -> Node:
        kind = e.desc[0]
        a, b = e.a, e.b
        L = b - a
        if kind == "lit":
            return literal_node(t[a:b])
        if kind == "run":
            return run_node(t[a], e.desc[1], L)
        if kind == "subrun":
            d, p = e.desc[1], e.desc[2]
            base = run_node(t[a], d, L)
            return extend("substitute", base, (base.value[p - a], t[p]))
        if kind == "mod":
            hi, mod = e.desc[1], e.desc[2]
            return extend("modulo_item_list", run_node(t[a], hi, L), (mod,))
        if kind == "scanrun":
            step = e.desc[1]
            return extend("scan_add", run_node(t[a], step, L))
        if kind == "src":
            _, op, h, params = e.desc
            src = self._handle(h, built)
            if op == "copy":
                return src
            return extend(op, src, params)
        if kind == "pair":
            _, op, hx, hy = e.desc
            return extend(op, (self._handle(hx, built), self._handle(hy, built)))
        if kind == "ilv":
            _, side, h, F, hf, (op, params) = e.desc
            src = self._handle(h, built)
            if op != "copy":
                src = extend(op, src, params)
            fresh = self._handle(hf, built) if hf is not None else _fresh_node(F)
            return extend("interleave", (fresh, src) if side == 1 else (src, fresh))
        if kind == "tworun":
            _, which, h, m = e.desc
            src = self._handle(h, built)
            if which == "add":     # t = v + run
                d0 = t[a] - src.value[0]
                d1 = t[a + 1] - src.value[1]
                return extend("add_two_lists", (src, run_node(d0, d1 - d0, m)))
            s0 = t[a] + src.value[0]
            s1 = t[a + 1] + src.value[1]   # t = run - v
            return extend("subtract_two_lists", (run_node(s0, s1 - s0, m), src))
        raise ValueError(kind)


def _fresh_node(F: tuple) -> Node:
    """A fresh interleave argument: a run when arithmetic, else a literal."""
    if len(F) >= 2 and _arith_len(F, 0, len(F)) == len(F):
        run = run_node(F[0], F[1] - F[0], len(F))
        if len(F) > 2 or F[1] - F[0] in (0, 1):
            return run
    return literal_node(F)


def split_hints(t: tuple, gram: int = 4, max_hits: int = 8) -> set[int]:
    """Positions where a literal may usefully be cut: the ends of stretches that reappear later
    shifted by a constant (equal differences; exact copies included) or reversed. Adjacent literal
    elements otherwise merge into one line and hide the source of the later copy."""
    n = len(t)
    hints: set[int] = set()
    if n < 2 * gram:
        return hints
    diffs = [t[i + 1] - t[i] for i in range(n - 1)]
    seen: dict = {}
    for a in range(n - gram + 1):
        key = tuple(diffs[a:a + gram - 1])
        if len(set(key)) > 1:                  # constant differences are runs, not copies
            for i in seen.get(key, ())[:max_hits]:
                if i + gram > a or (i > 0 and t[a - 1] - t[i - 1] == t[a] - t[i]):
                    continue                     # overlapping, or inside a longer match
                L = gram
                while a + L < n and i + L < a and t[a + L] - t[i + L] == t[a] - t[i]:
                    L += 1
                hints.update((i, i + L, a, a + L))
            seen.setdefault(key, []).append(a)
    values: dict = {}
    for a in range(n - gram + 1):
        w = t[a:a + gram]
        for i in values.get(w[::-1], ())[:max_hits]:
            end = i + gram                       # source t[end-L:end] reversed equals t[a:a+L]
            if end > a or (end < a - 1 and t[a - 1] == t[end]):
                continue                         # overlapping, or inside a longer match
            L = gram
            while a + L < n and end - L - 1 >= 0 and t[a + L] == t[end - L - 1]:
                L += 1
            hints.update((end - L, end, a, a + L))
        if len(set(w)) > 1:
            values.setdefault(w, []).append(a)
    return hints


@lru_cache(maxsize=4096)
def _positions(v: tuple) -> dict:
    out: dict[int, list] = {}
    for i, x in enumerate(v):
        out.setdefault(x, []).append(i)
    return out


class SegmentStrategy:
    """The `segment` strategy: one flat segmentation of the whole target."""

    name = "segment"

    def search(self, target, config, deadline):
        from ksynth.search.base import SearchResult

        t0 = time.monotonic()
        seg = Segmenter(config.objective, config.ablations, config.tuning)
        cost, node = seg.solve(target, (), deadline)
        program = assemble(node, share=config.ablations.copies)
        return SearchResult(program, float("nan"), float("nan"), False, time.monotonic() - t0,
                            seg.nodes, self.name, {"approx_bits": cost})
