"""The policy LM (ksynth/lm) as a search Policy, in this process or served; torch and
transformers are imported on first use, Ray only by a served policy.

    pol = LMPolicy(folder)                 # the model in this process (get_policy("default"), PATH)
    pol = ServedPolicy(server.client, ...) # the model in a ksynth.serve actor (a GPU when there is one)
    tp = pol.for_target(target)            # the same LMTarget either way: strategies cannot tell

The model-side work is requests (ksynth/lm/service.py: recognise, score, sample, beam search),
and an LMTarget only makes requests, so the two policies differ in where those go: LMPolicy hands
them to a PolicyModel in this process, ServedPolicy to a batching actor shared by every search
worker. Per target, one recognition: the greedy program (SeqCoder-style) and the op weights the
whole search uses; on top, batched scoring (`program_bits`) and sampling / beam decoding
(`sample`, `beam`). Model time is spent inside the calling strategy (waiting, when served), so it
counts against the search budget like any other work (`seconds`).

A job on Ray with a GPU (see `serving_for`) starts one served model per LM its configs load and
hands its workers the clients inside the task function, so every strategy's get_policy finds the
served one; serial jobs, and jobs on CPUs alone, keep LMPolicy in each process.
"""
from __future__ import annotations

import contextlib
import os
import time

from ksynth.search.policy import OpWeights


def _until(deadline: float | None) -> float | None:
    """A time.monotonic() deadline as a time.time() one (service.py: comparable across processes)."""
    return None if deadline is None else time.time() + (deadline - time.monotonic())


class LMTarget(OpWeights):
    """One target under the LM, through `answer` (requests -> answers). The recognition request
    is made on first use of `greedy` / `op_bits`, so pure scoring never pays for it."""

    def __init__(self, answer, target):
        self._answer = answer
        self.target = tuple(int(v) for v in target)
        self._rec = None
        self.seconds = 0.0                            # model time so far (waiting included)

    def _ask(self, request):
        t0 = time.monotonic()
        (answer,) = self._answer([request])
        self.seconds += time.monotonic() - t0
        if isinstance(answer, Exception):         # an error of this request alone (service.py)
            raise answer
        return answer

    def _recognition(self):
        if self._rec is None:
            from ksynth.lm.service import Recognise

            self._rec = self._ask(Recognise(self.target))
        return self._rec

    @property
    def greedy(self):
        return self._recognition().greedy

    @property
    def greedy_log2p(self) -> float | None:
        return self._recognition().greedy_log2p

    @property
    def op_bits(self) -> dict[str, float]:
        return self._recognition().op_bits

    def program_bits(self, programs) -> list[float]:
        """-log2 p(program | target) under the LM; KT's prior where the prompt does not fit."""
        from ksynth.lm import tokens as T
        from ksynth.lm.service import Score

        programs = list(programs)
        bits = self._ask(Score(self.target, tuple(tuple(T.program_tokens(p)) for p in programs)))
        return super().program_bits(programs) if bits is None else bits

    def sample(self, k: int, temperature: float = 1.0, seed: int = 0,
               deadline: float | None = None) -> list:
        """k grammar-constrained samples: [(Program or None, log2 p)]."""
        from ksynth.lm.service import Sample

        return self._ask(Sample(self.target, k, temperature, seed, _until(deadline)))

    def beam(self, width: int, deadline: float | None = None) -> list:
        """Token-level beam search: up to `width` programs, most probable first."""
        from ksynth.lm.service import BeamSearch

        return self._ask(BeamSearch(self.target, width, _until(deadline)))


def model_folder(path=None):
    """The folder an LM policy loads (path None: the shipped checkpoint), checked to hold a model
    here, before a served one fails to load in its actor."""
    from ksynth.errors import UsageError
    from ksynth.lm import model as lm_model

    if path is None and not lm_model.has_default():
        raise UsageError(f"no shipped policy checkpoint in {lm_model.DEFAULT_CHECKPOINT}; "
                         f"train one with experiments/train_policy.py --ship")
    return lm_model.check_folder(path or lm_model.DEFAULT_CHECKPOINT)


