"""Map a function over work items: "serial" (default, deterministic, in order) or "ray".

    with Parallel("ray", workers=2, log=print) as par:
        for i, result in par.imap(fn, items, item_seconds=1.8):   # (index, fn(item)) as each finishes
            ...
    results = pmap(fn, items)                     # ordered list, serial unless told otherwise

The one rule for when Ray pays. Starting a local instance and shutting it down costs about
RAY_START_S (ENV-NOTES: init 4-5 s, shutdown 1.5 s), joining a cluster about RAY_JOIN_S. With
`workers` workers a job of W seconds of serial work saves at most W (1 - 1/workers), so a "ray"
Parallel first estimates W (items x `item_seconds`, the caller's bound per item, or the first
item timed in this process) and stays serial, in this process, unless W reaches the break-even
    min_work_s = overhead x workers / (workers - 1)
(13 s for a local instance on 2 workers). KSYNTH_RAY_MIN_WORK_S overrides the break-even (0: always
Ray, the tests). The choice and its numbers are one line through `log` (the CLI prints it).

Ray is imported only when Ray is chosen. Without an address a local instance is started with
`num_cpus=workers` (temp files under the repo's `.ray/` or $RAY_TMPDIR, usage stats off) and shut
down on close; with an address the cluster is joined and left running. An instance that was
already up in this process is used as is and left up. Workers get `worker_env()`: PYTHONPATH
with this checkout first (so they import the same ksynth as the driver), NUMBA_CACHE_DIR (one
shared compile cache: kernels compile once, later workers load them), HF_HUB_OFFLINE=1 and
OMP_NUM_THREADS=1 (two torch threads on a busy core crawl).

Faults. A task whose worker process dies (killed, out of memory, a lost node) is rerun by Ray up
to MAX_RETRIES times; a result reaches the caller once, when its task completes, so the caller
writing results as they arrive never loses or duplicates one. Errors raised by `fn` itself are
not retried: they propagate with their own type.

Ray's start-up is hidden behind work: while a local instance starts (or a cluster is joined) and
its workers warm up, a helper thread runs items in this process, one by one, until the first
task's result comes back (KSYNTH_RAY_HIDE_START=0 sends every item to Ray).

Ray costs about 0.6 ms per task, so items are sent in chunks sized so that each task carries at
least MIN_TASK_SECONDS of work, and at most IN_FLIGHT_PER_WORKER chunks per worker are
submitted ahead: items may be a generator that is never held whole (a 1 GB dataset's chunks).
"""
from __future__ import annotations

import contextlib
import itertools
import math
from collections import deque
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from ksynth.errors import KsynthError, UsageError

BACKENDS = ("serial", "ray")
MIN_TASK_SECONDS = 0.010      # per Ray task; below this the scheduling overhead dominates
CHUNKS_PER_WORKER = 4         # at least this many tasks per worker, for load balance
IN_FLIGHT_PER_WORKER = 2 * CHUNKS_PER_WORKER   # chunks submitted ahead per worker (a bounded window)
RAY_START_S = 6.5             # seconds: a local ray.init + ray.shutdown on this kind of machine
RAY_JOIN_S = 2.0              # seconds: connecting a driver to a running cluster and leaving it
MAX_RETRIES = 3               # reruns of a task whose worker process died
MIN_WORK_ENV = "KSYNTH_RAY_MIN_WORK_S"
HIDE_START_ENV = "KSYNTH_RAY_HIDE_START"   # 0: no items in process while Ray starts (tests)
HELPER_POLL_S = 0.05          # seconds between looks at the in-process helper's results

REPO_ROOT = Path(__file__).resolve().parents[1]


