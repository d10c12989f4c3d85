"""`mcts`: PUCT Monte-Carlo tree search over decompositions (search/space.py).

Selection by Q + puct * P * sqrt(N) / (1 + n), with P the action priors of space.priors (the
policy-priced change in estimated bits, softened) and Q the mean value of the completions below.
A leaf is expanded (all actions on its first goal) and valued by its cheapest known completion:
every open goal closed by the segment DP, value = (L - bits) / L with L the literal program's
bits, so 0 = no better than the literal and values are comparable across targets. Every
completion is a full program; all are verified in one executor batch at the end, the cheapest by
exact cost wins. Stops at the deadline or when Budget.nodes nodes are spent.
"""
from __future__ import annotations

import math
import time

from ksynth.search.base import SearchResult
from ksynth.search.policy import get_policy
from ksynth.search.space import Space, priors, verify_best


class _Node:
    __slots__ = ("state", "prior", "kids", "n", "w")

    def __init__(self, state, prior: float):
        self.state, self.prior, self.kids, self.n, self.w = state, prior, None, 0, 0.0


class MCTSStrategy:
    name = "mcts"

    def search(self, target, config, deadline):
        t0 = time.monotonic()
        tp = get_policy(config.policy).for_target(target, deadline)
        space = Space(target, config, tp, deadline)
        cap = config.budget.nodes if config.budget.nodes is not None else math.inf
        c_puct = config.guidance.puct
        root = _Node(space.root(), 1.0)
        literal = space.complete(space.root())         # the segment DP alone: the first program
        scale = max(literal.cost, 1.0) * 2
        completions = [literal]
        iters = 0
        while space.nodes < cap and not space.late():
            path, node = [root], root
            while node.kids:
                sq = math.sqrt(node.n + 1)
                node = max(node.kids, key=lambda k: (k.w / k.n if k.n else 0.0)
                           + c_puct * k.prior * sq / (1 + k.n))
                path.append(node)
            s = node.state
            if not s.done and node.kids is None:
                kids = space.children(s)
                node.kids = [_Node(k, p) for k, p in zip(kids, priors(space, s, kids))]
            if s.done:
                space.nodes += 1                # a terminal revisit still spends budget
            done = s if s.done else space.complete(s)
            completions.append(done)
            value = (scale - done.cost) / scale
            for p in path:
                p.n += 1
                p.w += value
            iters += 1
        best, checked = verify_best([space.program(s) for s in completions], target, config)
        stats = {"iterations": iters, "checked": checked, "policy": config.policy}
        if best is None:
            return None
        return SearchResult(best, float("nan"), float("nan"), True, time.monotonic() - t0,
                            space.nodes, self.name, stats)
