"""The Strategy protocol and SearchResult shared by every search strategy."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from ksynth.dsl.program import Program


@dataclass(frozen=True)
class SearchResult:
    """A program for one target. `verified` means the reference interpreter reproduced the target."""

    program: Program
    bits: float            # ksynth's real, decodable length (encode.bits)
    kt_bits: float         # KT uniform-prior score
    verified: bool
    seconds: float
    nodes: int             # candidates expanded / checked
    strategy: str
    stats: dict = field(default_factory=dict)


class Strategy(Protocol):
    """search(target, config, deadline[, bound]) -> the best program it found, or None.

    `deadline` is an absolute time.monotonic() value; strategies check it and return early.
    `bound` (bits under config.objective) is passed only to strategies whose registry row says
    takes_bound (ksynth.search.REGISTRY): only programs cheaper than it are wanted, and None may
    be returned when there are none. The returned result need not be verified: the portfolio
    verifies every proposal through ksynth.dsl.executor.
    """

    name: str

    def search(self, target: list[int], config, deadline: float,
               bound: float | None = None) -> SearchResult | None: ...