def worker_env() -> dict[str, str]:
    """Environment variables every worker process gets."""
    path = [str(REPO_ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
                               if p and p != str(REPO_ROOT)]
    return {
        "PYTHONPATH": os.pathsep.join(path),
        "NUMBA_CACHE_DIR": os.environ.get("NUMBA_CACHE_DIR", str(REPO_ROOT / ".numba_cache")),
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
    }


def break_even_seconds(workers: int, joining: bool = False) -> float:
    """Seconds of serial work from which Ray on `workers` workers saves more than it costs."""
    env = os.environ.get(MIN_WORK_ENV)
    if env is not None:
        try:
            return max(0.0, float(env))
        except ValueError:
            raise UsageError(f"{MIN_WORK_ENV}={env!r} is not a number of seconds") from None
    if joining:
        workers = max(workers, 2)             # a cluster's size is unknown until joined
    if workers <= 1:
        return math.inf
    return (RAY_JOIN_S if joining else RAY_START_S) * workers / (workers - 1)


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


def _run_chunk(fn: Callable, chunk: list[tuple[int, Any]]) -> tuple[dict, list[tuple[int, Any]]]:
    """Task body: the chunk's results, and where they were computed (node id, process id)."""
    import ray

    where = {"node": ray.get_runtime_context().get_node_id(), "pid": os.getpid()}
    return where, [(i, fn(item)) for i, item in chunk]


@contextlib.contextmanager
def _ray_keeps_sigterm(ray):
    """Within: ray.init leaves the SIGTERM handler alone (see Parallel._init_ray)."""
    utils = getattr(getattr(ray, "_private", None), "utils", None)
    if utils is None or not hasattr(utils, "set_sigterm_handler"):    # another Ray: nothing to skip
        yield
        return
    real = utils.set_sigterm_handler
    utils.set_sigterm_handler = lambda handler: None
    try:
        yield
    finally:
        utils.set_sigterm_handler = real


def _shutdown_quietly(ray) -> None:
    try:
        ray.shutdown()
    except Exception:                      # nothing (or not enough) was up to shut down
        pass


def chunk_size(n_items: int, workers: int, item_seconds: float) -> int:
    """Items per task: enough for MIN_TASK_SECONDS of work, small enough to spread over workers."""
    if n_items <= 0:
        return 1
    by_time = math.ceil(MIN_TASK_SECONDS / max(item_seconds, 1e-9))
    by_balance = max(1, n_items // (workers * CHUNKS_PER_WORKER))
    return max(1, min(by_time, by_balance))


class Parallel:
    """A map backend. Use as a context manager so a Ray instance it started is shut down.

    backend "ray" means "Ray when the work pays" (module doc); `choice` says what was decided
    ("serial" or "ray", None before the first map) and `log(line)` is told why.
    """

    def __init__(self, backend: str = "serial", workers: int | None = None, address: str | None = None,
                 log: Callable[[str], None] | None = None, resources: dict[str, float] | None = None):
        if backend not in BACKENDS:
            raise UsageError(f"unknown parallel backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        if workers is not None and workers < 1:
            raise UsageError(f"workers must be at least 1, got {workers}")
        self.backend = backend
        self.workers = workers or os.cpu_count() or 1
        self.address = address
        self.log = log
        self.resources = resources            # custom resources of a local instance (a GPU stand-in)
        self.choice: str | None = "serial" if backend == "serial" else None
        self.startup_s: float | None = None      # seconds ray.init took (None: not started here)
        self._ray = None
        self._started = False

    # ---- lifecycle --------------------------------------------------------------------------
    def __enter__(self) -> "Parallel":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self):
        """Ray now, whatever the rule says (a job that needs it: a served model, a cluster test)."""
        return self._ensure_ray()

    def _ensure_ray(self):
        if self._ray is not None:
            return self._ray
        try:
            import ray
        except ImportError as e:           # pragma: no cover - ray is a declared dependency
            raise UsageError(f"the ray backend needs the ray package: {e}") from None
        if not ray.is_initialized():
            t0 = time.perf_counter()
            try:
                self._init_ray(ray)
            except Exception as e:             # a bad address, no room for a local instance, ...
                where = f"join the Ray cluster at {self.address}" if self.address else "start a local Ray instance"
                raise KsynthError(f"could not {where}: {type(e).__name__}: {e}") from None
            self._started = True
            self.startup_s = time.perf_counter() - t0
            self._say(f"parallel: Ray {'joined' if self.address else 'started'} in {self.startup_s:.1f} s")
        self._ray = ray
        self.choice = "ray"
        return ray

    def _init_ray(self, ray) -> None:
        """ray.init, with SIGTERM kept the caller's. ray.init first installs its own SIGTERM
        handler (sys.exit(15)), and that exit, raised somewhere inside its start-up, was seen to
        be swallowed (the run went on) or to leave processes behind. So during init ours is held
        in place (Ray's installer skipped) and only notes a SIGTERM; one that came is acted on
        once init has returned: what init started is shut down, then the caller's handler runs
        (the CLI's raises, the same stop as Ctrl-C). A Ctrl-C during init shuts down too."""
        runtime_env = {"env_vars": worker_env()}
        main = threading.current_thread() is threading.main_thread()
        if not main:                               # Ray sets no handler off the main thread
            return self._ray_init(ray, runtime_env)
        old_term = signal.getsignal(signal.SIGTERM)
        seen: list[int] = []
        signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))
        try:
            with _ray_keeps_sigterm(ray):
                self._ray_init(ray, runtime_env)
        except BaseException:
            _shutdown_quietly(ray)
            raise
        finally:
            signal.signal(signal.SIGTERM, old_term if old_term is not None else signal.SIG_DFL)
        if seen:
            _shutdown_quietly(ray)
            if callable(old_term):
                old_term(signal.SIGTERM, None)
            raise SystemExit(128 + signal.SIGTERM)   # the caller had no handler of its own

    def _ray_init(self, ray, runtime_env: dict) -> None:
        if self.address:
            _probe(self.address)
            ray.init(address=self.address, runtime_env=runtime_env, log_to_driver=False)
            return
        tmp = Path(os.environ.get("RAY_TMPDIR", REPO_ROOT / ".ray"))
        tmp.mkdir(exist_ok=True)
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        ray.init(num_cpus=self.workers, resources=self.resources, runtime_env=runtime_env,
                 include_dashboard=False, log_to_driver=False, _temp_dir=str(tmp))

    def close(self) -> None:
        if self._ray is not None and self._started:
            self._ray.shutdown()
        self._ray, self._started = None, False

    # ---- the rule -------------------------------------------------------------------------------
    def decide(self, n_items: int, item_seconds: float) -> str:
        """Serial or Ray for a job of n_items x item_seconds. The first decision sticks: make it
        with the whole job (later maps of the same job, e.g. batches of a stream, follow it)."""
        if self.choice is not None:
            return self.choice
        work = n_items * item_seconds
        need = break_even_seconds(self.workers, joining=bool(self.address))
        where = f"the cluster at {self.address}" if self.address else f"a local instance, {self.workers} workers"
        if n_items > 1 and work >= need:
            self.choice = "ray"
            self._say(f"parallel: ray on {where}: {n_items:,} item{'s' * (n_items != 1)} x {item_seconds:.3g} s = "
                      f"{work:,.1f} s of work >= {need:.1f} s break-even")
        else:
            self.choice = "serial"
            self._say(f"parallel: serial in this process: {n_items:,} item{'s' * (n_items != 1)} x {item_seconds:.3g} s = "
                      f"{work:,.1f} s of work < {need:.1f} s break-even of Ray on {where}")
        return self.choice

    def _say(self, line: str) -> None:
        if self.log is not None:
            self.log(f"ksynth: {line}")

    # ---- mapping ----------------------------------------------------------------------------
    def imap(self, fn: Callable, items: Iterable, chunksize: int | None = None,
             item_seconds: float | None = None, n_items: int | None = None) -> Iterator[tuple[int, Any]]:
        """Yield (index, fn(item)): in order when serial, as tasks finish on Ray."""
        for i, result, _ in self.imap_where(fn, items, chunksize, item_seconds, n_items):
            yield i, result

    def imap_where(self, fn: Callable, items: Iterable, chunksize: int | None = None,
                   item_seconds: float | None = None, n_items: int | None = None):
        """Yield (index, fn(item), where): `where` is {"node": id, "pid": pid} of the Ray worker
        that computed it, None in this process.

        `fn` must be picklable (a module-level function) for Ray. `item_seconds` (a bound per item)
        and `n_items` (the count, when `items` is a generator) feed the rule; without them the
        items are counted and the first one is timed here.
        """
        if n_items is None:
            items = items if hasattr(items, "__len__") else list(items)
            n_items = len(items)
        it = iter(items)
        start = 0
        need_timing = self.choice is None or (self.choice == "ray" and chunksize is None)
        if self.backend == "ray" and item_seconds is None and need_timing and n_items:
            t0 = time.perf_counter()              # the first item, timed here, sizes the job
            first = fn(next(it))
            item_seconds = time.perf_counter() - t0
            yield 0, first, None
            start = 1
        if n_items - start <= 0:
            return
        if self.decide(n_items, item_seconds or 0.0) == "serial":
            for i, item in enumerate(it, start):
                yield i, fn(item), None
            return
        yield from self._imap_ray(fn, it, start, n_items,
                                  chunksize or chunk_size(n_items - start, self.workers, item_seconds))

    def _imap_ray(self, fn, it, start, n_items, chunksize):
        indexed = enumerate(it, start)
        lock = threading.Lock()                   # the helper and the submitter share the items

        def take(k: int) -> list:
            with lock:
                return list(itertools.islice(indexed, k))

        # the driver works too until Ray answers: a helper thread runs items here while Ray
        # starts and its workers warm up (imports, Numba's cache), and stops at the first result
        here: deque = deque()
        failed: list = []
        stop = threading.Event()

        def work():
            try:
                while not stop.is_set() and (got := take(1)):
                    here.append((got[0][0], fn(got[0][1])))
            except BaseException as e:            # re-raised in the caller's thread
                failed.append(e)

        helper = None
        if os.environ.get(HIDE_START_ENV, "1") != "0":
            helper = threading.Thread(target=work, daemon=True)
            helper.start()
        pending: list = []
        try:
            ray = self._ensure_ray()
            remote = ray.remote(_run_chunk).options(max_retries=MAX_RETRIES, retry_exceptions=False)
            fn_ref = ray.put(fn)

            def submit(k: int) -> list:
                """Up to k more chunks as tasks (fewer when the items run out)."""
                refs = []
                for _ in range(k):
                    chunk = take(chunksize)
                    if not chunk:
                        break
                    refs.append(remote.remote(fn_ref, chunk))
                return refs

            pending = submit(self.workers * IN_FLIGHT_PER_WORKER)
            while pending or (helper is not None and helper.is_alive()):
                while here:
                    i, result = here.popleft()
                    yield i, result, None
                if failed:
                    raise failed[0]
                if not pending:
                    helper.join(HELPER_POLL_S)
                    continue
                warm = helper is None or not helper.is_alive() or stop.is_set()
                done, pending = ray.wait(pending, num_returns=1, timeout=None if warm else HELPER_POLL_S)
                if not done:
                    continue
                stop.set()                        # Ray answers: the helper ends after its item
                try:
                    where, results = ray.get(done[0])
                except ray.exceptions.RayTaskError as e:
                    cause = getattr(e, "cause", None)
                    raise (cause if isinstance(cause, BaseException) else e) from None
                pending += submit(1)
                for i, result in results:
                    yield i, result, where
            if helper is not None:
                helper.join()
            yield from ((i, result, None) for i, result in here)
            if failed:
                raise failed[0]
        finally:
            stop.set()
            # tasks abandoned early (error, interrupt, consumer stopped). An instance started here
            # is shut down by close(), which stops them anyway, and cancelling there races with
            # replies in flight: Ray 2.60 can abort the driver ("Check failed: it !=
            # submissible_tasks_.end() Tried to complete task that was not pending", ray-project/ray
            # PR 54798). On a joined cluster they are cancelled, or they would run on for nothing.
            if not self._started:
                for ref in pending:
                    self._ray.cancel(ref, force=True)


def pmap(fn: Callable, items: Iterable, backend: str = "serial", workers: int | None = None,
         address: str | None = None, chunksize: int | None = None) -> list:
    """fn over items, results in item order, whatever the backend."""
    items = list(items)
    out: list = [None] * len(items)
    with Parallel(backend, workers, address) as par:
        for i, result in par.imap(fn, items, chunksize):
            out[i] = result
    return out


def log_stderr(line: str) -> None:
    """The CLI's `log`: one line on stderr."""
    print(line, file=sys.stderr, flush=True)
