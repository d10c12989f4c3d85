"""The policy LM's model-side work as self-contained requests, answered in batches.

    model = PolicyModel.load(folder)        # where the weights live: this process, or a serve() actor
    answers = model([Recognise(t1), Sample(t2, 15, 1.0, 0, None), Score(t3, (tokens, ...))])

A request carries its target by value (a tuple of byte values), so it means the same in any
process; requests and answers are small picklable tuples (Programs, floats, token tuples):
    Recognise(target)                         -> Recognition(greedy, greedy_log2p, op_bits)
    Score(target, completions)                -> [-log2 p, ...], or None (the prompt does not fit:
                                                 the caller prices by KT's prior), or a ValueError
                                                 (a completion runs past the context: the caller
                                                 raises it; its batch mates are answered)
    Sample(target, k, temperature, seed, until) -> [(Program | None, log2 p)] x k
    BeamSearch(target, width, until)          -> [(Program, log2 p)], most probable first
A target whose prompt does not fit the context gets the uniform op prior, no greedy program and
no samples. `until` is a time.time() deadline (None: none): wall-clock time means the same in the
search worker and in the model's process, which time.monotonic does not across nodes; time spent
waiting in a batch queue counts against it, like any model time.

Recognition is the search's one pass per target: a greedy grammar-constrained decode (the
SeqCoder-style answer) whose next-token distributions at the line starts, averaged over ops and
mixed with UNIFORM_MIX of the uniform prior, give the op weights the whole search uses
(DeepCoder-style op presence, conditioned on the target). The distributions are the decode's own,
so recognition is one decode and no extra forward pass.

One call is one batch, across targets: the prompts it lacks are encoded in one right-padded pass,
every recognition, sample and beam job runs in decode.run's shared step loops, every scoring row in
one padded pass per decode.SCORE_ROWS. A model answers the same request the same way alone or in a
batch, up to float rounding (decode.py). An LRU of LRU_TARGETS targets keeps each one's prompt
cache and recognition, so a target's samples after its recognition (seqcoder) or a second
strategy's recognition of it (beam, then mcts) cost no prompt pass and no second decode; greedy
decoding is deterministic, so the cached recognition is the one a new decode would give.
"""
from __future__ import annotations

import math
import time
from collections import Counter, OrderedDict
from typing import NamedTuple

from ksynth.dsl.ops import FUNCTION_BITS, KT_OPS

UNIFORM_MIX = 0.1          # share of the uniform op prior mixed into the LM's op weights
LRU_TARGETS = 128          # targets whose prompt cache and recognition are kept (~0.1-2 MB each)


class Recognise(NamedTuple):
    target: tuple


class Score(NamedTuple):
    target: tuple
    completions: tuple          # token tuples (ksynth.lm.tokens.program_tokens)


class Sample(NamedTuple):
    target: tuple
    k: int
    temperature: float
    seed: int
    until: float | None         # time.time() deadline


class BeamSearch(NamedTuple):
    target: tuple
    width: int
    until: float | None


class Recognition(NamedTuple):
    greedy: object              # Program | None
    greedy_log2p: float | None
    op_bits: dict               # op -> -log2 weight


UNIFORM = Recognition(None, None, {op: FUNCTION_BITS for op in KT_OPS})


def _deadline(until: float | None) -> float | None:
    """A time.time() deadline as a time.monotonic() one (decode's clock)."""
    return None if until is None else time.monotonic() + (until - time.time())


