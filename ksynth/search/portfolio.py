"""Run the configured strategies under one budget; keep the cheapest program the interpreter verifies.

    result = Portfolio(config).search(target)        # SearchResult, always verified
    result = solve(target)                            # the same with the default config

Strategies are imported lazily by name, so a missing optional module (or its heavy dependency)
never breaks the others: it is skipped and recorded in `stats["skipped"]`, and it is an error only
when the user named the strategy explicitly. Every candidate is re-run by the reference
interpreter, pruned of dead lines, polished (ksynth.search.polish: line order, flattened concatenates,
merged literals; off with Ablations.polish; the winner's literal lines are also re-covered with its
other lines as sources, Ablations.polish_resegment) and priced exactly (objective.program_cost); the literal program
(one set_list line) is always a candidate, so every target gets a verified program.
"""
from __future__ import annotations

import importlib
import math
import os
import time
import warnings

from ksynth.config import STRATEGIES, SearchConfig
from ksynth.dsl.interp import try_run
from ksynth.dsl.program import Program
from ksynth.errors import KsynthError, UsageError
from ksynth.search.base import SearchResult
from ksynth.search.objective import both_costs, program_cost

# module and class of each strategy (imported on first use)
_REGISTRY = {
    "segment": ("ksynth.search.segment", "SegmentStrategy"),
    "decompose": ("ksynth.search.decompose", "DecomposeStrategy"),
    "enumerate": ("ksynth.search.enumerate", "EnumerateStrategy"),
    "solve": ("ksynth.search.solve", "SolveStrategy"),
}
# share of the wall budget each strategy may use at most (renormalised over those configured);
# time a strategy leaves unused is NOT handed on, so easy targets finish early
_WEIGHT = {"decompose": 0.7, "segment": 0.05, "enumerate": 0.05, "solve": 0.1}
# order of execution: the strategies that find most programs cheaply come first
_ORDER = ("decompose", "segment", "enumerate", "solve")
RESEGMENT_TOP = 2         # verified programs (cheapest first) whose literal lines are re-covered
POLISH_RESERVE = 0.1     # share of the wall budget kept for the final polish (re-cover)


def load_strategy(name: str):
    """The strategy object for `name`, or raise ImportError / UsageError."""
    if name not in _REGISTRY:
        raise UsageError(f"unknown strategy {name!r}; choose from {', '.join(STRATEGIES)}")
    module, cls = _REGISTRY[name]
    mod = importlib.import_module(module)
    return getattr(mod, cls)()


def literal_program(target) -> Program:
    return Program.build([("set_list", (tuple(target),))])


