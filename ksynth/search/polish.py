"""Program-level post-optimisation ("polish") of a verified program, priced exactly.

The strategies price lines at a guessed position (objective.APPROX_INDEX) and build one line per
piece. Under the KT prior a finished program can often be written shorter:
- ORDER: line i pays log2(i + 1) per reference (concatenate / interleave / two-list ops: 2 * that,
  whatever the arity), so lines with references want to come early and initiators late, just before
  their first user. `best_order` finds the optimal topological order by a DP over downward-closed
  line sets (small programs), else a ratio-rule order improved by single-line moves.
- FLATTEN: a concatenate whose users are all concatenates is inlined into them (arity is free); a
  concatenate of one argument is replaced by the argument.
- UNROLL: repeat_list(k, y) / repeat_num(n, v) used only by concatenates become k references to y /
  n references to set_list([v]) (a reference inside a concatenate costs nothing more).
- MERGE: consecutive concatenate arguments that are initiators used nowhere else are re-grouped
  into set_list lines where that is cheaper (adjacent literals share one line).
- LITERALISE: a line whose private subtree (lines used by it alone) costs more than writing its
  value as a literal becomes that literal.
- FORMS: each initiator takes its cheapest equivalent form (literal, repeat_num, range_func_up,
  range_func_interval).
- DEDUPE: lines of equal value are merged.
Every rewrite is kept only when the exact cost of the reordered program falls, and the result is
re-run by the reference interpreter: `polish` returns the input unchanged whenever anything fails.

    better = polish(program, target, objective="kt")
"""
from __future__ import annotations

import math
import time

from ksynth.dsl.interp import run_lines, try_run
from ksynth.dsl.ops import OPS, ArgKind
from ksynth.dsl.program import Line, Program, Ref
from ksynth.errors import ExecError, KsynthError
from ksynth.config import Tuning
from ksynth.dsl.ops import INITIATORS
from ksynth.search.ir import Node, cheapest_initiator, lower, reach, to_nodes, topo
from ksynth.search.objective import COST_EPS, line_cost, program_cost

MAX_UNROLL = 64          # references: the most one unrolled repeat may add to a concatenate
RESEGMENT_MIN_LEN = 4     # elements: shorter lines are not re-covered
RESEGMENT_OPS = ("set_list",)   # lines re-covered by the segmenter (literals only: bounded work)
MAX_ORDER_LINES = 80     # lines: larger programs keep the ratio-rule order (no local search)
MAX_ORDER_STATES = 1500  # line sets per position in the exact order DP; beyond, the local search
LITERAL_ELEMENTS_PER_LINE = 8   # a literal longer than this per private line (+1 line) never pays off
_INITIATORS = frozenset(INITIATORS)


class _Dag:
    """Lines keyed by id (refs are Ref(id)), the output id, and each line's value."""

    def __init__(self, lines: dict, out: int, values: dict):
        self.lines, self.out, self.values = lines, out, values
        self.next_id = max(lines) + 1

    @classmethod
    def from_program(cls, program: Program, values: list) -> "_Dag":
        return cls({i: (l.op, l.args) for i, l in enumerate(program.lines)}, program.output,
                   {i: tuple(v) for i, v in enumerate(values)})

    def copy(self) -> "_Dag":
        d = _Dag(dict(self.lines), self.out, dict(self.values))
        d.next_id = self.next_id
        return d

    def add(self, op: str, args: tuple, value: tuple) -> int:
        k = self.next_id
        self.next_id += 1
        self.lines[k] = (op, args)
        self.values[k] = value
        return k

    def users(self) -> dict:
        """id -> list of (user id, argument position), one entry per reference."""
        out = {k: [] for k in self.lines}
        for k, (_, args) in self.lines.items():
            for pos, a in enumerate(args):
                if isinstance(a, Ref):
                    out[a.index].append((k, pos))
        return out

    def prune(self) -> None:
        live = reach(self.out, self.refs)
        for k in [k for k in self.lines if k not in live]:
            del self.lines[k]
            del self.values[k]

    def refs(self, k) -> list[int]:
        return [a.index for a in self.lines[k][1] if isinstance(a, Ref)]


