"""Program search: strategies propose programs, the executor verifies, the cheapest wins.

    from ksynth.search import Portfolio, solve      # same as ksynth.search.portfolio

THE strategy registry is `REGISTRY` below: one row per strategy says where its class lives, its
share of the wall budget, when it runs, and whether it takes the incumbent's cost as a bound.
config.py validates strategy names against it and the portfolio reads everything else from it,
so a new strategy is its module plus one row here. `objective.py` holds the one cost function
the strategies share; `ir.py` the one search-side program structure.

Importing this package stays cheap: the rows name modules as strings, imported on first use.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StrategySpec:
    """One registered strategy.

    weight: the most it may use of the wall budget, as a share (renormalised over the strategies
    configured); time a strategy leaves unused is NOT handed on, so easy targets finish early.
    order: strategies run in ascending order (the ones that find most programs cheaply first).
    takes_bound: search() gets `bound=` the cheapest verified cost so far (Ablations.incumbent_bound).
    default: part of the default portfolio (SearchConfig().strategies).
    objectives: the objectives it runs under; under any other the portfolio leaves it out (its
    budget share is not counted, so the other strategies' shares stay as they were).
    """

    name: str
    module: str
    cls: str
    weight: float
    order: int
    takes_bound: bool = False
    default: bool = True
    objectives: tuple[str, ...] = ("kt", "bits")


REGISTRY: dict[str, StrategySpec] = {s.name: s for s in (
    StrategySpec("decompose", "ksynth.search.decompose", "DecomposeStrategy", weight=0.7, order=0),
    StrategySpec("segment", "ksynth.search.segment", "SegmentStrategy", weight=0.05, order=1),
    StrategySpec("enumerate", "ksynth.search.enumerate", "EnumerateStrategy", weight=0.05, order=2,
                 takes_bound=True),
    StrategySpec("solve", "ksynth.search.solve", "SolveStrategy", weight=0.1, order=3,
                 takes_bound=True),
    # policy-guided (issue 14). beam is in the default portfolio (under the uniform policy it is a
    # second, beam-ordered decomposition search: +2.7 points at or below the ground truth on the
    # 1,000-draw test seed); mcts, seqcoder and sketch are not: see README "Policy-guided search"
    StrategySpec("beam", "ksynth.search.beam", "BeamStrategy", weight=0.3, order=4),
    StrategySpec("mcts", "ksynth.search.mcts", "MCTSStrategy", weight=0.3, order=5, default=False),
    StrategySpec("seqcoder", "ksynth.search.seqcoder", "SeqCoderStrategy", weight=0.3, order=-1,
                 default=False),
    StrategySpec("sketch", "ksynth.search.sketch", "SketchStrategy", weight=0.3, order=6,
                 default=False),
    StrategySpec("predict", "ksynth.search.predict", "PredictStrategy", weight=0.1, order=-1,
                 objectives=("bits",)),
)}

DEFAULT_STRATEGIES: tuple[str, ...] = tuple(
    s.name for s in sorted(REGISTRY.values(), key=lambda s: s.order) if s.default)

__all__ = ["Portfolio", "solve", "REGISTRY", "StrategySpec", "DEFAULT_STRATEGIES"]


def __getattr__(name):                     # lazy: importing ksynth.search stays cheap
    if name in ("Portfolio", "solve"):
        from ksynth.search import portfolio

        return getattr(portfolio, name)
    raise AttributeError(f"module 'ksynth.search' has no attribute {name!r}")
