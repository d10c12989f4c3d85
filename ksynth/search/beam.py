"""`beam`: beam search over decompositions (search/space.py), ranked by cost so far - log2 prior.

Each round expands every state of the beam (all actions on its first open goal), keeps the
`Guidance.beam_width` best unfinished children by rank = policy-priced committed bits + the flat
estimate of the open goals (under the uniform policy: today's cost order), and sets aside the
finished ones; when the search stops, the states still in the beam are completed by the segment
DP (memoised closes: cheap) and join them. All finished programs are verified in ONE executor batch; the cheapest by exact cost
wins. Stops at the deadline or when Budget.nodes nodes (expansions + segment solves) are spent.
"""
from __future__ import annotations

import math
import time

from ksynth.search.base import SearchResult
from ksynth.search.policy import get_policy
from ksynth.search.space import Space, verify_best


class BeamStrategy:
    name = "beam"

    def search(self, target, config, deadline):
        t0 = time.monotonic()
        tp = get_policy(config.policy).for_target(target, deadline)
        space = Space(target, config, tp, deadline)
        cap = config.budget.nodes if config.budget.nodes is not None else math.inf
        width = config.guidance.beam_width
        beam, finished, rounds = [space.root()], [], 0
        while beam and space.nodes < cap and not space.late():
            kids = []
            for s in beam:
                if space.nodes >= cap or space.late():
                    break
                for k in space.children(s):
                    (finished if k.done else kids).append(k)
            seen, beam = set(), []
            for k in sorted(kids, key=space.rank):
                if k.key() not in seen:
                    seen.add(k.key())
                    beam.append(k)
                if len(beam) >= width:
                    break
            rounds += 1
        # the final beam's states completed by the segment DP (memoised closes: cheap)
        finished += [space.complete(s) for s in beam[:width] if not space.late()]
        programs = [space.program(s) for s in finished]
        best, checked = verify_best(programs, target, config)
        stats = {"rounds": rounds, "finished": len(finished), "checked": checked,
                 "policy": config.policy, "model_seconds": getattr(tp, "seconds", 0.0)}
        if best is None:
            return None
        return SearchResult(best, float("nan"), float("nan"), True, time.monotonic() - t0,
                            space.nodes, self.name, stats)
