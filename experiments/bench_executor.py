"""Reference interpreter vs numba executor on sampled KT programs (issue 3's benchmark).

    python experiments/bench_executor.py            # 100,000 programs
    python experiments/bench_executor.py --n 20000  # quicker

Prints programs/s for: the reference interpreter; `jit.run` on one thread and on all of numba's
threads, outputs written into preallocated buffers (a reused jit.Workspace; lowering excluded and
timed separately); `run_flat` with fresh arrays and compaction; the early-exit target check; and
the end-to-end run_batch (lower + run + Python lists). Cold compile and warm start (kernels loaded
from NUMBA_CACHE_DIR) are timed in fresh interpreters, as the seconds from launch until the kernels
are ready. The 1-thread and all-thread variants run in alternation, --repeats rounds, so a change
in the machine's load hits both alike; scaling is reported best-to-best and median-to-median.
The last line is `speedup_vs_reference: <ratio>` for the single-thread kernel, computed from CPU
seconds (robust to other users' load; the wall-clock ratio is printed above it).
"""
from __future__ import annotations

import argparse
import importlib.util
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
        "print(time.perf_counter() - t, time.time())")


def best_of(repeats: int, fn):
    """(best wall s, best CPU s of the calling thread, last result) over `repeats` calls.

    The thread's CPU time is exact for serial work and leaves out numba's worker threads."""
    wall, cpu, out = float("inf"), float("inf"), None
    for _ in range(repeats):
        t, c = time.perf_counter(), time.thread_time()
        out = fn()
        wall, cpu = min(wall, time.perf_counter() - t), min(cpu, time.thread_time() - c)
    return wall, cpu, out


def fresh_process(cache_dir: str) -> tuple[float, float, float, float]:
    """A new interpreter that imports the executor and loads its kernels: (seconds from launch
    until the kernels are ready, whole process wall s incl. interpreter exit, its CPU s, in-process
    import + warm_up s)."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    launched, t = time.time(), time.perf_counter()
    done = subprocess.run([sys.executable, "-c", WARM], env=env, cwd=REPO, check=True,
                          capture_output=True, text=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    inside, ready_at = (float(v) for v in done.stdout.split())
    return ready_at - launched, wall, cpu, inside


def alternate(repeats: int, fns: dict) -> dict:
    """{name: sorted wall seconds}: the functions run in turn, `repeats` rounds, so that a change
    in the machine's load hits every variant alike."""
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return {name: sorted(v) for name, v in times.items()}


def median(v: list) -> float:
    return v[len(v) // 2]


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
        cold = fresh_process(cold_dir)
    fresh_process(os.environ["NUMBA_CACHE_DIR"])          # make sure the real cache is filled
    warm = min(fresh_process(os.environ["NUMBA_CACHE_DIR"]) for _ in range(3))
    print(f"cold compile (empty cache, fresh process): ready {cold[0]:.2f} s after launch, "
          f"{cold[2]:.2f} s cpu")
    print(f"warm start (cached kernels, fresh process): ready {warm[0]:.2f} s after launch "
          f"({warm[3]:.2f} s of it import + warm_up; the process, exit included, took {warm[1]:.2f} s)")
    if importlib.util.find_spec("scipy") is not None:
        print("  note: scipy is installed; numba imports it (~0.6 s) when it loads its first "
              "kernel. ksynth does not need it.")

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
    threads = numba.config.NUMBA_NUM_THREADS
    one, many = jit.Workspace(), jit.Workspace()        # preallocated output buffers, reused
    for th, work in ((1, one), (threads, many)):
        out = jit.run(batch, threads=th, work=work)
        assert all(out[i].tolist() == s.sequence for i, s in enumerate(samples))
    assert ref_out == [s.sequence for s in samples[:len(ref_progs)]]
    print(f"numba outputs equal the reference for all {n:,} programs (1 and {threads} threads)")

    one_wall, one_cpu, _ = best_of(args.repeats, lambda: jit.run(batch, threads=1, work=one))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    t = time.perf_counter()
    runs = alternate(args.repeats, {
        "1": lambda: jit.run(batch, threads=1, work=one),
        "all": lambda: jit.run(batch, threads=threads, work=many)})
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_SELF)
    cores = (after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime) / wall
    best_scaling = runs["1"][0] / runs["all"][0]
    median_scaling = median(runs["1"]) / median(runs["all"])
    print(f"numba 1 thread (outputs into preallocated buffers): {rate(n, runs['1'][0])}, "
          f"median {median(runs['1']) * 1e3:.1f} ms")
    print(f"numba {threads} threads (same): {rate(n, runs['all'][0])}, median "
          f"{median(runs['all']) * 1e3:.1f} ms; scaling {best_scaling:.2f}x best-to-best, "
          f"{median_scaling:.2f}x median-to-median; the process got {cores:.2f} cores of CPU")

    flat = alternate(args.repeats, {
        "1": lambda: jit.run_flat(batch, threads=1),
        "all": lambda: jit.run_flat(batch, threads=threads)})
    print(f"run_flat (fresh arrays each call, outputs compacted into one array): 1 thread "
          f"{rate(n, flat['1'][0])}; {threads} threads {rate(n, flat['all'][0])} "
          f"({flat['1'][0] / flat['all'][0]:.2f}x)")

    target = samples[0].sequence
    checks = alternate(args.repeats, {
        "1": lambda: jit.match(batch, target, threads=1),
        "all": lambda: jit.match(batch, target, threads=threads)})
    hits = jit.match(batch, target, threads=1)
    print(f"target check (early exit), 1 thread: {rate(n, checks['1'][0])}; {threads} threads: "
          f"{rate(n, checks['all'][0])} ({checks['1'][0] / checks['all'][0]:.2f}x); "
          f"{int((hits == jit.OK).sum())} match")

    e2e, _, _ = best_of(1, lambda: executor.run_batch(programs, threads=1))
    print(f"end to end run_batch (lower + run + lists), 1 thread: {rate(n, e2e)}")

    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024    # Linux: KiB
    print(f"peak memory (maxrss): {peak_mib:.0f} MiB; workspaces {one.nbytes / 2**20:.0f} + "
          f"{many.nbytes / 2**20:.0f} MiB; load average {os.getloadavg()}")
    ref_cpu_per = ref_cpu / len(ref_progs)
    print(f"warm_start_seconds: {warm[0]:.2f}")
    print(f"all_cores_scaling: {median_scaling:.2f}")
    print(f"speedup_vs_reference_wall: {(n / runs['1'][0]) / ref_rate:.1f}")
    # CPU time: on a shared machine each phase gets a different share of a core; CPU seconds
    # measure the work itself (both paths are single-threaded here)
    print(f"speedup_vs_reference: {ref_cpu_per / (one_cpu / n):.1f}")


if __name__ == "__main__":
    main()