# ---- order ----------------------------------------------------------------------------------------
def _ref_units(op: str, args: tuple) -> int:
    """References a line pays for under KT (2 for concatenate / interleave, whatever the arity)."""
    units = 0
    for kind, a in zip(OPS[op].args, args):
        units += 1 if kind is ArgKind.REF else 2 if kind is ArgKind.REFS else 0
    return units


def _ratio_order(dag: _Dag) -> list[int]:
    """Sidney-style greedy: repeatedly schedule the unscheduled ancestor set (plus the line itself)
    with the most reference units per line, so referencing lines come early and initiators just
    before their first user."""
    preds = {k: set(dag.refs(k)) for k in dag.lines}
    weight = {k: _ref_units(*dag.lines[k]) for k in dag.lines}
    done: set = set()
    order: list[int] = []

    def closure(k):                    # k and its unscheduled ancestors (k itself is unscheduled)
        return reach(k, lambda x: [p for p in preds[x] if p not in done])

    while len(order) < len(dag.lines):
        best, best_key = None, None
        for k in dag.lines:
            if k in done or k == dag.out:
                continue
            s = closure(k)
            key = (sum(weight[x] for x in s) / len(s), -len(s), -k)
            if best_key is None or key > best_key:
                best, best_key = s, key
        if best is None:
            best = closure(dag.out)
        # the chosen set in a topological order (ids are not ordered, so sort by a DFS)
        for x in topo(sorted(best), lambda x: [p for p in sorted(preds[x]) if p in best]):
            done.add(x)
            order.append(x)
    return order


def _to_program(dag: _Dag, order: list[int]) -> Program:
    index = {k: i for i, k in enumerate(order)}
    lines = []
    for k in order:
        op, args = dag.lines[k]
        lines.append(Line(op, tuple(Ref(index[a.index]) if isinstance(a, Ref) else a for a in args)))
    return Program(tuple(lines), index[dag.out])


def best_order(dag: _Dag, objective: str, search: bool = True) -> list[int]:
    """A topological order of the live lines with a low exact cost (output line last)."""
    order = _ratio_order(dag)
    n = len(order)
    if not search or n > MAX_ORDER_LINES or n < 3:
        return order
    # cost of line k at every position (the line's own arguments fix it; refs only count)
    table = {k: [line_cost(*_as_dummy(dag.lines[k]), i, objective) for i in range(n)] for k in order}
    exact = _exact_order(order, table, dag)
    if exact is not None:
        return exact
    preds = {k: set(dag.refs(k)) for k in order}
    succs = {k: set() for k in order}
    for k in order:
        for p in preds[k]:
            succs[p].add(k)
    improved = True
    while improved:
        improved = False
        for k in list(order):
            i = order.index(k)
            lo = max((order.index(p) for p in preds[k]), default=-1) + 1
            hi = min((order.index(s) for s in succs[k]), default=n) - 1
            best_gain, best_j = COST_EPS, None
            for j in range(lo, hi + 1):
                if j == i:
                    continue
                gain = _move_gain(order, table, i, j)
                if gain > best_gain:
                    best_gain, best_j = gain, j
            if best_j is not None:
                order.insert(best_j, order.pop(i))
                improved = True
    return order


