"""`mcts`: PUCT Monte-Carlo tree search over decompositions (search/space.py).

Selection by Q + puct * P * sqrt(N) / (1 + n), with P the action priors of space.priors (the
policy-priced change in estimated bits, softened) and Q the mean value of the completions below.
A leaf is expanded (all actions on its first goal) and valued by its cheapest known completion:
every open goal closed by the segment DP, value = (S - bits) / S with S twice the bits of the
segment DP's own program for the whole target (the first completion), so values sit near 0.5
for a completion as good as that one and are comparable across targets; an unvisited child
counts 0 (pessimistic), so the prior decides the first visits. Every
completion is a full program; all are verified in one executor batch at the end, the cheapest by
exact cost wins. Stops at the deadline or when Budget.nodes nodes are spent.
"""
from __future__ import annotations

import math

from ksynth.search.space import Space, priors


class _Node:
    __slots__ = ("state", "prior", "kids", "n", "w")

    def __init__(self, state, prior: float):
        self.state, self.prior, self.kids, self.n, self.w = state, prior, None, 0, 0.0


class MCTSStrategy:
    name = "mcts"

    def search(self, target, config, deadline):
        space = Space(target, config, deadline)
        c_puct = config.guidance.puct
        root = _Node(space.root(), 1.0)
        literal = space.complete(space.root())         # the segment DP alone: the first program
        scale = max(literal.cost, 1.0) * 2
        completions = [literal]
        iters = 0
        while not space.spent():
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
        return space.result(self.name, completions, {"iterations": iters})
