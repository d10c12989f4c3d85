"""Typed, frozen configuration. Every result carries `config.to_dict()`; ablations are configs.

Overrides use dotted paths: `apply_overrides(cfg, ["budget.seconds=2", "ablations.copies=false"])`.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from ksynth.errors import UsageError

from ksynth.search import DEFAULT_STRATEGIES, REGISTRY

OBJECTIVES = ("kt", "bits")
STRATEGIES = DEFAULT_STRATEGIES              # the default portfolio, from the strategy registry


@dataclass(frozen=True)
class Budget:
    """Per-sequence search budget: wall seconds and/or expanded nodes (None = unlimited)."""

    seconds: float | None = 1.8
    nodes: int | None = None

    def __post_init__(self):
        # nan or inf would silently remove the time limit (and write NaN into JSONL rows)
        s = self.seconds
        if s is not None and (isinstance(s, bool) or not isinstance(s, (int, float))
                              or not math.isfinite(s) or s <= 0):
            raise UsageError(f"budget.seconds must be a finite number of seconds > 0 (or none), got {s!r}")
        if self.nodes is not None and (type(self.nodes) is not int or self.nodes < 0):
            raise UsageError(f"budget.nodes must be an integer >= 0 (or none), got {self.nodes!r}")


@dataclass(frozen=True)
class Ablations:
    """Off switches for every pruning and piece family. All True = the full system."""

    observational_equivalence: bool = True   # enumerate: dedupe candidates by output
    target_pruning: bool = True               # enumerate: keep only values useful for the target
    memoise: bool = True                      # decompose: cache sub-targets
    copies: bool = True                       # segment: reuse earlier stretches
    transformed_copies: bool = True           # segment: reverse / +-c / modulo / substitute reuse
    shared_lines: bool = True                 # decompose: one dictionary of built lines
    fresh_transforms: bool = True             # segment: sawtooth / substituted / scanned runs, v +- run
    segment_degrade: bool = True              # segment: behind its deadline, go on with beam 1 and plain copies (not a literal tail)
    interleave: bool = True                   # decompose: the interleave witness
    split_pruning: bool = True                # decompose: solve only the best-estimated splits
    transformed_splits: bool = True           # decompose: also solve splits whose halves are a modulo/substitute of each other
    interleaved_copies: bool = True           # polish re-cover: pieces interleaving a source with a fresh run / literal
    incumbent_bound: bool = True              # portfolio: enumerate / solve only look for programs cheaper than the best so far
    polish: bool = True                       # portfolio: reorder / flatten / merge lines of each verified program, priced exactly
    polish_resegment: bool = True             # portfolio: re-cover the winner's literal lines with its other lines as sources
    reuse_estimate: bool = True               # decompose: rank interleave splits by an LZ cover that sees copies within / between halves
    sketch_pool: bool = True                  # sketch: the LM candidates' line values as copy sources / pair operands of the decomposition
    sketch_splits: bool = True                # sketch: the LM candidates' interleave lengths as extra splits of the decomposition
    sketch_lm_lengths: bool = True            # sketch: off = a control: as many extra splits, at seeded random lengths instead of the LM's


@dataclass(frozen=True)
class Tuning:
    """Search knobs worth sweeping (`tuning.beam=3` is a config, never a code edit). Defaults are
    the values the search was tuned with on dev draws; units in the comments."""

    beam: int = 2                  # segment: DP entries kept per position (plus open literals)
    max_sources: int = 16          # segment: most recent path pieces used as copy sources
    max_pair_sources: int = 8      # segment: newest sources combined pairwise by two-list ops
    long_run: int = 48             # segment: runs longer than this (elements) offer only 7 end points
    max_depth: int = 4             # decompose: nested witnesses (interleave, repeat, preimages)
    top_splits: int = 3            # decompose: interleave splits solved in full at the top (1 fewer per level)
    reuse_top: int = 1             # decompose: splits the reuse-aware estimate adds per level
    reuse_max_m: int = 32          # decompose: longest interleaved piece (elements) it scores (KT: 5..25)
    max_grow_lines: int = 4        # enumerate: entries with this many lines are closed, not grown
    long_factor: int = 6           # enumerate: a kept value is at most this many times the target's length
    polish_rounds: int = 20        # polish: rewrite passes over a program (each applies many rewrites)
    max_divisors: int = 32         # solve: modulus candidates tried per sketch family
    z3_timeout_ms: int = 300       # solve: Z3 time per query (milliseconds)
    resegment_top: int = 2         # portfolio: verified programs (cheapest first) whose literal lines are re-covered
    polish_reserve: float = 0.1    # portfolio: share of the wall budget kept for that final re-cover


@dataclass(frozen=True)
class Guidance:
    """Settings of the policy-guided strategies (beam, mcts, seqcoder); see search/policy.py."""

    samples: int = 16                          # seqcoder: best-of-k candidates (1 = greedy only, like the paper)
    decoding: str = "sample"                   # seqcoder / sketch: the candidates beside greedy: "sample" (temperature) | "beam" (token-level beam search)
    temperature: float = 1.0                   # seqcoder / sketch: sampling temperature
    beam_width: int = 8                        # beam: states kept per depth
    branch: int = 4                            # beam / mcts: interleave splits and concat cuts tried per state
    puct: float = 1.5                          # mcts: exploration constant of PUCT
    sketches: int = 8                          # sketch: candidate programs decoded per target (greedy + sketches - 1 by `decoding`)

    def __post_init__(self):
        if self.decoding not in ("sample", "beam"):
            raise UsageError(f"guidance.decoding must be sample or beam, got {self.decoding!r}")
        if self.samples < 1 or self.beam_width < 1 or self.branch < 1 or self.sketches < 1:
            raise UsageError("guidance.samples, beam_width, branch and sketches must be >= 1")


POLICIES = ("uniform", "pcfg", "lm", "default")   # or a folder holding a saved model


@dataclass(frozen=True)
class SearchConfig:
    objective: str = "kt"                     # "kt": KT prior bits, 24 KT functions; "bits": real code
    strategies: tuple[str, ...] = STRATEGIES
    budget: Budget = field(default_factory=Budget)
    ablations: Ablations = field(default_factory=Ablations)
    tuning: Tuning = field(default_factory=Tuning)
    max_len: int = 1 << 16                    # element cap for every list a program builds
    seed: int = 0
    policy: str = "uniform"                   # prior guiding beam / mcts / seqcoder: uniform (KT's, the unguided order) | pcfg | lm = default (shipped checkpoint) | PATH
    guidance: Guidance = field(default_factory=Guidance)

    def __post_init__(self):
        if self.objective not in OBJECTIVES:
            raise UsageError(f"unknown objective {self.objective!r}; choose one of {', '.join(OBJECTIVES)}")
        bad = [s for s in self.strategies if s not in REGISTRY]
        if bad:
            import difflib

            near = difflib.get_close_matches(bad[0], list(REGISTRY), n=1)
            hint = f" (did you mean {near[0]}?)" if near else ""
            raise UsageError(f"unknown strategy {bad[0]!r}{hint}; choose from {', '.join(REGISTRY)}")
        if not self.strategies:
            raise UsageError("at least one strategy is needed")
        if self.policy not in POLICIES:
            import os

            if not os.path.isdir(self.policy):
                import difflib

                near = difflib.get_close_matches(self.policy, POLICIES, n=1)
                hint = f" (did you mean {near[0]}?)" if near else ""
                raise UsageError(f"unknown policy {self.policy!r}{hint}; choose "
                                 f"{', '.join(POLICIES)} or a folder holding a saved model")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "SearchConfig":
        d = dict(d)
        if "budget" in d:
            d["budget"] = Budget(**d["budget"])
        if "ablations" in d:
            d["ablations"] = Ablations(**d["ablations"])
        if "guidance" in d:
            d["guidance"] = Guidance(**d["guidance"])
        if "tuning" in d:
            d["tuning"] = Tuning(**d["tuning"])
        if "strategies" in d:
            d["strategies"] = tuple(d["strategies"])
        return cls(**d)


def _parse_value(text: str, current: Any) -> Any:
    low = text.strip().lower()
    if isinstance(current, bool) or low in ("true", "false"):
        if low in ("true", "1", "yes", "on"):
            return True
        if low in ("false", "0", "no", "off"):
            return False
        raise UsageError(f"expected true/false, got {text!r}")
    if low in ("none", "null"):
        return None
    if isinstance(current, tuple):
        return tuple(s.strip() for s in text.split(",") if s.strip())
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return text


def apply_overrides(cfg, overrides: list[str]):
    """Return a copy of a (nested) frozen dataclass with "a.b=v" overrides applied."""
    for item in overrides:
        if "=" not in item:
            raise UsageError(f"override {item!r} must look like key=value")
        path, value = item.split("=", 1)
        cfg = _replace_path(cfg, path.strip().split("."), value, path.strip())
    return cfg


def _replace_path(obj, parts: list[str], value: str, full: str = ""):
    names = [f.name for f in dataclasses.fields(obj)]
    if parts[0] not in names:
        import difflib

        near = difflib.get_close_matches(parts[0], names, n=1)
        hint = f" (did you mean {near[0]}?)" if near else ""
        raise UsageError(f"unknown setting {parts[0]!r}{hint}")
    current = getattr(obj, parts[0])
    if len(parts) == 1:
        new = _parse_value(value, current)
        _check_type(full or parts[0], current, new, value)
    else:
        if not dataclasses.is_dataclass(current):
            raise UsageError(f"{parts[0]!r} has no sub-settings")
        new = _replace_path(current, parts[1:], value, full)
    return dataclasses.replace(obj, **{parts[0]: new})


def _check_type(name: str, current: Any, new: Any, text: str) -> None:
    """An override keeps its setting's kind: a number where the default is one (None clears it)."""
    if new is None or current is None or isinstance(current, (bool, str, tuple)):
        return
    if isinstance(current, int) and (type(new) is not int):
        raise UsageError(f"setting {name!r} must be an integer, got {text!r}")
    if isinstance(current, float) and (isinstance(new, bool) or not isinstance(new, (int, float))):
        raise UsageError(f"setting {name!r} must be a number, got {text!r}")
