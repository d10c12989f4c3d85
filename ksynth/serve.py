"""Batched model serving for CPU search workers: one model, placed on a GPU when there is one.

    server = serve(make_model, log=log_stderr)           # inside a Ray job: an actor; else in process
    answers = server.client(requests)                    # from the driver or any Ray task
    server.stats()                                       # requests, batches, batch sizes reached

The model protocol is one callable: `model(requests: list) -> list` of answers, same length and
order. `make_model` is a picklable zero-argument factory (a module-level function or class) called
where the model lives, so the weights load on the GPU node, not in the driver. The learned policy
plugs in here: ksynth/lm/service.py's PolicyModel answers the search's prior requests (recognise a
target, score, sample and beam-decode programs) in batches across targets, and
search/lm_policy.py's ServedPolicy makes them from the search workers (`serving_for` wires a Ray
job to it). `FixedLatencyModel` is the cheap stand-in the tests of this module use.

Placement, decided once from the running cluster's resources:
    "GPU" >= 1          an actor with num_gpus=1
    STANDIN_RESOURCE    (a custom resource, for CPU-only tests of the same code path) an actor on it
    otherwise           a CPU actor holding CPU_ACTOR_CPUS of the cluster's CPUs
    no Ray running      in process: the caller's batch goes straight to the model
`accelerated` says whether the cluster offers one of the first two: the LM policy is served only
then (search/lm_policy.py serving_for; on CPUs alone one actor's thread would answer every
worker, where each worker's own copy of the model scales with the workers).
Dynamic batching in the actor: requests that arrive while the model is busy, or within
`max_wait_s` of the first one, share one model call of at most `max_batch` requests. Numbers:
a GPU forward pass costs about the same for 1 or 64 prefixes (ENV-NOTES: 230 tokens/s at batch
1, 4.9k at batch 64 on CPU), so the wait buys throughput; 2 ms is ~3 actor calls of overhead.

Ray is imported only when a Ray instance is already up in this process.
"""
from __future__ import annotations

import sys
import time
from collections import Counter
from typing import Any, Callable, Protocol

MAX_BATCH = 64                   # requests per model call
MAX_WAIT_S = 0.002               # seconds the first request of a batch waits for company
STANDIN_RESOURCE = "gpu_standin"  # a custom resource that plays the GPU on CPU-only machines
CPU_ACTOR_CPUS = 1               # CPUs a CPU-placed model actor reserves


class Model(Protocol):
    def __call__(self, requests: list) -> list: ...


class FixedLatencyModel:
    """A stand-in model: each call costs `latency_s` + `per_item_s` per request (like a GPU forward
    pass, where the fixed part dominates); the answer to a request (a list of ints) is its sum
    modulo 256, so a test can check that every answer went back to its own request."""

    def __init__(self, latency_s: float = 0.005, per_item_s: float = 0.0):
        self.latency_s, self.per_item_s = latency_s, per_item_s

    def __call__(self, requests: list) -> list:
        time.sleep(self.latency_s + self.per_item_s * len(requests))
        return [sum(r) % 256 for r in requests]


class _Tally:
    """Requests and batch sizes: what `stats()` reports."""

    def __init__(self):
        self.sizes: Counter = Counter()

    def add(self, n: int) -> None:
        self.sizes[n] += 1

    def summary(self) -> dict:
        batches = sum(self.sizes.values())
        requests = sum(k * v for k, v in self.sizes.items())
        return {"requests": requests, "batches": batches,
                "mean_batch": round(requests / batches, 2) if batches else 0.0,
                "max_batch": max(self.sizes, default=0), "sizes": dict(sorted(self.sizes.items()))}


def _stats(tally: _Tally, model) -> dict:
    """The tally's summary, and the model's own `stats()` (under "model") where it has one."""
    out = tally.summary()
    if callable(getattr(model, "stats", None)):
        out["model"] = model.stats()
    return out


def _answer(model: Model, requests: list) -> list:
    answers = list(model(requests))
    if len(answers) != len(requests):
        raise ValueError(f"the model answered {len(answers)} of {len(requests)} requests")
    return answers


class _Batcher:
    """The actor's body: an asyncio queue in front of the model (Ray runs async actors on one event
    loop; the model runs on one executor thread so requests keep queueing while it works)."""

    def __init__(self, make_model: Callable[[], Model], max_batch: int, max_wait_s: float):
        import concurrent.futures

        self.model = make_model()
        self.max_batch, self.max_wait_s = max_batch, max_wait_s
        self.queue: list = []                       # (request, future)
        self.tally = _Tally()
        self._drainer = None
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)

    async def infer(self, requests: list) -> list:
        import asyncio

        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in requests]
        self.queue.extend(zip(requests, futures))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.ensure_future(self._drain())
        return list(await asyncio.gather(*futures))

    async def _drain(self) -> None:
        import asyncio

        loop = asyncio.get_running_loop()
        while self.queue:
            if len(self.queue) < self.max_batch:
                await asyncio.sleep(self.max_wait_s)    # a small wait for company
            batch, self.queue = self.queue[:self.max_batch], self.queue[self.max_batch:]
            try:
                answers = await loop.run_in_executor(self._pool, _answer, self.model,
                                                     [r for r, _ in batch])
            except Exception as e:                      # every waiter of the batch hears it
                for _, f in batch:
                    f.set_exception(e)
                continue
            self.tally.add(len(batch))
            for (_, f), a in zip(batch, answers):
                f.set_result(a)

    async def stats(self) -> dict:
        return _stats(self.tally, self.model)