def _exact_order(order, table, dag, max_states: int = MAX_ORDER_STATES):
    """The optimal order by a DP over downward-closed line sets (None when there are too many)."""
    n = len(order)
    bit = {k: 1 << i for i, k in enumerate(order)}
    need = [sum(bit[p] for p in set(dag.refs(k))) for k in order]
    out_bit = bit[dag.out]
    layer = {0: (0.0, None)}               # mask -> (cost, (previous mask, line index))
    back = []
    for pos in range(n):
        nxt: dict = {}
        for mask, (cost, _) in layer.items():
            for i in range(n):
                b = 1 << i
                if mask & b or need[i] & mask != need[i] or (b == out_bit and pos != n - 1):
                    continue
                c = cost + table[order[i]][pos]
                m = mask | b
                old = nxt.get(m)
                if old is None or c < old[0] - COST_EPS:
                    nxt[m] = (c, (mask, i))
        if len(nxt) > max_states:
            return None
        back.append(nxt)
        layer = nxt
    mask, out = (1 << n) - 1, []
    for pos in range(n - 1, -1, -1):
        prev, i = back[pos][mask][1]
        out.append(order[i])
        mask = prev
    return out[::-1]


def _move_gain(order, table, i, j) -> float:
    """Cost drop when the line at position i moves to position j (others shift by one)."""
    k = order[i]
    gain = table[k][i] - table[k][j]
    if j > i:
        for p in range(i + 1, j + 1):
            x = order[p]
            gain += table[x][p] - table[x][p - 1]
    else:
        for p in range(j, i):
            x = order[p]
            gain += table[x][p] - table[x][p + 1]
    return gain


def _as_dummy(line):
    op, args = line
    return op, tuple(Ref(0) if isinstance(a, Ref) else a for a in args)


def _cost(dag: _Dag, objective: str, search: bool = False) -> tuple[float, list[int]]:
    order = best_order(dag, objective, search)
    return program_cost(_to_program(dag, order), objective), order


# ---- rewrites (each returns a new dag or None) ----------------------------------------------------
def _flatten(dag: _Dag):
    """Inline concatenates whose users are all concatenates (fixed point, in one new dag)."""
    users = dag.users()
    inline = {k for k, (op, _) in dag.lines.items() if op == "concatenate" and k != dag.out
              and users[k] and all(dag.lines[u][0] == "concatenate" for u, _ in users[k])}
    if not inline:
        return None
    d = dag.copy()

    def expand(args):
        out = []
        for a in args:
            if isinstance(a, Ref) and a.index in inline:
                out += expand(d.lines[a.index][1])
            else:
                out.append(a)
        return out

    for k, (op, args) in dag.lines.items():
        if op == "concatenate":
            d.lines[k] = (op, tuple(expand(args)))
    d.prune()
    return d


def _unwrap(dag: _Dag):
    """A concatenate of one argument is that argument: its users refer to the argument instead."""
    single = {k: args[0].index for k, (op, args) in dag.lines.items()
              if op == "concatenate" and len(args) == 1}
    if not single:
        return None
    d = dag.copy()

    def final(k):
        while k in single:
            k = single[k]
        return k

    for k, (op, args) in dag.lines.items():
        d.lines[k] = (op, tuple(Ref(final(a.index)) if isinstance(a, Ref) else a for a in args))
    d.out = final(dag.out)
    d.prune()
    return d


def _unroll(dag: _Dag):
    """Candidates: repeat_list / repeat_num used only by concatenates, unrolled into them."""
    users = dag.users()
    out = []
    for k, (op, args) in dag.lines.items():
        if op not in ("repeat_list", "repeat_num") or k == dag.out or not users[k]:
            continue
        if not all(dag.lines[u][0] == "concatenate" for u, _ in users[k]):
            continue
        count = args[0]
        if not 1 <= count <= MAX_UNROLL:
            continue
        d = dag.copy()
        if op == "repeat_list":
            unit = args[1]
        else:
            unit = Ref(d.add("set_list", ((args[1],),), (args[1],)))
        for u in {u for u, _ in users[k]}:
            uop, uargs = d.lines[u]
            new = []
            for a in uargs:
                new += [unit] * count if a == Ref(k) else [a]
            d.lines[u] = (uop, tuple(new))
        d.prune()
        out.append(d)
    return out


