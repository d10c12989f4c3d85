"""ksynth.parallel: serial is ordered and deterministic; ray gives the same results (own local
instance); the rule keeps small jobs in process; workers import this checkout's ksynth."""
from __future__ import annotations

import math
import operator
import os
import subprocess
import sys

import pytest

import ksynth
from ksynth.errors import KsynthError, UsageError
from ksynth.parallel import (MIN_WORK_ENV, RAY_JOIN_S, RAY_START_S, Parallel, break_even_seconds,
                             chunk_size, pmap, worker_env)


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
    assert env["PYTHONPATH"].split(os.pathsep)[0] == os.path.dirname(os.path.dirname(ksynth.__file__))


def test_the_rule_keeps_small_jobs_in_process(monkeypatch):
    monkeypatch.delenv(MIN_WORK_ENV, raising=False)
    assert break_even_seconds(2) == pytest.approx(2 * RAY_START_S)
    assert break_even_seconds(8) == pytest.approx(RAY_START_S * 8 / 7)
    assert break_even_seconds(1) == math.inf                       # one worker never pays
    assert break_even_seconds(1, joining=True) == pytest.approx(2 * RAY_JOIN_S)
    said = []
    par = Parallel("ray", workers=2, log=said.append)
    assert par.decide(10, 0.3) == "serial"                        # 3 s of work < 13 s
    assert "serial in this process" in said[-1] and "3.0 s of work" in said[-1]
    assert list(par.imap(operator.neg, [1, 2, 3], item_seconds=0.1)) == [(0, -1), (1, -2), (2, -3)]
    assert par._ray is None                                        # nothing was started
    assert Parallel("ray", workers=2).decide(200, 1.8) == "ray"   # 360 s of work
    monkeypatch.setenv(MIN_WORK_ENV, "0")
    assert Parallel("ray", workers=2).decide(2, 0.001) == "ray"
    monkeypatch.setenv(MIN_WORK_ENV, "soon")
    with pytest.raises(UsageError, match=MIN_WORK_ENV):
        Parallel("ray", workers=2).decide(2, 1.0)


def test_a_small_job_never_imports_ray():
    code = ("import sys, operator\n"
            "from ksynth.parallel import Parallel\n"
            "with Parallel('ray', workers=2) as par:\n"
            "    assert dict(par.imap(operator.neg, range(50))) == {i: -i for i in range(50)}\n"
            "print('ray' in sys.modules)\n")
    env = {k: v for k, v in os.environ.items() if k != MIN_WORK_ENV}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=os.path.dirname(os.path.dirname(ksynth.__file__)), timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_unreachable_cluster_fails_fast_in_one_line(monkeypatch):
    monkeypatch.setenv(MIN_WORK_ENV, "0")
    ray = pytest.importorskip("ray")
    if ray.is_initialized():
        pytest.skip("a Ray instance is already up in this process")
    with pytest.raises(KsynthError, match="could not join the Ray cluster at 127.0.0.1:1"):
        pmap(abs, [1, 2], backend="ray", address="127.0.0.1:1")
    assert not ray.is_initialized()


def test_ray_equals_serial(own_ray):
    items = list(range(40))
    serial = pmap(math.factorial, items)
    got = dict(own_ray.imap(math.factorial, items))             # auto chunk size (first item timed here)
    assert [got[i] for i in items] == serial
    got = dict(own_ray.imap(math.factorial, items, chunksize=7))
    assert [got[i] for i in items] == serial


def test_ray_workers_get_the_env(own_ray):
    names = ["OMP_NUM_THREADS", "HF_HUB_OFFLINE", "NUMBA_CACHE_DIR"]
    got = dict(own_ray.imap(os.getenv, names, chunksize=1))    # every item runs in a worker
    assert [got[i] for i in range(3)] == [worker_env()[k] for k in names]


def test_ray_errors_keep_their_type(own_ray):
    with pytest.raises(ValueError):
        list(own_ray.imap(int, ["1", "2", "x", "4"], chunksize=1))


def test_ray_workers_import_this_checkout(own_ray):
    import importlib.util

    got = list(own_ray.imap_where(importlib.util.find_spec, ["ksynth"] * 4, chunksize=1))
    assert {spec.origin for _, spec, _ in got} == {ksynth.__file__}   # the driver's ksynth
    for _, _, where in got:
        assert where["pid"] != os.getpid() and len(where["node"]) == 56   # a worker on a Ray node


def test_ray_streams_a_generator(own_ray):
    items = (k * k for k in range(100))           # never a list: a bounded window is submitted
    got = dict(own_ray.imap(operator.neg, items, chunksize=3, n_items=100))
    assert got == {k: -k * k for k in range(100)}


def test_the_driver_works_until_ray_answers(own_ray, monkeypatch):
    import time

    monkeypatch.setenv("KSYNTH_RAY_HIDE_START", "1")
    got = list(own_ray.imap_where(time.sleep, [0.1] * 30, chunksize=1))
    assert sorted(i for i, _, _ in got) == list(range(30))       # every item once
    assert any(where is not None for _, _, where in got)
    monkeypatch.setenv("KSYNTH_RAY_HIDE_START", "0")
    got = list(own_ray.imap_where(time.sleep, [0.01] * 10, chunksize=1))
    assert all(where is not None for _, _, where in got)          # all on Ray