class ActorClient:
    """Picklable: ship it into Ray tasks; `client(requests)` blocks for the answers."""

    def __init__(self, actor):
        self.actor = actor

    def __call__(self, requests: list) -> list:
        import ray

        return ray.get(self.actor.infer.remote(list(requests)))


class LocalClient:
    """In process: the caller's requests go to the model in batches of at most max_batch."""

    def __init__(self, model: Model, max_batch: int):
        self.model, self.max_batch = model, max_batch
        self.tally = _Tally()

    def __call__(self, requests: list) -> list:
        requests, out = list(requests), []
        for k in range(0, len(requests), self.max_batch):
            part = requests[k:k + self.max_batch]
            out += _answer(self.model, part)
            self.tally.add(len(part))
        return out


def placement(resources: dict, standin: str | None = STANDIN_RESOURCE) -> tuple[str, dict]:
    """(what to print, Ray actor options) for a cluster with these total resources."""
    if resources.get("GPU", 0) >= 1:
        return "a GPU actor (num_gpus=1)", {"num_gpus": 1, "num_cpus": 0}
    if standin and resources.get(standin, 0) >= 1:
        return f"an actor on {standin!r} (a custom resource standing in for a GPU)", \
            {"resources": {standin: 1}, "num_cpus": 0}
    return f"a CPU actor ({CPU_ACTOR_CPUS} CPU, no GPU in the cluster)", {"num_cpus": CPU_ACTOR_CPUS}


def accelerated(resources: dict, standin: str | None = STANDIN_RESOURCE) -> bool:
    """The cluster has a GPU (or the stand-in resource) for a model actor."""
    options = placement(resources, standin)[1]
    return "num_gpus" in options or "resources" in options


class Server:
    """A served model: `client` (callable, picklable), `where` (the placement), stats(), close()."""

    def __init__(self, client, where: str, actor=None, log: Callable[[str], None] | None = None,
                 name: str = "model"):
        self.client, self.where, self._actor, self._log, self.name = client, where, actor, log, name

    def stats(self) -> dict:
        if self._actor is None:
            return _stats(self.client.tally, self.client.model)
        import ray

        return ray.get(self._actor.stats.remote())

    def close(self) -> dict:
        """Stops the actor; says (log) and returns the batch sizes reached."""
        s = self.stats()
        if self._log is not None:
            sizes = ", ".join(f"{k} x{v:,}" for k, v in s["sizes"].items())
            self._log(f"ksynth: serve: {self.name}: {s['requests']:,} requests in {s['batches']:,} "
                      f"batches on {self.where}: mean batch {s['mean_batch']}, max {s['max_batch']}"
                      + (f" (size x batches: {sizes})" if sizes else ""))
        if self._actor is not None:
            import ray

            ray.kill(self._actor)
            self._actor = None
        return s

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def serve(make_model: Callable[[], Model], max_batch: int = MAX_BATCH, max_wait_s: float = MAX_WAIT_S,
          standin: str | None = STANDIN_RESOURCE, log: Callable[[str], None] | None = None,
          in_process: bool = False, name: str = "model") -> Server:
    """The model behind a Server: an actor when Ray is up in this process (placed by `placement`),
    else (or with in_process) in this process. `name` labels the lines said through `log`."""
    ray = sys.modules.get("ray")
    if in_process or ray is None or not ray.is_initialized():
        server = Server(LocalClient(make_model(), max_batch), "this process (no Ray running)", log=log,
                        name=name)
    else:
        where, options = placement(ray.cluster_resources(), standin)
        actor_cls = ray.remote(_Batcher).options(**options)
        actor = actor_cls.remote(make_model, max_batch, max_wait_s)
        server = Server(ActorClient(actor), where, actor, log, name)
    if log is not None:
        log(f"ksynth: serve: {name} in {server.where}; batches of at most {max_batch}, "
            f"{max_wait_s * 1e3:g} ms wait")
    return server


def call(client_and_requests: tuple[Any, list]) -> list:
    """A task body for Parallel.imap: (client, requests) -> answers (module level, picklable)."""
    client, requests = client_and_requests
    return client(requests)
