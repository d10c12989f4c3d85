"""Program search: strategies propose programs, the interpreter verifies, the cheapest wins.

    from ksynth.search import Portfolio, solve      # same as ksynth.search.portfolio

Strategies (config.strategies): segment (MDL cover by DP), decompose (witness recursion:
interleave / repeat_list / scan_add over segment), enumerate (bottom-up by cost), solve (Z3 sketches).
`objective.py` holds the one cost function they share.
"""
from __future__ import annotations

__all__ = ["Portfolio", "solve"]


def __getattr__(name):                     # lazy: importing ksynth.search stays cheap
    if name in __all__:
        from ksynth.search import portfolio

        return getattr(portfolio, name)
    raise AttributeError(f"module 'ksynth.search' has no attribute {name!r}")