class PolicyModel:
    """The model and its target cache; `model(requests) -> answers`, one batch per call."""

    def __init__(self, model):
        import torch

        from ksynth.lm import tokens as T

        self.model = model
        self.device = next(model.parameters()).device
        self.op_ids = torch.tensor([T.OP_TOKEN[op] for op in KT_OPS], device=self.device)
        self._lru: OrderedDict = OrderedDict()     # target -> [Encoded | None, Recognition | None]
        self.kinds: Counter = Counter()            # requests answered, by kind
        self.encoded = self.jobs = 0               # prompts encoded, decode jobs run
        self.cpu_s = 0.0                           # CPU seconds of the calling threads in calls

    @classmethod
    def load(cls, folder) -> "PolicyModel":
        """A picklable factory for serve(): the model loads where it will run (CUDA when there)."""
        from ksynth.lm import model as lm_model

        return cls(lm_model.load(folder))

    def _entries(self, targets) -> dict:
        """target -> its LRU entry, the missing prompts encoded in one pass."""
        from ksynth.lm import decode

        got, missing = {}, []
        for t in dict.fromkeys(targets):
            if t in self._lru:
                self._lru.move_to_end(t)
                got[t] = self._lru[t]
            else:
                missing.append(t)
        self.encoded += len(missing)
        for t, enc in zip(missing, decode.encode_many(self.model, missing)):
            got[t] = self._lru[t] = [enc, None if enc is not None else UNIFORM]
        while len(self._lru) > LRU_TARGETS:
            self._lru.popitem(last=False)
        return got

    def __call__(self, requests: list) -> list:
        t0 = time.thread_time()
        try:
            return self._answer(requests)
        finally:
            self.cpu_s += time.thread_time() - t0

    def _answer(self, requests: list) -> list:
        from ksynth.lm import decode

        self.kinds.update(type(r).__name__ for r in requests)
        entries = self._entries(r.target for r in requests)
        jobs, recognising = [], {}                 # decode jobs; target -> its recognition job
        for r in requests:
            enc, rec = entries[r.target]
            if isinstance(r, Recognise) and rec is None and r.target not in recognising:
                recognising[r.target] = decode.Draw(self.model, enc, greedy=True, op_ids=self.op_ids)
                jobs.append(recognising[r.target])
        drawn = {}                                  # request index -> its sample / beam job
        for i, r in enumerate(requests):
            enc = entries[r.target][0]
            if enc is None:
                continue
            if isinstance(r, Sample):
                drawn[i] = decode.Draw(self.model, enc, r.k, False, r.temperature, r.seed,
                                       deadline=_deadline(r.until))
            elif isinstance(r, BeamSearch):
                drawn[i] = decode.Beam(self.model, enc, r.width, deadline=_deadline(r.until))
        decode.run(self.model, jobs + list(drawn.values()))
        for t, job in recognising.items():
            entries[t][1] = self._recognition(job)
        self.jobs += len(jobs) + len(drawn)
        scored, scoring = {}, []
        for i, r in enumerate(requests):
            enc = entries[r.target][0] if isinstance(r, Score) else None
            if enc is None:
                continue
            if any(len(enc.prompt) + len(c) > decode._context(self.model) for c in r.completions):
                # this request's error alone: its batch mates (other workers' requests) go on
                scored[i] = ValueError("a completion runs past the model's context")
            else:
                scoring.append(i)
        bits = decode.score_many(self.model, [(entries[requests[i].target][0],
                                               [list(c) for c in requests[i].completions])
                                              for i in scoring])
        scored.update(zip(scoring, bits))
        out = []
        for i, r in enumerate(requests):
            if isinstance(r, Recognise):
                out.append(entries[r.target][1])
            elif isinstance(r, Score):
                out.append(scored.get(i))
            else:
                out.append(drawn[i].results() if i in drawn else [])
        return out

    def _recognition(self, job) -> Recognition:
        import torch

        (greedy, log2p), = job.results()
        dists = job.op_probs if greedy is not None else job.op_probs[:1]   # line starts of greedy
        probs = torch.stack(dists).mean(0)
        probs = (1 - UNIFORM_MIX) * probs + UNIFORM_MIX / len(KT_OPS)
        return Recognition(greedy, log2p, {op: -math.log2(p) for op, p in zip(KT_OPS, probs.tolist())})

    def stats(self) -> dict:
        """Requests by kind, prompts encoded, decode jobs run, CPU seconds spent answering (on a
        GPU: the host's share only) and the device (serve's stats())."""
        return {"requests": dict(self.kinds), "prompts_encoded": self.encoded,
                "decode_jobs": self.jobs, "cpu_s": round(self.cpu_s, 3), "device": str(self.device)}