def _forms(dag: _Dag, objective: str):
    """One new dag where every initiator takes its cheapest form, or None when none changes."""
    d, changed = dag.copy(), False
    for k, (op, args) in dag.lines.items():
        if op in _INITIATORS:
            best = cheapest_initiator(dag.values[k], objective)
            if line_cost(best[0], best[1], 1, objective) < line_cost(op, args, 1, objective) - COST_EPS:
                d.lines[k] = best
                changed = True
    return d if changed else None


def _merge(dag: _Dag, objective: str):
    """Re-group runs of consecutive private initiator arguments of each concatenate into literals
    where cheaper (a DP over the run, line costs position-independent). One new dag or None."""
    users = dag.users()
    private = {k for k, (op, _) in dag.lines.items()
               if op in _INITIATORS and k != dag.out and len(users[k]) == 1}
    d, changed = dag.copy(), False

    def lcost(op, args):
        return line_cost(op, args, 1, objective)

    for k, (op, args) in dag.lines.items():
        if op != "concatenate":
            continue
        new, i = [], 0
        while i < len(args):
            a = args[i]
            if not (isinstance(a, Ref) and a.index in private):
                new.append(a)
                i += 1
                continue
            j = i
            while j < len(args) and isinstance(args[j], Ref) and args[j].index in private:
                j += 1
            run = [x.index for x in args[i:j]]
            groups = _group_run(run, dag, lcost)
            if len(groups) != len(run):
                changed = True
            for g in groups:
                if len(g) == 1:
                    new.append(Ref(g[0]))
                else:
                    value = tuple(v for x in g for v in dag.values[x])
                    new.append(Ref(d.add("set_list", (value,), value)))
            i = j
        d.lines[k] = (op, tuple(new))
    if not changed:
        return None
    d.prune()
    return d


def _group_run(run: list[int], dag: _Dag, lcost) -> list[list[int]]:
    """Cheapest partition of a run of initiator lines into kept lines and merged literals."""
    n = len(run)
    best = [0.0] + [math.inf] * n
    back = [0] * (n + 1)
    for j in range(1, n + 1):
        for i in range(j):
            if j - i == 1:
                c = lcost(*dag.lines[run[i]])
            else:
                value = tuple(v for x in run[i:j] for v in dag.values[x])
                c = lcost("set_list", (value,))
            if best[i] + c < best[j] - COST_EPS:
                best[j], back[j] = best[i] + c, i
    out, j = [], n
    while j > 0:
        out.append(run[back[j]:j])
        j = back[j]
    return out[::-1]


def _literalise(dag: _Dag):
    """Candidates: a non-initiator line whose private subtree becomes one literal."""
    users = dag.users()
    out = []
    for k, (op, _) in dag.lines.items():
        if op in _INITIATORS:
            continue
        # the lines only k (transitively) depends on: they die with it
        sub, stack = {k}, dag.refs(k)
        while stack:
            x = stack.pop()
            if x in sub:
                continue
            if all(u in sub for u, _ in users[x]):
                sub.add(x)
                stack.extend(dag.refs(x))
        value = dag.values[k]
        if len(value) > LITERAL_ELEMENTS_PER_LINE * (len(sub) + 1):
            continue
        d = dag.copy()
        d.lines[k] = ("set_list", (value,))
        d.prune()
        out.append(d)
    return out


def _dedupe(dag: _Dag):
    """One new dag where lines of equal value are merged (the user-facing copy is kept), or None."""
    by_value: dict = {}
    for k in sorted(dag.lines):
        by_value.setdefault(dag.values[k], []).append(k)
    dups = [ks for ks in by_value.values() if len(ks) > 1]
    if not dups:
        return None
    d = dag.copy()
    for ks in dups:
        keep = ks[0]
        anc = reach(keep, d.refs)
        for k in ks[1:]:
            if k in anc or k not in d.lines:
                continue
            for u in list(d.lines):
                op, args = d.lines[u]
                if u != keep and u not in anc and Ref(k) in args:
                    d.lines[u] = (op, tuple(Ref(keep) if a == Ref(k) else a for a in args))
            if d.out == k:
                d.out = keep
    d.prune()
    return d


