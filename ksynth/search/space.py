"""Decomposition states shared by the guided strategies (`beam`, `mcts`): a target explained top-down.

A state is a partial program with holes: `plan` lists, in prefix order, combinator items
("op", name, params, arity), closed items ("node", Node) and HOLEs; `goals` holds the sub-target
each hole must produce, in the same order. An action rewrites the FIRST hole (so the lines a
goal builds are copy sources for every later goal, as in decompose's shared lines):
    close      the goal by the segment DP (runs, literals, copies of the pool: one segment solve)
    interleave the goal split at m (decompose's two split families; the best `branch` splits by
               the flat run/literal estimate)
    concatenate the goal cut at p (the best `branch` cuts by the same estimate)
    repeat_list t = x * k (the shortest period); a row's `preimage` hook t = op(x) (scan_add)
Every state carries its committed cost in the objective's bits (`cost`) and the same lines priced
by the policy (`guided`: each op choice costs the policy's -log2 weight instead of KT's log2 25,
arguments keep KT's prices), so under the uniform policy guided == cost and a search ranked by
it is the unguided cost order. `estimate` adds the flat estimate of the open goals.
One node = one state expanded or one segment solve (the unit of Budget.nodes for these searches).
"""
from __future__ import annotations

from dataclasses import dataclass

from ksynth.dsl.ops import FUNCTION_BITS, with_hook
from ksynth.search.decompose import MIN_INTERLEAVE, prefix_costs, quick_cost
from ksynth.search.objective import APPROX_INDEX, COST_EPS, allowed_ops, line_cost
from ksynth.search.ir import Node, assemble, extend
from ksynth.search.segment import Segmenter, concat_node, costs_for

HOLE = ("hole",)
MAX_DEPTH = 12            # combinators on one path (KT programs fold ~5-9 sequences)
MIN_CUT = 3               # shortest part a concatenate cut leaves
PRIOR_TEMP_BITS = 8.0     # action priors 2^(-delta / T): a softer prior than raw 2^-bits
RESULT_CAP = 256          # finished states built and verified at the end: the cheapest distinct ones
                          # (mcts revisits terminal states ~10^5 times in a budget; building them all
                          # after the deadline once took 113 s on one 213-byte target)


@dataclass(frozen=True)
class State:
    plan: tuple
    goals: tuple
    pool: tuple           # nodes built so far, each distinct value once (copy sources)
    cost: float           # committed objective bits (approximate line index)
    guided: float         # committed bits priced by the policy
    depth: int = 0

    @property
    def done(self) -> bool:
        return not self.goals

    def key(self) -> tuple:
        """Two states with equal plans and goals are the same search node (for dedupe)."""
        return (tuple(id(p[1]) if p[0] == "node" else p for p in self.plan), self.goals)


