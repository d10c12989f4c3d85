"""Scaling of `ksynth solve` over Ray workers, Ray's own costs, and a projection to cluster scale.

    python experiments/bench_scaling.py --n 200                       # 1 and 2 workers (more if the machine has them)
    python experiments/bench_scaling.py --n 200 --ray-address HOST:PORT --workers 1,8,64

One command measures, in order:
  1. Ray start-up (a local ray.init + ray.shutdown, or joining --ray-address) and the per-task
     overhead (PER_TASK_PROBES trivial tasks, one item each, through ksynth.parallel).
  2. The same solve workload (--n synthetic sequences, seed --seed, budget --budget seconds) run
     by `ksynth solve --workers W` for every W: wall seconds (the whole command, Ray start-up
     included), items/s, speed-up over 1 worker, and whether each row's program equals the
     1-worker program. Ray's start-up is in the wall time, partly hidden: ksynth.parallel runs
     rows in the driver while Ray starts and its workers warm up. The search is deadline-based, so programs can only match when every search
     finishes inside its budget: the comparison runs at a GENEROUS TIME BUDGET (not a node
     budget; Budget.nodes is only checked between strategies) and the rows whose search came
     within DEADLINE_SHARE of the budget are counted separately, since a loaded machine may cut
     those differently.
  3. A projection from the measured per-item search cost c (mean row seconds at 1 worker), the
     per-task overhead o and the start-up s: T(P) = s + N (c + o) / (P e), with e the parallel
     efficiency (wall speed-up / W) measured at the largest W (capped at 1; assumed to hold at
     8-512 cores, which nothing here measures), for the
     full 1 MB benchmark (every chunk of the five natural KT files, and --n synthetic items) and
     the 1 GB DNA and text sets (8,388,608 chunks each), on 1, 8, 64 and 512 cores, one search
     config per item (`ksynth bench` runs two by default, kt and bits: twice these).
     Natural chunks are not synthetic draws: their cost is taken as the whole budget (most run
     to their deadline), an upper bound stated in the output.

Needs a quiet machine for the speed-up: another job on the same cores takes its share. Results:
`--out` (default runs/scaling/) gets scaling.json and the solve rows of every run.
"""
from __future__ import annotations

import argparse
import json
import operator
import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PER_TASK_PROBES = 1000           # trivial tasks timed for the per-task overhead
DEADLINE_SHARE = 0.9             # a row with seconds >= this x budget may have been cut by its deadline
PROJECT_CORES = (1, 8, 64, 512)
GB_CHUNKS = (1 << 30) // 128     # 128-byte chunks in a 1 GiB file
KT_FILES = {"text": 1004232, "dna": 2666667, "audio_8bit": 1003280, "audio_16bit": 1015360,
            "audio_mfcc": 1000960}   # bytes (../shared/kt-data/README.md)


def default_workers() -> list[int]:
    cores = os.cpu_count() or 1
    ws, w = [1], 2
    while w <= cores:
        ws.append(w)
        w *= 2
    return ws if len(ws) > 1 else [1, 2]


def ray_costs(workers: int, address: str | None) -> dict:
    """Seconds to start (or join) and shut down Ray, and seconds per trivial task."""
    os.environ["KSYNTH_RAY_MIN_WORK_S"] = "0"
    os.environ["KSYNTH_RAY_HIDE_START"] = "0"       # every probe task on Ray, none in the driver
    from ksynth.parallel import Parallel

    t0 = time.perf_counter()
    par = Parallel("ray", workers=workers, address=address)
    par.start()
    start_s = time.perf_counter() - t0
    list(par.imap(operator.neg, range(2 * workers), chunksize=1))      # workers up and warm
    t0 = time.perf_counter()
    list(par.imap(operator.neg, range(PER_TASK_PROBES), chunksize=1))
    per_task_s = (time.perf_counter() - t0) / PER_TASK_PROBES
    t0 = time.perf_counter()
    par.close()
    stop_s = time.perf_counter() - t0
    return {"start_s": round(start_s, 3), "shutdown_s": round(stop_s, 3),
            "per_task_ms": round(per_task_s * 1e3, 3), "workers": workers, "address": address}


def solve_run(inp: Path, out: Path, budget: float, workers: int, address: str | None) -> dict:
    cmd = [sys.executable, "-m", "ksynth", "solve", "--input", str(inp), "--output", str(out), "-f",
           "--budget", str(budget), "--workers", str(workers)]
    if address and workers > 1:
        cmd += ["--ray-address", address]
    env = {k: v for k, v in os.environ.items() if k != "KSYNTH_RAY_HIDE_START"}   # as users run it
    env.update(PYTHONPATH=str(REPO), KSYNTH_RAY_MIN_WORK_S="0")      # W > 1 always on Ray
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"solve --workers {workers} failed:\n{done.stderr[-3000:]}")
    started = re.search(r"Ray (?:started|joined) in ([0-9.]+) s", done.stderr)
    rows = sorted((json.loads(line) for line in out.read_text().splitlines()), key=lambda r: r["index"])
    return {"workers": workers, "wall_s": round(wall, 3), "items_per_s": round(len(rows) / wall, 3),
            "ray_start_s": float(started.group(1)) if started else None,
            "search_s": round(sum(r["seconds"] for r in rows), 3),
            "nodes": len({r["node"] for r in rows if "node" in r}),
            "in_process": sum("node" not in r for r in rows), "rows": rows}


