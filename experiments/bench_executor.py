"""Reference interpreter vs numba executor on sampled KT programs (issue 3's benchmark).

    python experiments/bench_executor.py            # 100,000 programs
    python experiments/bench_executor.py --n 20000  # quicker

Prints programs/s for: the reference interpreter, the numba kernel on one thread and on all of
numba's threads (outputs into preallocated buffers, lowering excluded and timed separately), the
early-exit target check, and the end-to-end run_batch (lower + run + Python lists). Cold compile
and warm start (kernels loaded from NUMBA_CACHE_DIR) are timed in fresh subprocesses. Timings are
the best of --repeats runs; the machine's load average is printed before and after because the
box may be shared. The last line is `speedup_vs_reference: <ratio>` for the single-thread kernel,
computed from CPU seconds (robust to other users' load; the wall-clock ratio is printed above it).
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("NUMBA_CACHE_DIR", str(REPO / ".numba_cache"))   # before numba loads

WARM = ("import time; t = time.perf_counter(); from ksynth.dsl import jit; jit.warm_up(); "
        "print(time.perf_counter() - t)")


def best_of(repeats: int, fn):
    """(best wall s, best CPU s of the calling thread, last result) over `repeats` calls.

    The thread's CPU time is exact for serial work and leaves out numba's worker threads."""
    wall, cpu, out = float("inf"), float("inf"), None
    for _ in range(repeats):
        t, c = time.perf_counter(), time.thread_time()
        out = fn()
        wall, cpu = min(wall, time.perf_counter() - t), min(cpu, time.thread_time() - c)
    return wall, cpu, out


def fresh_process(cache_dir: str) -> tuple[float, float, float]:
    """(whole process wall s, its CPU s, in-process import + warm_up wall s), new interpreter."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", WARM], env=env, cwd=REPO, check=True,
                          capture_output=True, text=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu, float(done.stdout.strip().splitlines()[-1])


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f} programs/s ({seconds * 1e6 / n:.2f} us/program)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="sampled programs in the batch")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ref-n", type=int, default=None,
                    help="programs timed on the reference (default: all of them)")
    ap.add_argument("--repeats", type=int, default=5, help="numba timings: best of this many")
    args = ap.parse_args()

    import numba

    print(f"command: {' '.join([Path(sys.executable).name] + sys.argv)}")
    print(f"machine: {os.cpu_count()} cpus, numba {numba.__version__}, "
          f"{numba.config.NUMBA_NUM_THREADS} numba threads; load average {os.getloadavg()}")

    # compile cost, in fresh interpreters: cold (empty cache) then warm (cache filled)
    with tempfile.TemporaryDirectory() as cold_dir:
        cold_wall, cold_cpu, cold_in = fresh_process(cold_dir)
    fresh_process(os.environ["NUMBA_CACHE_DIR"])          # make sure the real cache is filled
    warm_wall, warm_cpu, warm_in = min(fresh_process(os.environ["NUMBA_CACHE_DIR"])
                                       for _ in range(3))
    print(f"cold compile (empty cache, fresh process): {cold_wall:.2f} s wall, {cold_cpu:.2f} s "
          f"cpu; {cold_in:.2f} s of it in import + warm_up")
    print(f"warm start (cached kernels, fresh process): {warm_wall:.2f} s wall, {warm_cpu:.2f} s "
          f"cpu; {warm_in:.2f} s of it in import + warm_up")

    import numpy as np

    from ksynth.dsl import executor, interp, jit
    from ksynth.dsl.sample import sample

    jit.warm_up()
    t = time.perf_counter()
    samples = sample(args.n, args.seed)
    print(f"sampled {len(samples):,} programs in {time.perf_counter() - t:.1f} s "
          f"(mean output {np.mean([len(s.sequence) for s in samples]):.1f} values)")
    programs = [s.program for s in samples]

    t = time.perf_counter()
    batch = jit.lower(programs)
    lower_s = time.perf_counter() - t
    print(f"lower (Python, once per batch): {rate(len(programs), lower_s)}")

    ref_progs = programs[:args.ref_n] if args.ref_n else programs
    ref_wall, ref_cpu, ref_out = best_of(1, lambda: [interp.try_run(p) for p in ref_progs])
    ref_rate = len(ref_progs) / ref_wall
    print(f"reference interpreter: {rate(len(ref_progs), ref_wall)}, cpu {ref_cpu:.2f} s "
          f"({ref_cpu * 1e6 / len(ref_progs):.1f} us/program)")

    n = len(batch)
    one_wall, one_cpu, (status, ptr, flat) = best_of(args.repeats,
                                                     lambda: jit.run_flat(batch, threads=1))
    wrong = sum(flat[ptr[i]:ptr[i + 1]].tolist() != s.sequence for i, s in enumerate(samples))
    assert wrong == 0 and ref_out == [s.sequence for s in samples[:len(ref_progs)]]
    print(f"numba 1 thread: {rate(n, one_wall)}, cpu {one_cpu:.3f} s; outputs equal the "
          f"reference for all {n:,}")

    threads = numba.config.NUMBA_NUM_THREADS
    usage = resource.getrusage(resource.RUSAGE_SELF)
    t = time.perf_counter()
    all_wall, _, _ = best_of(args.repeats, lambda: jit.run_flat(batch, threads=threads))
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_SELF)
    cores = (after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime) / wall
    print(f"numba {threads} threads: {rate(n, all_wall)}; scaling {one_wall / all_wall:.2f}x over "
          f"1 thread; the process got {cores:.2f} cores of CPU while it ran")

    target = samples[0].sequence
    m1, _, hits = best_of(args.repeats, lambda: jit.match(batch, target, threads=1))
    mall, _, _ = best_of(args.repeats, lambda: jit.match(batch, target, threads=threads))
    print(f"target check (early exit), 1 thread: {rate(n, m1)}; {threads} threads: "
          f"{rate(n, mall)}; {int((hits == jit.OK).sum())} match")

    e2e, _, _ = best_of(1, lambda: executor.run_batch(programs, threads=1))
    print(f"end to end run_batch (lower + run + lists), 1 thread: {rate(n, e2e)}")

    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024    # Linux: KiB
    print(f"peak memory (maxrss): {peak_mib:.0f} MiB; load average {os.getloadavg()}")
    ref_cpu_per = ref_cpu / len(ref_progs)
    print(f"speedup_vs_reference_wall: {(n / one_wall) / ref_rate:.1f}")
    print(f"all_cores_scaling: {one_wall / all_wall:.2f}")
    # CPU time: on a shared machine each phase gets a different share of a core; CPU seconds
    # measure the work itself (both paths are single-threaded here)
    print(f"speedup_vs_reference: {ref_cpu_per / (one_cpu / n):.1f}")


if __name__ == "__main__":
    main()