class Space:
    """The actions of one target under one config. Building it runs the policy's recognition pass
    (get_policy(config.policy).for_target: model time is search time)."""

    def __init__(self, target, config, deadline: float | None, tp=None):
        import time

        from ksynth.search.policy import get_policy

        self.t0 = time.monotonic()
        self.target = tuple(target)
        self.config = config
        self.objective = config.objective
        self.ablations = config.ablations
        self.branch = config.guidance.branch
        self.tp = tp if tp is not None else get_policy(config.policy).for_target(target, deadline)
        self.deadline = deadline
        self.cap = config.budget.nodes if config.budget.nodes is not None else float("inf")
        self.c = costs_for(self.objective)
        self.seg = Segmenter(self.objective, self.ablations, config.tuning)
        self.preimage_ops = tuple(r for r in with_hook("preimage") if r.name in allowed_ops(self.objective))
        self.memo: dict = {}                  # (goal, pool values) -> closing node
        self.nodes = 0

    # ---- pricing -----------------------------------------------------------------------------
    def _op_delta(self, op: str) -> float:
        return self.tp.op_bits.get(op, FUNCTION_BITS) - FUNCTION_BITS

    def _line(self, op: str, args: tuple) -> tuple[float, float]:
        bits = line_cost(op, args, APPROX_INDEX, self.objective)
        return bits, bits + self._op_delta(op)

    def estimate(self, s: State) -> float:
        """Flat run/literal estimate of the open goals (objective bits)."""
        return sum(quick_cost(g, self.c) for g in s.goals)

    def rank(self, s: State) -> float:
        return s.guided + self.estimate(s)

    # ---- actions -----------------------------------------------------------------------------
    def root(self) -> State:
        return State((HOLE,), (self.target,), (), self.c.output, self.c.output)

    def _rewrite(self, s: State, items: tuple, new_goals: tuple, pool=None, cost=0.0,
                 guided=0.0, deeper: int = 1) -> State:
        i = s.plan.index(HOLE)
        return State(s.plan[:i] + items + s.plan[i + 1:], new_goals + s.goals[1:],
                     s.pool if pool is None else pool, s.cost + cost, s.guided + guided,
                     s.depth + deeper)

    def close(self, goal: tuple, pool: tuple) -> tuple[Node, float, float, tuple]:
        """(node, objective bits, policy bits, new pool) of the goal closed by the segment DP."""
        values = frozenset(p.value for p in pool)
        key = (goal, values)
        node = self.memo.get(key)
        if node is None:
            hit = next((p for p in pool if p.value == goal), None)
            if hit is not None:
                node = hit
            else:
                self.nodes += 1
                _, node = self.seg.solve(goal, pool, self.deadline)
            self.memo[key] = node
        cost = guided = 0.0
        seen = set(values)
        added = []
        for n in node.walk():
            if n.value in seen:
                continue
            seen.add(n.value)
            added.append(n)
            b, g = self._line(n.op, n.args)
            cost, guided = cost + b, guided + g
        return node, cost, guided, pool + tuple(added)

    def children(self, s: State) -> list[State]:
        """Every action on the first goal (one expansion = one node)."""
        self.nodes += 1
        g = s.goals[0]
        node, cost, guided, pool = self.close(g, s.pool)
        out = [self._rewrite(s, (("node", node),), (), pool, cost, guided, deeper=0)]
        if s.depth >= MAX_DEPTH or len(g) < MIN_INTERLEAVE:
            return out
        c = self.c
        n = len(g)
        rep = next((k for k in range(2, n // 2 + 1) if n % k == 0 and g[:n // k] * k == g), None)
        if rep:
            b, gd = self._line("repeat_list", (rep, None))
            out.append(self._rewrite(s, (("op", "repeat_list", (rep,), 1), HOLE), (g[:n // rep],),
                                     cost=b, guided=gd))
        for spec in self.preimage_ops:               # t = op(x), x from the row's hook (scan_add)
            for x in spec.hooks.preimage(g):
                x = tuple(x)
                if quick_cost(x, c) + c.unary(spec.name) < quick_cost(g, c) - COST_EPS:
                    b, gd = self._line(spec.name, (None,))
                    out.append(self._rewrite(s, (("op", spec.name, (), 1), HOLE), (x,), cost=b,
                                             guided=gd))
        if getattr(self.ablations, "interleave", True):
            b, gd = self._line("interleave", (None, None))
            for x, y in self._splits(g):
                out.append(self._rewrite(s, (("op", "interleave", (), 2), HOLE, HOLE), (x, y),
                                         cost=b, guided=gd))
        b, gd = self._line("concatenate", (None, None))
        for p in self._cuts(g):
            out.append(self._rewrite(s, (("op", "concatenate", (), 2), HOLE, HOLE), (g[:p], g[p:]),
                                     cost=b, guided=gd))
        return out

    def _splits(self, t: tuple) -> list[tuple[tuple, tuple]]:
        """The best `branch` interleave splits (both families: the tail to X or to Y)."""
        c, n = self.c, len(t)
        pre_even, pre_odd = prefix_costs(t[0::2], c), prefix_costs(t[1::2], c)
        suf = prefix_costs(t[::-1], c)[::-1]
        ranked = []
        for m in range(2, n // 2 + 1):
            est = pre_even[m] + pre_odd[m] + suf[2 * m]
            for tail_to_y in ((False, True) if 2 * m < n else (False,)):
                ranked.append((est, m, tail_to_y))
        ranked.sort()
        out = []
        for _, m, tail_to_y in ranked[:self.branch]:
            xs, ys, tail = t[0:2 * m:2], t[1:2 * m:2], t[2 * m:]
            out.append((xs, ys + tail) if tail_to_y else (xs + tail, ys))
        return out

    def _cuts(self, t: tuple) -> list[int]:
        n = len(t)
        if n < 2 * MIN_CUT:
            return []
        pre = prefix_costs(t, self.c)
        suf = prefix_costs(t[::-1], self.c)[::-1]
        ranked = sorted((pre[p] + suf[p], p) for p in range(MIN_CUT, n - MIN_CUT + 1))
        return [p for _, p in ranked[:self.branch]]

    # ---- completion ------------------------------------------------------------------------
    def complete(self, s: State) -> State:
        """Close every open goal in order (the segment DP): the cheapest completion it knows."""
        while s.goals:
            node, cost, guided, pool = self.close(s.goals[0], s.pool)
            s = self._rewrite(s, (("node", node),), (), pool, cost, guided, deeper=0)
        return s

    def late(self) -> bool:
        import time

        return self.deadline is not None and time.monotonic() > self.deadline

    def spent(self) -> bool:
        """The node budget or the deadline is used up."""
        return self.nodes >= self.cap or self.late()

    def result(self, name: str, finished: list[State], stats: dict, extra=()):
        """The cheapest verified program of the finished states (and of `extra` programs) as a
        SearchResult (None if none verifies)."""
        import time

        from ksynth.search.base import SearchResult

        distinct = {}
        for s in finished:
            distinct.setdefault(s.key(), s)
        cheapest = sorted(distinct.values(), key=lambda s: s.cost)[:RESULT_CAP]
        programs = [self.program(s) for s in cheapest] + [p.pruned() for p in extra]
        best, checked = verify_best(programs, self.target, self.config)
        if best is None:
            return None
        stats = {**stats, "checked": checked, "policy": self.config.policy,
                 "model_seconds": round(getattr(self.tp, "seconds", 0.0), 4)}
        return SearchResult(best, float("nan"), float("nan"), True, time.monotonic() - self.t0,
                            self.nodes, name, stats)

    @staticmethod
    def program(s: State, share: bool = True):
        """The Program of a finished state."""
        items = iter(s.plan)

        def build() -> Node:
            item = next(items)
            if item[0] == "node":
                return item[1]
            _, op, params, arity = item
            kids = [build() for _ in range(arity)]
            if op == "concatenate":
                return concat_node(kids)
            return extend(op, tuple(kids), params)       # interleave, repeat_list, preimage ops

        return assemble(build(), share=share)


def verify_best(programs, target, config):
    """The cheapest (exact objective cost) of the programs the executor verifies, checked in one
    batch; (program or None, number checked)."""
    from ksynth.dsl import executor
    from ksynth.search.objective import program_cost

    unique = list(dict.fromkeys(programs))
    if not unique:
        return None, 0
    ok = executor.matches(unique, target, config.max_len)
    good = [p for p, hit in zip(unique, ok) if hit]
    if not good:
        return None, len(unique)
    return min(good, key=lambda p: program_cost(p, config.objective)), len(unique)


def priors(space: Space, parent: State, kids: list[State]) -> list[float]:
    """Action priors 2^(-delta / PRIOR_TEMP_BITS), normalised; delta = the child's rank minus the
    parent's: what the action commits (policy-priced) plus the change in the open goals' estimate."""
    base = space.rank(parent)
    logits = [-(space.rank(k) - base) / PRIOR_TEMP_BITS for k in kids]
    top = max(logits)
    w = [2.0 ** (v - top) for v in logits]
    z = sum(w)
    return [x / z for x in w]
