"""Public name of the executor switch: `ksynth.executor.backend` is "reference" or "numba".

Everything here is ksynth.dsl.executor, forwarded attribute by attribute so the two never differ
(run, try_run, run_batch, matches, lower, backend; KSYNTH_EXECUTOR picks the backend).
"""
from __future__ import annotations

from ksynth.dsl import executor as _impl


def __getattr__(name: str):
    return getattr(_impl, name)


def __dir__() -> list[str]:
    return [n for n in dir(_impl) if not n.startswith("_")]
