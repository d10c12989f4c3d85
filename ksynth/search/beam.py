"""`beam`: beam search over decompositions (search/space.py), ranked by cost so far - log2 prior.

Each round expands every state of the beam (all actions on its first open goal), keeps the
`Guidance.beam_width` best unfinished children by rank = policy-priced committed bits + the flat
estimate of the open goals (under the uniform policy: today's cost order), and sets aside the
finished ones; when the search stops, the states still in the beam are completed by the segment
DP (memoised closes: cheap) and join them; under an LM policy, the `beam_width` most probable
programs of a grammar-constrained token-level beam search join them too. All finished programs are verified in ONE executor batch; the cheapest by exact cost
wins. Stops at the deadline or when Budget.nodes nodes (expansions + segment solves) are spent.
"""
from __future__ import annotations

from ksynth.search.space import Space


class BeamStrategy:
    name = "beam"

    def search(self, target, config, deadline):
        space = Space(target, config, deadline)
        width = config.guidance.beam_width
        beam, finished, rounds = [space.root()], [], 0
        while beam and not space.spent():
            kids = []
            for s in beam:
                if space.spent():
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
        finished += [space.complete(s) for s in beam if not space.late()]
        # an LM policy also decodes whole programs: its token-level beam joins the same batch
        decoded = []
        if hasattr(space.tp, "beam") and not space.late():
            decoded = [p for p, _ in space.tp.beam(width, space.deadline) if p is not None]
        return space.result(self.name, finished, {"rounds": rounds, "finished": len(finished),
                                                  "decoded": len(decoded)}, decoded)