def projection(c: float, o: float, s: float, e: float, budget: float, n_synth: int) -> dict:
    natural = sum(-(-b // 128) for b in KT_FILES.values())
    sets = {
        f"full 1 MB benchmark ({natural:,} natural chunks at <= {budget} s + {n_synth} synthetic at {c:.3f} s)":
            natural * (budget + o) + n_synth * (c + o),
        f"1 GB DNA ({GB_CHUNKS:,} chunks at <= {budget} s)": GB_CHUNKS * (budget + o),
        f"1 GB text ({GB_CHUNKS:,} chunks at <= {budget} s)": GB_CHUNKS * (budget + o),
        f"1 GB of synthetic-like items ({GB_CHUNKS:,} at the measured {c:.3f} s)": GB_CHUNKS * (c + o),
    }
    return {name: {str(p): round(s + work / (p * (e if p > 1 else 1.0)), 1) for p in PROJECT_CORES}
            for name, work in sets.items()}


def _hours(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=200, help="synthetic sequences to solve [200]")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--budget", type=float, default=4.0,
                    help="seconds per sequence: generous, so searches end before their deadline [4.0]")
    ap.add_argument("--workers", default=None, help="comma-separated worker counts [1,2,4.. up to the cores]")
    ap.add_argument("--ray-address", default=None, help="run on this cluster instead of a local instance")
    ap.add_argument("--out", default=str(REPO / "runs" / "scaling"))
    args = ap.parse_args(argv)
    workers = [int(w) for w in args.workers.split(",")] if args.workers else default_workers()
    if workers[0] != 1:
        workers = [1] + workers
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from ksynth.dsl.sample import sample

    inp = out / "input.jsonl"
    inp.write_text("".join(json.dumps({"sequence": s.sequence}) + "\n" for s in sample(args.n, args.seed)))
    print(f"workload: ksynth solve on {args.n} synthetic sequences (seed {args.seed}), "
          f"budget {args.budget} s each; machine: {os.cpu_count()} cores", flush=True)

    costs = ray_costs(max(workers), args.ray_address)
    print(f"Ray: {'join' if args.ray_address else 'start-up'} {costs['start_s']:.2f} s, shutdown "
          f"{costs['shutdown_s']:.2f} s, per task {costs['per_task_ms']:.2f} ms "
          f"({PER_TASK_PROBES} one-item tasks on {max(workers)} workers)", flush=True)

    runs = []
    for w in workers:
        r = solve_run(inp, out / f"rows-w{w}.jsonl", args.budget, w, args.ray_address)
        runs.append(r)
        print(f"  {w:>3} workers: {r['wall_s']:8.2f} s wall, {r['items_per_s']:6.2f} items/s"
              + (f", Ray start-up {r['ray_start_s']:.1f} s" if r["ray_start_s"] is not None else "")
              + (f", {r['nodes']} node(s), {r['in_process']} rows run by the driver while Ray "
                 f"started" if w > 1 else ""), flush=True)

    base = runs[0]
    by_index = {row["index"]: row for row in base["rows"]}
    summary = []
    for r in runs:
        same = sum(row["program"] == by_index[row["index"]]["program"] for row in r["rows"])
        cut = {row["index"] for row in r["rows"] + base["rows"]
               if row["seconds"] >= DEADLINE_SHARE * args.budget}
        same_uncut = sum(row["program"] == by_index[row["index"]]["program"] for row in r["rows"]
                         if row["index"] not in cut)
        summary.append({"workers": r["workers"], "wall_s": r["wall_s"], "items_per_s": r["items_per_s"],
                        "speedup": round(base["wall_s"] / r["wall_s"], 3),
                        "ray_start_s": r["ray_start_s"], "nodes": r["nodes"],
                        "identical_programs": same, "near_deadline": len(cut),
                        "identical_of_the_rest": f"{same_uncut}/{args.n - len(cut)}",
                        "all_verified": all(row["verified"] for row in r["rows"])})

    c = base["search_s"] / args.n
    top = summary[-1]
    eff = min(1.0, top["speedup"] / top["workers"]) if top["workers"] > 1 else 1.0
    proj = projection(c, costs["per_task_ms"] / 1e3, costs["start_s"], eff, args.budget, args.n)

    print("\n| workers | wall s | items/s | speed-up | identical programs | near deadline |")
    print("|---|---|---|---|---|---|")
    for s in summary:
        print(f"| {s['workers']} | {s['wall_s']:.1f} | {s['items_per_s']:.2f} | {s['speedup']:.2f}x | "
              f"{s['identical_programs']}/{args.n} (rest "
              f"{s['identical_of_the_rest']}) | {s['near_deadline']} |")
    print(f"\nper item: search {c:.3f} s (1 worker), overhead {costs['per_task_ms']:.2f} ms per task; "
          f"efficiency at {top['workers']} workers {eff:.2f} (assumed at every core count)")
    print("\nprojected wall time, one search config per item (bench's default kt+bits: x2):")
    print("| set | " + " | ".join(f"{p} cores" for p in PROJECT_CORES) + " |")
    print("|---|" + "---|" * len(PROJECT_CORES))
    for name, row in proj.items():
        print(f"| {name} | " + " | ".join(_hours(row[str(p)]) for p in PROJECT_CORES) + " |")

    result = {"n": args.n, "seed": args.seed, "budget_s": args.budget, "cores": os.cpu_count(),
              "budget_kind": "time (generous), not nodes", "ray": costs, "runs": summary,
              "per_item_search_s": round(c, 4), "efficiency": round(eff, 3), "projection_s": proj,
              "command": " ".join([Path(sys.argv[0]).name] + (argv if argv is not None else sys.argv[1:]))}
    (out / "scaling.json").write_text(json.dumps(result, indent=1) + "\n")
    print(f"\nresults: {out / 'scaling.json'}")
    return result


if __name__ == "__main__":
    main()