class Portfolio:
    """Estimator-style: settings in the constructor, data in `search`.

    `strict`: raise when a configured strategy cannot be loaded. Default: strict only when the
    strategy list differs from the default (i.e. the user chose it).
    """

    def __init__(self, config: SearchConfig | None = None, strict: bool | None = None):
        self.config = config or SearchConfig()
        self.strict = (tuple(self.config.strategies) != STRATEGIES) if strict is None else strict
        self._strategies: list = []
        self.skipped: dict[str, str] = {}
        for name in sorted(self.config.strategies, key=_ORDER.index):
            try:
                self._strategies.append(load_strategy(name))
            except ImportError as e:
                if self.strict:
                    raise UsageError(f"strategy {name!r} is not available: {e}") from None
                self.skipped[name] = str(e)

    def search(self, target) -> SearchResult:
        target = [int(v) for v in target]
        cfg = self.config
        t0 = time.monotonic()
        budget = cfg.budget.seconds
        end = t0 + budget if budget is not None else math.inf
        # the strategies stop POLISH_RESERVE of the budget early: the winner's re-cover needs it
        # most on the long targets that hit the deadline with big literal lines left
        final = end
        if cfg.ablations.polish and cfg.ablations.polish_resegment and budget is not None:
            end = t0 + budget * (1 - POLISH_RESERVE)
        best_prog = literal_program(target)
        best_cost = program_cost(best_prog, cfg.objective)
        best_name = "literal"
        nodes = 0
        per_strategy = {}
        todo = list(self._strategies)
        candidates = []                    # (cost, strategy, program) of every verified result
        total_weight = sum(_WEIGHT.get(s.name, 0.1) for s in todo) or 1.0
        while todo:
            strat = todo.pop(0)
            if cfg.budget.nodes is not None and nodes >= cfg.budget.nodes:
                per_strategy[strat.name] = {"skipped": "node budget spent"}
                continue
            now = time.monotonic()
            if now >= end:
                per_strategy[strat.name] = {"skipped": "time budget spent"}
                continue
            share = budget * _WEIGHT.get(strat.name, 0.1) / total_weight if budget is not None \
                else math.inf
            deadline = min(end, now + share)
            s0 = time.monotonic()
            try:
                if getattr(strat, "takes_bound", False) and cfg.ablations.incumbent_bound:
                    # only programs cheaper than the best so far are wanted: a tight bound
                    # shrinks enumerate's / solve's search spaces to almost nothing
                    res = strat.search(target, cfg, deadline, bound=best_cost)
                else:
                    res = strat.search(target, cfg, deadline)
            except KsynthError:
                raise
            except RecursionError:
                res = None
            except Exception as e:
                # a bug in one strategy must not cost the user the others' programs (the literal
                # fallback stays); KSYNTH_STRICT=1 (the tests) raises instead
                if os.environ.get("KSYNTH_STRICT") == "1":
                    raise
                warnings.warn(f"strategy {strat.name!r} failed on a target of {len(target)} values "
                              f"({e!r}); its result is skipped", RuntimeWarning, stacklevel=2)
                per_strategy[strat.name] = {"error": repr(e),
                                            "seconds": round(time.monotonic() - s0, 4)}
                continue
            info = {"seconds": round(time.monotonic() - s0, 4)}
            if res is not None:
                nodes += res.nodes
                info["nodes"] = res.nodes
                prog, cost = self._check(res.program, target)
                info["verified"] = prog is not None
                if prog is not None:
                    info["cost"] = cost
                    candidates.append((cost, strat.name, prog))
                    if cost < best_cost - 1e-9:
                        best_prog, best_cost, best_name = prog, cost, strat.name
            per_strategy[strat.name] = info
        if cfg.ablations.polish and cfg.ablations.polish_resegment and candidates:
            from ksynth.search.polish import polish

            # the RESEGMENT_TOP best programs' literal lines re-covered with their other lines as
            # sources (a runner-up may win after its re-cover)
            p0 = time.monotonic()
            improved = False
            seen = set()
            for _, name, prog in sorted(candidates, key=lambda c: c[0])[:RESEGMENT_TOP]:
                if prog in seen:
                    continue
                seen.add(prog)
                deep = polish(prog, target, cfg.objective, cfg.max_len, resegment=True,
                              deadline=final if budget is not None else None,
                              ablations=cfg.ablations)
                cost = program_cost(deep, cfg.objective)
                if cost < best_cost - 1e-9:
                    best_prog, best_cost, best_name, improved = deep, cost, name, True
            per_strategy["polish"] = {"seconds": round(time.monotonic() - p0, 4), "improved": improved}
        bits, kt = both_costs(best_prog)
        stats = {"strategies": per_strategy, "objective": cfg.objective}
        if self.skipped:
            stats["skipped"] = dict(self.skipped)
        return SearchResult(best_prog, bits, kt, True, time.monotonic() - t0, nodes, best_name, stats)

    def _check(self, program: Program, target: list[int]):
        """(pruned program, exact cost) when the interpreter reproduces the target, else (None, inf)."""
        if program is None:
            return None, math.inf
        program = program.pruned()
        if try_run(program, self.config.max_len) != target:
            return None, math.inf
        if self.config.ablations.polish:
            from ksynth.search.polish import polish

            program = polish(program, target, self.config.objective, self.config.max_len)
        try:
            return program, program_cost(program, self.config.objective)
        except UsageError:                 # e.g. a non-KT op under the kt objective
            return None, math.inf


def solve(target, config: SearchConfig | None = None) -> SearchResult:
    """One-shot helper: Portfolio(config).search(target)."""
    return Portfolio(config).search(target)
