"""Policies: priors over programs that guide a search, all priced in bits (-log2 probability).

    pol = get_policy("uniform" | "pcfg" | "lm" | "default" | PATH)
    tp = pol.for_target(target, deadline)      # one recognition pass per target (the LM's only)
    tp.op_bits["interleave"]                   # -log2 weight of choosing an op, for this target
    tp.line_bits(op, args, i)                  # op choice by the policy + arguments by KT's prior
    tp.program_bits([p1, p2, ...])             # -log2 policy(program | target), batched

- `uniform`: 2^-bits of KT's prior (every op log2(25) bits): exactly today's cost order, so a
  search ranked by it is the unguided search (Levin search with the uniform prior).
- `pcfg`: op unigram and bigram (previous line's op -> this op, and -> end) frequencies fitted
  on training programs, add-one smoothed; blind to the target, so comparing it with `lm`
  separates conditioning on the sequence from mere op frequency. Arguments keep KT's prices.
- `lm` (search/lm_policy.py): the transformer, conditioned on the target; torch is imported
  only when it is asked for.
The shipped fit lives in ksynth/lm/pcfg.json (written by experiments/train_policy.py's data).
"""
from __future__ import annotations

import contextlib
import json
import math
from collections import Counter
from pathlib import Path
from typing import Protocol

from ksynth.dsl.ops import FUNCTION_BITS, KT_OPS
from ksynth.dsl.score import line_kt_bits

PCFG_FILE = Path(__file__).resolve().parents[1] / "lm" / "pcfg.json"
START, END = "<start>", "<end>"
from ksynth.config import POLICIES  # noqa: E402  (one list of names, validated by SearchConfig)


class TargetPolicy(Protocol):
    op_bits: dict[str, float]

    def line_bits(self, op: str, args: tuple, i: int) -> float: ...

    def program_bits(self, programs) -> list[float]: ...


class Policy(Protocol):
    name: str

    def for_target(self, target, deadline: float | None = None) -> TargetPolicy: ...


def _arg_bits(op: str, args: tuple, i: int) -> float:
    """KT's price of a line's arguments alone (its line bits less the function choice)."""
    return line_kt_bits(op, args, i) - FUNCTION_BITS


class OpWeights:
    """A target policy that prices each op by a fixed table and the arguments by KT's prior."""

    def __init__(self, op_bits: dict[str, float]):
        self.op_bits = op_bits

    def line_bits(self, op: str, args: tuple, i: int) -> float:
        return self.op_bits[op] + _arg_bits(op, args, i)

    def program_bits(self, programs) -> list[float]:
        return [sum(self.line_bits(l.op, l.args, i) for i, l in enumerate(p.lines)) + FUNCTION_BITS
                for p in programs]


class Uniform:
    """KT's uniform prior: the unguided search's order."""

    name = "uniform"

    def __init__(self):
        self._tp = OpWeights({op: FUNCTION_BITS for op in KT_OPS})

    def for_target(self, target, deadline=None) -> OpWeights:
        return self._tp


class _BigramTarget(OpWeights):
    def __init__(self, op_bits, pair_bits):
        super().__init__(op_bits)
        self.pair_bits = pair_bits

    def program_bits(self, programs) -> list[float]:
        out = []
        for p in programs:
            prev, total = START, 0.0
            for i, line in enumerate(p.lines):
                total += self.pair_bits[prev][line.op] + _arg_bits(line.op, line.args, i)
                prev = line.op
            out.append(total + self.pair_bits[prev][END])
        return out


class PCFG:
    """Op unigram / bigram frequencies of training programs (target-blind)."""

    name = "pcfg"

    def __init__(self, unigram: dict[str, int], bigram: dict[str, dict[str, int]]):
        self.unigram, self.bigram = unigram, bigram
        total = sum(unigram.get(op, 0) + 1 for op in KT_OPS)
        op_bits = {op: -math.log2((unigram.get(op, 0) + 1) / total) for op in KT_OPS}
        pair_bits = {}
        for prev in (START,) + tuple(KT_OPS):
            row = bigram.get(prev, {})
            nxt = tuple(KT_OPS) + (END,)
            z = sum(row.get(o, 0) + 1 for o in nxt)
            pair_bits[prev] = {o: -math.log2((row.get(o, 0) + 1) / z) for o in nxt}
        self._tp = _BigramTarget(op_bits, pair_bits)

    @classmethod
    def fit(cls, programs) -> "PCFG":
        uni, bi = Counter(), {}
        for p in programs:
            prev = START
            for line in p.lines:
                uni[line.op] += 1
                bi.setdefault(prev, Counter())[line.op] += 1
                prev = line.op
            bi.setdefault(prev, Counter())[END] += 1
        return cls(dict(uni), {k: dict(v) for k, v in bi.items()})

    def to_dict(self) -> dict:
        return {"unigram": self.unigram, "bigram": self.bigram}

    def save(self, path=PCFG_FILE) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path=PCFG_FILE) -> "PCFG":
        from ksynth.errors import UsageError

        if not Path(path).is_file():
            raise UsageError(f"no fitted pcfg at {path}; fit one with PCFG.fit(programs).save()")
        d = json.loads(Path(path).read_text())
        return cls(d["unigram"], d["bigram"])

    def for_target(self, target, deadline=None) -> _BigramTarget:
        return self._tp


_CACHE: dict[str, object] = {}
_SERVED: dict[str, object] = {}      # policy key -> a served LM (search/lm_policy.py), while serving


def is_lm(name: str) -> bool:
    """The name is an LM policy: the shipped one (lm, default) or a model folder."""
    return name in ("lm", "default") or (name not in POLICIES and Path(name).is_dir())


def policy_key(name: str) -> str:
    """One key per LM: lm and default are the same shipped checkpoint."""
    return "default" if name in ("lm", "default") else name


@contextlib.contextmanager
def serving(policies: dict):
    """get_policy answers these (policy key -> policy) while the block runs: how a Ray task body
    finds the served LM its driver started (lm_policy.WithPolicies)."""
    old = dict(_SERVED)
    _SERVED.update(policies)
    try:
        yield
    finally:
        _SERVED.clear()
        _SERVED.update(old)


def get_policy(name: str) -> Policy:
    """A policy by name: uniform, pcfg, lm / default (the shipped checkpoint), or a model folder;
    a served LM instead where one is installed (`serving`)."""
    from ksynth.errors import UsageError

    served = _SERVED.get(policy_key(name))
    if served is not None:
        return served
    if name in _CACHE:
        return _CACHE[name]
    if name == "uniform":
        pol = Uniform()
    elif name == "pcfg":
        pol = PCFG.load()
    elif name in ("lm", "default") or Path(name).is_dir():
        from ksynth.search.lm_policy import LMPolicy

        pol = LMPolicy(None if name in ("lm", "default") else name)
    else:
        import difflib

        near = difflib.get_close_matches(name, POLICIES, n=1)
        hint = f" (did you mean {near[0]}?)" if near else ""
        raise UsageError(f"unknown policy {name!r}{hint}; choose uniform, pcfg, default, or a "
                         f"folder holding a saved model")
    _CACHE[name] = pol
    return pol
