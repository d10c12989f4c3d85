"""Run the configured strategies under one budget; keep the cheapest program the executor verifies.

    result = Portfolio(config).search(target)        # SearchResult, verified
    result = solve(target)                            # the same with the default config

Strategies come from the registry (ksynth.search.REGISTRY: module, budget share, order, bound)
and are imported lazily by name, so a missing optional module (or its heavy dependency) never
breaks the others: it is skipped and recorded in `stats["skipped"]`, and it is an error only
when the user named the strategy explicitly. Every candidate is checked against the target
through ksynth.dsl.executor (KSYNTH_EXECUTOR=reference|numba; `stats["executor"]` says which)
under config.max_len, the limit a user runs it with; it is pruned of dead lines, polished (ksynth.search.polish: line order, flattened concatenates,
merged literals; off with Ablations.polish; the winner's literal lines are also re-covered with its
other lines as sources, Ablations.polish_resegment) and priced exactly (objective.program_cost); the literal program
(one set_list line) is always a candidate, so every target that fits in config.max_len gets a
verified program; a longer target is refused with a UsageError before any search. The returned
program is checked once more at the end: `verified` is that check's result, never assumed.
"""
from __future__ import annotations

import importlib
import math
import os
import time
import warnings

from ksynth.config import STRATEGIES, SearchConfig
from ksynth.dsl import executor
from ksynth.dsl.program import Program
from ksynth.errors import KsynthError, UsageError
from ksynth.search import REGISTRY
from ksynth.search.base import SearchResult
from ksynth.search.objective import COST_EPS, both_costs, program_cost



def load_strategy(name: str):
    """The strategy object for `name`, or raise ImportError / UsageError."""
    if name not in REGISTRY:
        raise UsageError(f"unknown strategy {name!r}; choose from {', '.join(REGISTRY)}")
    spec = REGISTRY[name]
    return getattr(importlib.import_module(spec.module), spec.cls)()


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
        for name in sorted(self.config.strategies, key=lambda n: REGISTRY[n].order):
            if self.config.objective not in REGISTRY[name].objectives:
                continue                   # e.g. `predict` (ksynth-dialect ops) under kt
            try:
                self._strategies.append(load_strategy(name))
            except ImportError as e:
                if self.strict:
                    raise UsageError(f"strategy {name!r} is not available: {e}") from None
                self.skipped[name] = str(e)

    def search(self, target) -> SearchResult:
        target = [int(v) for v in target]
        cfg = self.config
        if len(target) > cfg.max_len:
            raise UsageError(f"a target of {len(target)} values is longer than max_len={cfg.max_len}: "
                             f"no program may build it; split it or raise max_len")
        t0 = time.monotonic()
        budget = cfg.budget.seconds
        end = t0 + budget if budget is not None else math.inf
        # the strategies stop tuning.polish_reserve of the budget early: the winner's re-cover needs it
        # most on the long targets that hit the deadline with big literal lines left
        final = end
        if cfg.ablations.polish and cfg.ablations.polish_resegment and budget is not None:
            end = t0 + budget * (1 - cfg.tuning.polish_reserve)
        best_prog = literal_program(target)
        best_cost = program_cost(best_prog, cfg.objective)
        best_name = "literal"
        nodes = 0
        per_strategy = {}
        todo = list(self._strategies)
        candidates = []                    # (cost, strategy, program) of every verified result
        total_weight = sum(REGISTRY[s.name].weight for s in todo) or 1.0
        while todo:
            strat = todo.pop(0)
            if cfg.budget.nodes is not None and nodes >= cfg.budget.nodes:
                per_strategy[strat.name] = {"skipped": "node budget spent"}
                continue
            now = time.monotonic()
            if now >= end:
                per_strategy[strat.name] = {"skipped": "time budget spent"}
                continue
            share = budget * REGISTRY[strat.name].weight / total_weight if budget is not None \
                else math.inf
            deadline = min(end, now + share)
            s0 = time.monotonic()
            try:
                if REGISTRY[strat.name].takes_bound and cfg.ablations.incumbent_bound:
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
                    if cost < best_cost - COST_EPS:
                        best_prog, best_cost, best_name = prog, cost, strat.name
            per_strategy[strat.name] = info
        if cfg.ablations.polish and cfg.ablations.polish_resegment and candidates:
            from ksynth.search.polish import polish

            # the tuning.resegment_top best programs' literal lines re-covered with their other lines as
            # sources (a runner-up may win after its re-cover)
            p0 = time.monotonic()
            improved = False
            seen = set()
            for _, name, prog in sorted(candidates, key=lambda c: c[0])[:cfg.tuning.resegment_top]:
                if prog in seen:
                    continue
                seen.add(prog)
                deep = polish(prog, target, cfg.objective, cfg.max_len, resegment=True,
                              deadline=final if budget is not None else None,
                              ablations=cfg.ablations, tuning=cfg.tuning)
                cost = program_cost(deep, cfg.objective)
                if cost < best_cost - COST_EPS:
                    best_prog, best_cost, best_name, improved = deep, cost, name, True
            per_strategy["polish"] = {"seconds": round(time.monotonic() - p0, 4), "improved": improved}
        verified = bool(executor.matches([best_prog], target, cfg.max_len)[0])
        if not verified and best_name != "literal":
            # a rewrite broke the winner (a bug): the user still gets a correct program
            warnings.warn(f"the {best_name!r} program failed its final check; literal kept",
                          RuntimeWarning, stacklevel=2)
            if os.environ.get("KSYNTH_STRICT") == "1":
                raise RuntimeError(f"final check failed for:\n{best_prog}")
            best_prog, best_name = literal_program(target), "literal"
            verified = bool(executor.matches([best_prog], target, cfg.max_len)[0])
        bits, kt = both_costs(best_prog)
        stats = {"strategies": per_strategy, "objective": cfg.objective, "executor": executor.backend}
        if self.skipped:
            stats["skipped"] = dict(self.skipped)
        return SearchResult(best_prog, bits, kt, verified, time.monotonic() - t0, nodes, best_name,
                            stats)

    def _check(self, program: Program, target: list[int]):
        """(pruned program, exact cost) when the executor reproduces the target, else (None, inf)."""
        if program is None:
            return None, math.inf
        program = program.pruned()
        if not executor.matches([program], target, self.config.max_len)[0]:
            return None, math.inf
        if self.config.ablations.polish:
            from ksynth.search.polish import polish

            program = polish(program, target, self.config.objective, self.config.max_len,
                             tuning=self.config.tuning)
        try:
            return program, program_cost(program, self.config.objective)
        except UsageError:                 # e.g. a non-KT op under the kt objective
            return None, math.inf


def solve(target, config: SearchConfig | None = None) -> SearchResult:
    """One-shot helper: Portfolio(config).search(target)."""
    return Portfolio(config).search(target)