def _resegment(dag: _Dag, objective: str, deadline: float | None, ablations=None, tuning=None):
    """Candidates (lazily): a literal line re-covered by the segmenter with every line that does not depend
    on it as a copy source (reuse the search missed, e.g. a transform of a line built elsewhere,
    hidden inside a merged literal)."""
    from ksynth.search.segment import Segmenter

    users = dag.users()
    seg = Segmenter(objective, ablations, tuning, interleave_pieces=True)
    for k, (op, args) in list(dag.lines.items()):
        if op not in RESEGMENT_OPS or len(dag.values[k]) < RESEGMENT_MIN_LEN:
            continue
        if deadline is not None and time.monotonic() > deadline:
            break
        # lines that (transitively) use k may not become its sources
        above = reach(k, lambda x: (u for u, _ in users[x]))
        below = [x for x in dag.lines if x not in above]
        nodes = to_nodes({x: dag.lines[x] for x in below}, dag.values)
        _, root = seg.solve(dag.values[k], [nodes[x] for x in below], deadline)
        if root.op == "set_list":
            continue
        d = dag.copy()
        ids = {id(n): x for x, n in nodes.items()}
        by_value = {dag.values[x]: x for x in below}

        def known(n):                  # the very line the pool node came from, else an equal value
            x = ids.get(id(n))
            return by_value.get(n.value) if x is None else x

        def add(n, args):
            x = ids[id(n)] = d.add(n.op, args, n.value)
            return x

        # the re-covered line keeps its id k (its users refer to it); its arguments are lowered
        d.lines[k] = (root.op, tuple(Ref(lower(a, known, add)) if isinstance(a, Node) else a
                                     for a in root.args))
        d.prune()
        yield d


# ---- driver -----------------------------------------------------------------------------------------
def polish(program: Program, target, objective: str = "kt", max_len: int = 1 << 16,
           resegment: bool = False, deadline: float | None = None, ablations=None,
           tuning: Tuning | None = None) -> Program:
    """The cheapest rewrite of `program` found (or `program` itself); always verified.
    `resegment`: also re-cover literal lines with the program's other lines as sources (slower).
    `tuning`: config.tuning (polish_rounds, and the re-cover's segmenter knobs)."""
    tuning = tuning or Tuning()
    try:
        values = run_lines(program, max_len)
    except (ExecError, KsynthError):
        return program
    target = list(target)
    if values[program.output] != target:
        return program
    try:
        base = program_cost(program, objective)
        dag = _Dag.from_program(program, values)
        dag.prune()
        cur, _ = _cost(dag, objective)
        for _ in range(tuning.polish_rounds):
            if deadline is not None and time.monotonic() > deadline:
                break
            improved = False
            for rule in (_dedupe, _flatten, _unwrap, _forms, _merge):
                cand = rule(dag) if rule in (_dedupe, _flatten, _unwrap) else rule(dag, objective)
                if cand is not None:
                    c, _ = _cost(cand, objective)
                    if c < cur - COST_EPS:
                        dag, cur, improved = cand, c, True
            rules = [_unroll, _literalise]
            if resegment:
                rules.append(lambda g: _resegment(g, objective, deadline, ablations, tuning))
            for rule in rules:
                for cand in rule(dag):
                    c, _ = _cost(cand, objective)
                    if c < cur - COST_EPS:
                        dag, cur, improved = cand, c, True
                        break
            if not improved:
                break
        out = _to_program(dag, best_order(dag, objective, search=True))
    except KsynthError:
        return program
    if program_cost(out, objective) >= base - COST_EPS or try_run(out, max_len) != target:
        return program
    return out
