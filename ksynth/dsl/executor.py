"""Runs programs through one of two executors: `reference` (interp.py, the spec) or `numba` (jit.py).

KSYNTH_EXECUTOR=reference|numba picks one; the default is numba when numba is installed. The module
attribute `backend` says which is in use. Both give the same outputs and reject the same programs
(tests/test_jit.py); the numba path re-runs a rejected program through the reference when it needs
the ExecError message, so errors read the same under either backend.

numba is imported on first use, not here: importing this module stays cheap.
"""
from __future__ import annotations

import importlib.util
import os

import numpy as np

from ksynth.dsl import interp
from ksynth.dsl.interp import DEFAULT_MAX_LEN
from ksynth.errors import UsageError

BACKENDS = ("reference", "numba")


def _choose() -> str:
    want = os.environ.get("KSYNTH_EXECUTOR", "").strip().lower()
    if want and want not in BACKENDS:
        raise UsageError(f"KSYNTH_EXECUTOR must be one of {', '.join(BACKENDS)}, got {want!r}")
    have_numba = importlib.util.find_spec("numba") is not None
    if want == "numba" and not have_numba:
        raise UsageError("KSYNTH_EXECUTOR=numba, but numba is not installed "
                         "(pip install numba, or set KSYNTH_EXECUTOR=reference)")
    return want or ("numba" if have_numba else "reference")


backend: str = _choose()


def _jit():
    from ksynth.dsl import jit          # imports numba (~0.6 s) and loads cached kernels on use

    return jit


def lower(programs):
    """Programs as a jit.Batch of flat int64 arrays, for callers that reuse one batch."""
    return _jit().lower(list(programs))


def _programs_of(batch_or_programs):
    """(Programs, Batch): whichever form the caller gave, plus the other one when needed."""
    jit = _jit()
    if isinstance(batch_or_programs, jit.Batch):
        return None, batch_or_programs
    return list(batch_or_programs), None


# ---- one program ------------------------------------------------------------------------------
def run(program, max_len: int = DEFAULT_MAX_LEN) -> list[int]:
    """The program's output list; raises ExecError (as interp.run does) when it is rejected."""
    if backend == "reference":
        return interp.run(program, max_len)
    out = run_batch([program], max_len)[0]
    if out is None:
        interp.run(program, max_len)        # raises the reference's ExecError
        raise RuntimeError(f"numba executor rejected a program the reference accepts:\n{program}")
    return out


def try_run(program, max_len: int = DEFAULT_MAX_LEN) -> list[int] | None:
    """The output, or None when the program is rejected."""
    if backend == "reference":
        return interp.try_run(program, max_len)
    return run_batch([program], max_len)[0]


# ---- batches ----------------------------------------------------------------------------------
def run_batch(programs, max_len: int = DEFAULT_MAX_LEN, *,
              threads: int | None = None) -> list[list[int] | None]:
    """Each program's output, or None where it is rejected. `programs` may be a jit.Batch.

    threads: numba threads (None = all of numba's threads for large batches, 1 = serial).
    """
    if backend == "reference":
        progs = programs if not _is_batch(programs) else _jit().unlower(programs)
        return [interp.try_run(p, max_len) for p in progs]
    jit = _jit()
    progs, batch = _programs_of(programs)
    if batch is None:
        batch = jit.lower(progs)
    status, ptr, flat = jit.run_flat(batch, max_len, threads=threads)
    values = flat.tolist()
    bounds = ptr.tolist()
    out: list[list[int] | None] = [values[bounds[p]:bounds[p + 1]] if s == jit.OK else None
                                   for p, s in enumerate(status.tolist())]
    for p in np.flatnonzero(status == jit.UNSUPPORTED):     # an op without a kernel body
        prog = progs[p] if progs is not None else jit.unlower(_slice(batch, p))[0]
        out[p] = interp.try_run(prog, max_len)
    return out


def matches(programs, target, max_len: int = DEFAULT_MAX_LEN, *, prefix: bool = False,
            threads: int | None = None) -> np.ndarray:
    """Bool array: program i's output equals `target` (prefix=True: equals its first
    len(output) elements). Rejected programs never match. `programs` may be a jit.Batch.

    This is the search's hot path: under numba each program stops at its output line as soon as
    that line disagrees with the target.
    """
    target = list(target)
    if backend == "reference":
        progs = programs if not _is_batch(programs) else _jit().unlower(programs)
        return np.array([_agrees(interp.try_run(p, max_len), target, prefix) for p in progs],
                        dtype=bool)
    jit = _jit()
    progs, batch = _programs_of(programs)
    if batch is None:
        batch = jit.lower(progs)
    if any(not -interp.VALUE_LIMIT < v < interp.VALUE_LIMIT for v in target):
        # no program can print such a value; keep only the prefix a program could match
        cut = next(i for i, v in enumerate(target) if not -interp.VALUE_LIMIT < v < interp.VALUE_LIMIT)
        if not prefix:
            return np.zeros(len(batch), dtype=bool)
        target = target[:cut]
    status = jit.match(batch, np.array(target, dtype=np.int64), max_len, prefix=prefix,
                       threads=threads)
    result = status == jit.OK
    for p in np.flatnonzero(status == jit.UNSUPPORTED):
        prog = progs[p] if progs is not None else jit.unlower(_slice(batch, p))[0]
        result[p] = _agrees(interp.try_run(prog, max_len), target, prefix)
    return result


def _agrees(out, target: list, prefix: bool) -> bool:
    if out is None:
        return False
    return out == target[:len(out)] if prefix else out == target


def _is_batch(obj) -> bool:
    jit_mod = _loaded_jit()
    return jit_mod is not None and isinstance(obj, jit_mod.Batch)


def _loaded_jit():
    """jit.py if something already imported it (a Batch can only exist then), else None."""
    import sys

    return sys.modules.get("ksynth.dsl.jit")


def _slice(batch, p: int):
    """Program p of a batch as a one-program batch (for the reference fallback)."""
    jit = _jit()
    lo, hi = int(batch.starts[p]), int(batch.starts[p + 1])
    return jit.Batch(batch.lines[lo:hi], np.array([0, hi - lo], np.int64),
                     batch.outputs[p:p + 1], batch.pool)
