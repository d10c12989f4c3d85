"""`seqcoder`: the paper's SeqCoder recipe with our small LM: decode whole programs, verify them.

Greedy single-sample decoding is what the paper evaluates (Guidance.samples = 1); best-of-k adds
k - 1 candidates to the greedy one (Guidance.decoding: temperature samples, or the k - 1 most
probable programs of a token-level beam search), and every candidate is checked against the target in
one executor batch; the cheapest verified program (config.objective) wins. Decoding is
grammar-constrained (ksynth/lm/decode.py), so every finished sample parses. The LM comes from
config.policy (uniform / pcfg carry no program model, so they mean the shipped checkpoint here).
Sampling stops at the deadline: model time is search time.
"""
from __future__ import annotations

import time

from ksynth.dsl import executor
from ksynth.search.base import SearchResult


def lm_for(config):
    """The LM policy config.policy names (the shipped one unless it names a folder)."""
    from ksynth.search.policy import get_policy

    return get_policy(config.policy if config.policy not in ("uniform", "pcfg") else "default")


class SeqCoderStrategy:
    name = "seqcoder"

    def search(self, target, config, deadline):
        from ksynth.search.objective import program_cost

        t0 = time.monotonic()
        tp = lm_for(config).for_target(target)
        programs = [tp.greedy] if tp.greedy is not None else []
        k = config.guidance.samples - 1
        if k > 0 and time.monotonic() < deadline:
            g = config.guidance
            extra = tp.beam(k, deadline) if g.decoding == "beam" else \
                tp.sample(k, g.temperature, config.seed, deadline)
            programs += [p for p, _ in extra if p is not None]
        stats = {"samples": len(programs), "greedy_parsed": tp.greedy is not None}
        if not programs:
            return None
        programs = [p.pruned() for p in programs]
        ok = executor.matches(programs, target, config.max_len)
        good = [p for p, hit in zip(programs, ok) if hit]
        stats["verified_samples"] = len(good)
        stats["greedy_verified"] = bool(ok[0]) if tp.greedy is not None else False
        if not good:
            return None
        best = min(good, key=lambda p: program_cost(p, config.objective))
        return SearchResult(best, float("nan"), float("nan"), True, time.monotonic() - t0,
                            len(programs), self.name, stats)
