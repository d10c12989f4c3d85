"""ksynth.parallel: serial is ordered and deterministic; ray gives the same results (own local instance)."""
from __future__ import annotations

import math
import operator
import os

import pytest

from ksynth.errors import KsynthError, UsageError
from ksynth.parallel import Parallel, chunk_size, pmap, worker_env


def test_serial_is_ordered():
    par = Parallel()
    assert par.backend == "serial"
    assert list(par.imap(operator.neg, [3, 1, 2])) == [(0, -3), (1, -1), (2, -2)]
    assert pmap(math.factorial, range(6)) == [1, 1, 2, 6, 24, 120]
    assert pmap(math.factorial, []) == []


def test_bad_backend_and_workers():
    with pytest.raises(UsageError, match="unknown parallel backend 'dask'"):
        Parallel("dask")
    with pytest.raises(UsageError, match="at least 1"):
        Parallel("ray", workers=0)


def test_chunk_size_gives_each_task_enough_work():
    assert chunk_size(1000, 2, item_seconds=1.0) == 1            # slow items: one per task
    assert chunk_size(1000, 2, item_seconds=0.001) == 10         # 10 x 1 ms = 10 ms per task
    assert chunk_size(20, 2, item_seconds=1e-6) == 2             # still 4 tasks per worker
    assert chunk_size(3, 2, item_seconds=1e-6) == 1


def test_worker_env():
    env = worker_env()
    assert env["HF_HUB_OFFLINE"] == "1" and env["OMP_NUM_THREADS"] == "1"
    assert env["NUMBA_CACHE_DIR"]


def test_unreachable_cluster_fails_fast_in_one_line():
    ray = pytest.importorskip("ray")
    if ray.is_initialized():
        pytest.skip("a Ray instance is already up in this process")
    with pytest.raises(KsynthError, match="could not join the Ray cluster at 127.0.0.1:1"):
        pmap(abs, [1, 2], backend="ray", address="127.0.0.1:1")
    assert not ray.is_initialized()


@pytest.fixture(scope="module")
def ray_par():
    pytest.importorskip("ray")
    par = Parallel("ray", workers=2)
    try:
        par._ensure_ray()
    except Exception as e:                       # no room for a Ray instance here
        par.close()
        pytest.skip(f"ray failed to start: {e}")
    yield par
    par.close()
    import ray

    assert not ray.is_initialized()              # it shut down what it started


def test_ray_equals_serial(ray_par):
    items = list(range(40))
    serial = pmap(math.factorial, items)
    got = dict(ray_par.imap(math.factorial, items))             # auto chunk size (first item timed here)
    assert [got[i] for i in items] == serial
    got = dict(ray_par.imap(math.factorial, items, chunksize=7))
    assert [got[i] for i in items] == serial


def test_ray_workers_get_the_env(ray_par):
    names = ["OMP_NUM_THREADS", "HF_HUB_OFFLINE", "NUMBA_CACHE_DIR"]
    got = dict(ray_par.imap(os.getenv, names, chunksize=1))    # every item runs in a worker
    assert [got[i] for i in range(3)] == [worker_env()[k] for k in names]


def test_ray_errors_keep_their_type(ray_par):
    with pytest.raises(ValueError):
        list(ray_par.imap(int, ["1", "2", "x", "4"], chunksize=1))
