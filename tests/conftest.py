"""Shared test setup: quiet, offline, single-threaded defaults; hypothesis profiles; KT data path.

KSYNTH_SLOW=1 selects the "slow" hypothesis profile and runs tests marked `slow`.
"""
from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Before anything imports torch/numba/ray/transformers (setdefault: the caller's values win).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_CACHE_DIR", str(REPO / ".numba_cache"))
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("KSYNTH_STRICT", "1")          # a failing strategy raises, not warns

import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

SLOW = os.environ.get("KSYNTH_SLOW") == "1"

settings.register_profile("fast", max_examples=50, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("slow", max_examples=2000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("slow" if SLOW else "fast")


def pytest_collection_modifyitems(config, items):
    if SLOW:
        return
    skip = pytest.mark.skip(reason="slow: set KSYNTH_SLOW=1 to run")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def kt_data_dir() -> Path:
    """The KT .bin files (KSYNTH_DATA_DIR or ../shared/kt-data); skips the test when absent."""
    path = Path(os.environ.get("KSYNTH_DATA_DIR", REPO.parent / "shared" / "kt-data"))
    if not (path / "text.bin").is_file():
        pytest.skip(f"KT data not found in {path} (set KSYNTH_DATA_DIR)")
    return path


@pytest.fixture(scope="module")
def own_ray(request):
    """A local Ray instance on 2 workers, owned by one test module and shut down after it (custom
    resources from the module's RAY_RESOURCES). Its jobs are tiny: Ray on purpose (break-even 0),
    every item in a worker (no in-process helper while Ray warms up)."""
    pytest.importorskip("ray")
    from ksynth.parallel import HIDE_START_ENV, MIN_WORK_ENV, Parallel

    old = {k: os.environ.get(k) for k in (MIN_WORK_ENV, HIDE_START_ENV)}
    os.environ.update({MIN_WORK_ENV: "0", HIDE_START_ENV: "0"})
    par = Parallel("ray", workers=2, resources=getattr(request.module, "RAY_RESOURCES", None))
    try:
        par.start()
    except Exception as e:                       # no room for a Ray instance here
        par.close()
        pytest.skip(f"ray failed to start: {e}")
    yield par
    par.close()
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    import ray

    assert not ray.is_initialized()              # it shut down what it started


@pytest.fixture(scope="session")
def experiment_script():
    """Load experiments/NAME.py as a module (the scripts are not a package)."""
    import importlib.util

    def load(name: str):
        spec = importlib.util.spec_from_file_location(name, REPO / "experiments" / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod

    return load
