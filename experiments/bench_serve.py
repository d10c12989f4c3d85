"""Prior requests per second: the LM policy in process (the CPU path) vs served (issue 13).

    python experiments/bench_serve.py [--targets 64] [--workers 2] [--budget 1.8] [--out DIR]

1. A real served solve: `--targets` synthetic draws (seed 777: an evaluation seed, excluded from
   the policy's training data, lm/data.py) searched by `--strategies` (default beam,mcts,seqcoder: every strategy that asks the LM)
   on a local Ray instance of `--workers` workers, the shipped LM served by ksynth.serve (a GPU
   actor when there is a GPU, else on the `gpu_standin` custom resource: the same code path; the
   wiring of lm_policy.serving_for, with a model that also records every request it answers).
   Its requests and the batch sizes it reached are the search's.
2. The CPU path: those requests replayed in process, target by target, one request at a time as
   a search worker makes them (LMPolicy's PolicyModel, CPU, one thread): requests per second.
3. Served at the search's batch sizes: the same requests replayed through a fresh actor in
   batches whose sizes follow the histogram of step 1 (each batch holds one request of each of
   that many different targets, as concurrent workers would send them).
4. The model call itself, batch size 1..64 (in process, no Ray): b workers' request streams
   answered b at a time; then the same for the recognitions alone (what mcts and beam ask of the
   model: a greedy decode per target, where a sample request already decodes 15 rows at once).
Replays drop the requests' deadlines (a deadline passed long ago would end a job at once), so
every row does the same work, and each model answers a few warm-up requests first. Rates are
given per wall second and per CPU second of the thread that ran the model (the actor's, for the
served row): on a shared machine the second is the steady one; a GPU's work is wall time. Where
torch.cuda.is_available(), steps 3 and 4 run on the GPU too and the served row's wall ratio to
the CPU path is set against the issue's >= 10x target; without a GPU this says so plainly.
Prints a table; writes DIR/bench_serve.json.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SEED = 777                      # the draws' seed: one of lm/data.py's EVAL_SEEDS (never trained on)
SWEEP = (1, 2, 4, 8, 16, 32, 64)
TARGET_RATIO = 10.0             # issue 13: the GPU actor >= 10x the CPU path's requests per second

from ksynth.lm.service import PolicyModel  # noqa: E402


class RecordingModel(PolicyModel):
    """The served model, keeping every request it answers (pickled by value into the actor:
    this script is __main__)."""

    def __init__(self, model):
        super().__init__(model)
        self.seen: list = []

    @classmethod
    def load(cls, folder):
        from ksynth.lm import model as lm_model

        return cls(lm_model.load(folder))

    def __call__(self, requests):
        self.seen += requests
        return super().__call__(requests)

    def stats(self):
        return {**super().stats(), "seen": self.seen}


def no_deadline(r):
    return r._replace(until=None) if hasattr(r, "until") else r


def streams_of(requests) -> list[list]:
    """The requests grouped by target, each group in arrival order (one search worker's stream
    per target), groups in order of first arrival."""
    by = defaultdict(list)
    for r in requests:
        by[r.target].append(no_deadline(r))
    return list(by.values())


def replay(answer, streams: list[list], sizes: list[int]) -> tuple[int, float, float, list[int]]:
    """(requests, wall seconds, this thread's CPU seconds, batch sizes sent): `answer(batch)` over
    the streams, each batch one request of each of `size` different streams (sizes cycled), as
    that many workers would."""
    queue = [list(s) for s in streams]
    active: list[list] = []
    n, sent, k = 0, [], 0
    t0, c0 = time.perf_counter(), time.thread_time()
    while queue or active:
        want = sizes[k % len(sizes)]
        k += 1
        while len(active) < want and queue:
            active.append(queue.pop(0))
        batch = [s.pop(0) for s in active[:want]]
        active = [s for s in active if s]
        answer(batch)
        n += len(batch)
        sent.append(len(batch))
    return n, time.perf_counter() - t0, time.thread_time() - c0, sent


def warm(answer) -> None:
    """A few requests on other targets first: a model's first calls pay one-off costs (allocator,
    kernel selection) that are no part of its rate."""
    from ksynth.dsl.sample import sample
    from ksynth.lm.service import BeamSearch, Recognise, Sample

    for d in sample(3, SEED + 1):
        t = tuple(d.sequence)
        answer([Recognise(t), Sample(t, 4, 1.0, 0, None), BeamSearch(t, 2, None)])


def histogram_sizes(hist: dict) -> list[int]:
    """A cycle of batch sizes in the histogram's proportions (at most 64 entries)."""
    total = sum(hist.values())
    out = []
    for size, count in sorted(hist.items()):
        out += [int(size)] * max(1, round(64 * count / total))
    return out


