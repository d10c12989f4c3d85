"""Map a function over work items: "serial" (default, deterministic, in order) or "ray".

    with Parallel("ray", workers=2) as par:
        for i, result in par.imap(fn, items):     # (item index, fn(item)) as each finishes
            ...
    results = pmap(fn, items)                     # ordered list, serial unless told otherwise

Ray is imported only when the "ray" backend is asked for. Without an address a local instance is
started with `num_cpus=workers` (temp files under the repo's `.ray/`, usage stats off) and shut down
on close; with an address the cluster is joined and left running. An instance that was already up
in this process is used as is and left up. Workers get NUMBA_CACHE_DIR (a shared compile cache),
HF_HUB_OFFLINE=1 and OMP_NUM_THREADS=1 (see ENV-NOTES: two torch threads on a busy core crawl).

Ray costs about 0.6 ms per task, so items are sent in chunks sized so that each task carries at
least `MIN_TASK_SECONDS` of work: the first item is timed in the driver to size them.
"""
from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from ksynth.errors import KsynthError, UsageError

BACKENDS = ("serial", "ray")
MIN_TASK_SECONDS = 0.010      # per Ray task; below this the scheduling overhead dominates
CHUNKS_PER_WORKER = 4         # at least this many tasks per worker, for load balance

REPO_ROOT = Path(__file__).resolve().parents[1]


def worker_env() -> dict[str, str]:
    """Environment variables every worker process gets."""
    return {
        "NUMBA_CACHE_DIR": os.environ.get("NUMBA_CACHE_DIR", str(REPO_ROOT / ".numba_cache")),
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
    }


def _probe(address: str, timeout: float = 3.0) -> None:
    """Fail fast on an unreachable host:port (ray.init itself retries for minutes)."""
    import socket

    hostport = address.split("://", 1)[-1]
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        return                                   # "auto" and other forms: leave them to Ray
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as e:
        raise ConnectionError(f"nothing answers at {host}:{port} ({e.strerror or e})") from None


def _run_chunk(fn: Callable, chunk: list[tuple[int, Any]]) -> list[tuple[int, Any]]:
    return [(i, fn(item)) for i, item in chunk]


def chunk_size(n_items: int, workers: int, item_seconds: float) -> int:
    """Items per task: enough for MIN_TASK_SECONDS of work, small enough to spread over workers."""
    if n_items <= 0:
        return 1
    by_time = math.ceil(MIN_TASK_SECONDS / max(item_seconds, 1e-9))
    by_balance = max(1, n_items // (workers * CHUNKS_PER_WORKER))
    return max(1, min(by_time, by_balance))


class Parallel:
    """A map backend. Use as a context manager so a Ray instance it started is shut down."""

    def __init__(self, backend: str = "serial", workers: int | None = None, address: str | None = None):
        if backend not in BACKENDS:
            raise UsageError(f"unknown parallel backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        if workers is not None and workers < 1:
            raise UsageError(f"workers must be at least 1, got {workers}")
        self.backend = backend
        self.workers = workers or os.cpu_count() or 1
        self.address = address
        self._ray = None
        self._started = False

    # ---- lifecycle --------------------------------------------------------------------------
    def __enter__(self) -> "Parallel":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _ensure_ray(self):
        if self._ray is not None:
            return self._ray
        try:
            import ray
        except ImportError as e:           # pragma: no cover - ray is a declared dependency
            raise UsageError(f"the ray backend needs the ray package: {e}") from None
        if not ray.is_initialized():
            try:
                self._init_ray(ray)
            except Exception as e:             # a bad address, no room for a local instance, ...
                where = f"join the Ray cluster at {self.address}" if self.address else "start a local Ray instance"
                raise KsynthError(f"could not {where}: {type(e).__name__}: {e}") from None
            self._started = True
        self._ray = ray
        return ray

    def _init_ray(self, ray) -> None:
        runtime_env = {"env_vars": worker_env()}
        if self.address:
            _probe(self.address)
            ray.init(address=self.address, runtime_env=runtime_env, log_to_driver=False)
            return
        tmp = REPO_ROOT / ".ray"
        tmp.mkdir(exist_ok=True)
        os.environ.setdefault("RAY_TMPDIR", str(tmp))
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        ray.init(num_cpus=self.workers, runtime_env=runtime_env, include_dashboard=False,
                 log_to_driver=False, _temp_dir=os.environ["RAY_TMPDIR"])

    def close(self) -> None:
        if self._ray is not None and self._started:
            self._ray.shutdown()
        self._ray, self._started = None, False

    # ---- mapping ----------------------------------------------------------------------------
    def imap(self, fn: Callable, items: Iterable, chunksize: int | None = None) -> Iterator[tuple[int, Any]]:
        """Yield (index, fn(item)): in order for serial, as tasks finish for ray.

        `fn` must be picklable (a module-level function) for ray. Exceptions raised by `fn`
        propagate with their own type.
        """
        items = list(items)
        if self.backend == "serial" or not items:
            for i, item in enumerate(items):
                yield i, fn(item)
            return
        yield from self._imap_ray(fn, items, chunksize)

    def _imap_ray(self, fn, items, chunksize):
        ray = self._ensure_ray()
        start = 0
        if chunksize is None:
            t0 = time.perf_counter()          # the first item, timed here, sizes the chunks
            first = fn(items[0])
            chunksize = chunk_size(len(items), self.workers, time.perf_counter() - t0)
            yield 0, first
            start = 1
        remote = ray.remote(_run_chunk)
        fn_ref = ray.put(fn)
        indexed = list(enumerate(items))[start:]
        pending = [remote.remote(fn_ref, indexed[k:k + chunksize])
                   for k in range(0, len(indexed), chunksize)]
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                try:
                    chunk = ray.get(done[0])
                except ray.exceptions.RayTaskError as e:
                    cause = getattr(e, "cause", None)
                    raise (cause if isinstance(cause, BaseException) else e) from None
                yield from chunk
        finally:
            for ref in pending:               # abandoned early (error or consumer stopped)
                ray.cancel(ref, force=True)


def pmap(fn: Callable, items: Iterable, backend: str = "serial", workers: int | None = None,
         address: str | None = None, chunksize: int | None = None) -> list:
    """fn over items, results in item order, whatever the backend."""
    items = list(items)
    out: list = [None] * len(items)
    with Parallel(backend, workers, address) as par:
        for i, result in par.imap(fn, items, chunksize):
            out[i] = result
    return out