class LMPolicy:
    """A saved causal LM with ksynth's prompt format, in this process; `path` None = the shipped
    checkpoint."""

    name = "lm"

    def __init__(self, path=None):
        self.path = path
        self._service = None

    @property
    def service(self):
        """The PolicyModel (loaded on first use)."""
        if self._service is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            import torch

            from ksynth.lm.service import PolicyModel

            folder = model_folder(self.path)
            if os.environ.get("OMP_NUM_THREADS") is None:
                torch.set_num_threads(1)      # ENV-NOTES: more threads on a busy core crawl
            self._service = PolicyModel.load(folder)
        return self._service

    @property
    def model(self):
        return self.service.model

    @property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def answer(self, requests: list) -> list:
        return self.service(requests)

    def for_target(self, target, deadline=None) -> LMTarget:
        return LMTarget(self.answer, target)


class ServedPolicy:
    """The LM behind a ksynth.serve Server: picklable (the client is), so Ray tasks carry it."""

    name = "lm"

    def __init__(self, client, where: str):
        self.client, self.where = client, where

    def answer(self, requests: list) -> list:
        return self.client(requests)

    def for_target(self, target, deadline=None) -> LMTarget:
        return LMTarget(self.answer, target)


# ---- a job's served models ---------------------------------------------------------------------
GUIDED = ("beam", "mcts")          # strategies that price by config.policy (search/space.py)
DECODERS = ("seqcoder", "sketch")  # strategies that decode programs with seqcoder.lm_for's LM


def lm_names(config) -> set[str]:
    """The LM policies (by policy key) a search under `config` loads: config.policy when it is an
    LM and a guided strategy runs, and the LM of seqcoder and sketch (search/seqcoder.lm_for)."""
    from ksynth.search.policy import is_lm, policy_key

    names = set()
    if is_lm(config.policy) and any(s in GUIDED for s in config.strategies):
        names.add(policy_key(config.policy))
    if any(s in DECODERS for s in config.strategies):
        names.add(policy_key(config.policy if is_lm(config.policy) else "default"))
    return names


class WithPolicies:
    """fn with served policies installed (policy.serving) while it runs: a picklable task body."""

    def __init__(self, fn, policies: dict):
        self.fn, self.policies = fn, policies

    def __call__(self, item):
        from ksynth.search.policy import serving

        with serving(self.policies):
            return self.fn(item)


@contextlib.contextmanager
def serving_for(par, configs, log=None):
    """For a job about to map over `par` (a ksynth.parallel.Parallel that has decided): yields
    `wrap(fn)`, which hands the job's tasks the served LMs its configs load, one served model per
    LM (ksynth.serve.serve: a GPU actor, or an actor on the stand-in resource), closed on exit,
    saying the batch sizes reached. `wrap` is the identity, and nothing is served, where the job
    stays in this process, loads no LM, or runs on a cluster without a GPU: there each worker
    keeps its own copy of the model (3.6 MB shipped), whose requests per second scale with the
    workers, where one CPU actor would answer all of them from one thread (experiments/
    bench_serve.py measures both); `log` says which."""
    names = set().union(*(lm_names(c) for c in configs)) if configs else set()
    if par.choice != "ray" or not names:
        yield lambda fn: fn
        return
    import functools

    from ksynth.lm.service import PolicyModel
    from ksynth.serve import accelerated, serve

    ray = par.start()
    if not accelerated(ray.cluster_resources()):
        if log is not None:
            log(f"ksynth: serve: no GPU in the cluster: policy {', '.join(sorted(names))} stays in "
                f"each worker's process")
        yield lambda fn: fn
        return
    servers = {}
    try:
        for name in sorted(names):
            folder = model_folder(None if name == "default" else name)
            t0 = time.perf_counter()
            servers[name] = serve(functools.partial(PolicyModel.load, str(folder)), log=log,
                                  name=f"policy {name}")
            servers[name].stats()          # waits for the load, so no search's budget pays for it
            if log is not None:
                log(f"ksynth: serve: policy {name} loaded in {time.perf_counter() - t0:.1f} s")
        policies = {name: ServedPolicy(s.client, s.where) for name, s in servers.items()}
        yield lambda fn: WithPolicies(fn, policies)
    finally:
        for name, s in servers.items():
            try:
                s.close()                  # says the batch sizes reached
            except Exception as e:         # a dead actor: the job's own error, if any, matters more
                if log is not None:
                    log(f"ksynth: serve: policy {name}: no stats at close ({type(e).__name__}: {e})")