def solve_served(par, args, log) -> tuple[dict, list]:
    """Step 1: (the served model's stats, the rows)."""
    from ksynth.cli.solve import config_fingerprint, solve_row
    from ksynth.config import Budget, SearchConfig
    from ksynth.dsl.sample import sample
    from ksynth.lm import model as lm_model
    from ksynth.search.lm_policy import ServedPolicy, WithPolicies
    from ksynth.serve import serve

    cfg = SearchConfig(strategies=tuple(args.strategies.split(",")), policy="default",
                       budget=Budget(seconds=args.budget))
    sha = config_fingerprint(cfg, True)
    items = [(i, {"sequence": d.sequence}, cfg.to_dict(), True, sha)
             for i, d in enumerate(sample(args.targets, SEED))]
    server = serve(functools.partial(RecordingModel.load, str(lm_model.DEFAULT_CHECKPOINT)), log=log,
                   name="policy default")
    server.stats()                                    # loaded before any search starts
    fn = WithPolicies(solve_row, {"default": ServedPolicy(server.client, server.where)})
    t0 = time.perf_counter()
    rows = [row for _, row in par.imap(fn, items, chunksize=1, item_seconds=args.budget)]
    log(f"served solve: {len(rows)} targets in {time.perf_counter() - t0:.1f} s on {args.workers} workers")
    stats = server.close()
    return stats, rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--targets", type=int, default=64, help="draws searched (the sweep's streams)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--budget", type=float, default=1.8, help="search seconds per target (step 1)")
    ap.add_argument("--strategies", default="beam,mcts,seqcoder")
    ap.add_argument("--sweep", default=",".join(map(str, SWEEP)))
    ap.add_argument("--out", default=str(REPO / "runs" / "serve"))
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("KSYNTH_RAY_MIN_WORK_S", "0")       # Ray on purpose, whatever the size
    import torch

    from ksynth.bench.harness import git_commit
    from ksynth.lm import model as lm_model
    from ksynth.parallel import Parallel, log_stderr
    from ksynth.serve import STANDIN_RESOURCE, serve

    torch.set_num_threads(1)
    gpu = torch.cuda.is_available()
    log = log_stderr
    folder = str(lm_model.DEFAULT_CHECKPOINT)
    sweep = [int(b) for b in args.sweep.split(",")]
    report = {"command": " ".join([Path(sys.argv[0]).name] + sys.argv[1:]), "gpu": gpu,
              "targets": args.targets, "workers": args.workers, "strategies": args.strategies,
              "budget_s": args.budget, "commit": git_commit()}
    rows = []     # (path, batch, requests, wall s, CPU s of the model's thread, row compared with)

    with Parallel("ray", workers=args.workers, log=log,
                  resources=None if gpu else {STANDIN_RESOURCE: 1}) as par:
        par.start()
        stats, solved = solve_served(par, args, log)
        seen = stats["model"]["seen"]
        hist = {int(k): v for k, v in stats["sizes"].items()}
        kinds = stats["model"]["requests"]
        streams = streams_of(seen)
        report.update(search_batch_sizes=hist, search_mean_batch=stats["mean_batch"],
                      request_kinds=kinds, requests=len(seen),
                      search_winners=dict(Counter(r["strategy"] for r in solved)))
        log(f"the search's requests: {len(seen)} ({kinds}); batch sizes {hist}")

        # 2. the CPU path: one request at a time, in process, one CPU thread
        cpu_model = PolicyModel(lm_model.load(folder, "cpu"))
        warm(cpu_model)
        n, wall, cpu, _ = replay(cpu_model, streams, [1])
        rows.append(("CPU path: in process, one request at a time", "1", n, wall, cpu, 0))

        # 3. served at the search's batch sizes (a fresh actor: nothing cached)
        server = serve(functools.partial(PolicyModel.load, folder), log=log, name="policy default")
        warm(server.client)
        before = server.stats()["model"]["cpu_s"]
        n, wall, _, sent = replay(server.client, streams, histogram_sizes(hist))
        actor = server.close()
        actor["model"]["cpu_s"] -= before
        where = "GPU actor" if gpu else "CPU stand-in actor"
        rows.append((f"served: {where}, the search's batch sizes", f"mean {n / len(sent):.2f}", n,
                     wall, actor["model"]["cpu_s"], 0))
        report["served_where"] = server.where

    # 4. the model call itself over batch sizes (no Ray), on CPU and, where there is one, the GPU
    recognitions = [[r for r in s if type(r).__name__ == "Recognise"] for s in streams]
    for dev in ["cpu"] + (["cuda"] if gpu else []):
        model = lm_model.load(folder, dev)
        for what, work in (("", streams), (", recognitions", recognitions)):
            first = len(rows)
            for b in sweep:
                pm = PolicyModel(model)
                warm(pm)
                n, wall, cpu, sent = replay(pm, work, [b])
                rows.append((f"model call on {dev}{what}, batch {b}", f"mean {n / len(sent):.2f}", n,
                             wall, cpu, first if what else 0))

    print(f"\n{len(seen)} requests of {args.targets} targets ({kinds}), searched by "
          f"{args.strategies} on {args.workers} workers; batch sizes the search produced: {hist} "
          f"(mean {stats['mean_batch']})")
    print("requests per second by wall time, and by the CPU seconds of the thread that ran the "
          "model (steadier on a shared machine; a GPU's work is wall time); 'vs': against the CPU "
          "path (the recognitions rows: against their batch 1 on the same device)")
    print(f"{'path':52s} {'batch':>10s} {'requests':>8s} {'wall s':>7s} {'req/s':>6s} {'vs':>7s} "
          f"{'CPU s':>7s} {'req/CPU s':>9s} {'vs':>7s}")
    table = []
    for name, size, n, wall, cpu, ref in rows:
        base_wall, base_cpu = rows[ref][2] / rows[ref][3], rows[ref][2] / max(rows[ref][4], 1e-9)
        rw, rc = n / wall, n / max(cpu, 1e-9)
        print(f"{name:52s} {size:>10s} {n:8d} {wall:7.2f} {rw:6.1f} {rw / base_wall:6.2f}x "
              f"{cpu:7.2f} {rc:9.1f} {rc / base_cpu:6.2f}x")
        table.append({"path": name, "batch": size, "requests": n, "wall_s": round(wall, 3),
                      "cpu_s": round(cpu, 3), "requests_per_s": round(rw, 2),
                      "requests_per_cpu_s": round(rc, 2), "vs_wall": round(rw / base_wall, 3),
                      "vs_cpu": round(rc / base_cpu, 3), "vs_row": rows[ref][0]})
    report["table"] = table
    if gpu:
        served = table[1]["vs_wall"]
        verdict = "MET" if served >= TARGET_RATIO else "MISSED"
        print(f"GPU target: the GPU actor at the search's batch sizes serves {served:.2f}x the CPU "
              f"path's requests per second (wall; target >= {TARGET_RATIO:g}x): {verdict}")
        report["gpu_target"] = {"ratio": served, "met": served >= TARGET_RATIO}
    else:
        print(f"No GPU here (torch.cuda.is_available() is False): the GPU target (the GPU actor "
              f">= {TARGET_RATIO:g}x the CPU path's requests per second at the search's batch "
              f"sizes) could not be measured. The served row ran on the CPU stand-in actor.")
        report["gpu_target"] = None
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_serve.json").write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {out / 'bench_serve.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
