"""Numbers behind encode.py, the enumerate strategy and the solve strategy (issue 5).

    python experiments/enumerate_solve.py --n 1000 --seed 12345 [--budget 1.0] [--bound]

Prints, on `ksynth.dsl.sample.sample(n, seed)`:
  - encode: bits (real, decodable) vs kt_bits of the ground-truth programs: mean per-program ratio and
    pooled ratio, and the round-trip time;
  - enumerate / solve alone on each sampled target: share found, share at or below the ground truth's
    kt_bits, median / p95 seconds;
  - with --bound: the same after decompose+segment (the portfolio's first strategies) with their
    cost as the bound, i.e. how often enumerate / solve improve on them and what that costs in time;
  - solve's sketch families on random instances of each family (found at or below the generating
    program's kt_bits).
Serial, one core; numbers depend on machine load (the load average is printed).
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import time

from ksynth.config import Budget, SearchConfig
from ksynth.dsl.encode import bits, decode, encode
from ksynth.dsl.interp import try_run
from ksynth.dsl.program import Program
from ksynth.dsl.sample import sample
from ksynth.dsl.score import kt_bits
from ksynth.search.enumerate import EnumerateStrategy
from ksynth.search.solve import SolveStrategy


def _pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def encode_numbers(rows) -> None:
    ratios = [bits(r.program) / kt_bits(r.program) for r in rows]
    pooled = sum(bits(r.program) for r in rows) / sum(kt_bits(r.program) for r in rows)
    t0 = time.perf_counter()
    for r in rows:
        assert decode(encode(r.program)) == r.program
    dt = (time.perf_counter() - t0) / len(rows)
    print(f"encode: bits/kt_bits mean {statistics.mean(ratios):.4f} (min {min(ratios):.3f}, max "
          f"{max(ratios):.3f}), pooled {pooled:.4f}; encode+decode {1e3 * dt:.2f} ms/program")


def strategy_numbers(rows, budget: float, use_bound: bool) -> None:
    cfg = SearchConfig(budget=Budget(seconds=budget))
    base = None
    if use_bound:
        from ksynth.search.objective import program_cost
        from ksynth.search.portfolio import Portfolio

        base = Portfolio(SearchConfig(strategies=("decompose", "segment"), budget=Budget(seconds=budget)))
    for strat in (EnumerateStrategy(), SolveStrategy()):
        found = at_or_below = improved = 0
        secs = []
        for r in rows:
            bound = None
            if base is not None:
                bound = program_cost(base.search(r.sequence).program, "kt")
            t0 = time.monotonic()
            res = strat.search(r.sequence, cfg, t0 + budget, bound=bound)
            secs.append(time.monotonic() - t0)
            if res is None:
                continue
            assert try_run(res.program) == r.sequence
            found += 1
            at_or_below += res.kt_bits <= r.kt_bits + 1e-9
            improved += bound is not None and res.kt_bits < bound - 1e-9
        n = len(rows)
        extra = f", improved on decompose+segment {improved}" if use_bound else ""
        print(f"{strat.name:9s} found {found}/{n} ({100 * found / n:.1f}%), <= ground truth "
              f"{at_or_below} ({100 * at_or_below / n:.1f}%){extra}; seconds median "
              f"{statistics.median(secs):.4f} p95 {_pct(secs, 0.95):.4f} max {max(secs):.3f}")


def _family_instance(name: str, rng: random.Random) -> Program:
    n = rng.randint(8, 40)
    s, k = rng.randint(0, 255), rng.choice([-9, -7, -3, 2, 3, 5, 7, 11, 13, 37])
    ap = ("range_func_interval", (s, s + (n - 1) * k + (1 if k > 0 else -1), k))
    if name == "mod_ap":
        return Program.build([ap, ("modulo_item_list", (_r(0), rng.randint(5, 200)))])
    if name == "mod_quad":
        return Program.build([("range_func_interval", (s % 20, s % 20 + n * 3, 3)), ("scan_add", (_r(0),)),
                              ("modulo_item_list", (_r(1), rng.randint(20, 250)))])
    if name == "quad":
        return Program.build([("range_func_interval", (s % 9, s % 9 + n * 2, 2)), ("scan_add", (_r(0),)),
                              ("add_item_list", (_r(1), rng.randint(1, 100)))])
    if name == "sub_ap":
        values = list(range(s, s + n * k, k))[:n]
        return Program.build([ap, ("substitute", (_r(0), rng.choice(values), rng.randint(0, 255)))])
    m = rng.randint(3, 20)
    return Program.build([ap, ("range_func_up", (s // 2, s // 2 + m - 1)), ("interleave", (_r(0), _r(1)))])


def _r(i):
    from ksynth.dsl.program import Ref

    return Ref(i)


def family_numbers(per_family: int, seed: int) -> None:
    rng = random.Random(seed)
    cfg = SearchConfig()
    for name in ("mod_ap", "mod_quad", "quad", "sub_ap", "inter_ap"):
        ok = tried = 0
        secs = []
        for _ in range(per_family):
            p = _family_instance(name, rng)
            target = try_run(p)
            if target is None:
                continue
            tried += 1
            t0 = time.monotonic()
            res = SolveStrategy().search(target, cfg, t0 + 1.0)
            secs.append(time.monotonic() - t0)
            ok += res is not None and res.kt_bits <= kt_bits(p) + 1e-9
        print(f"solve family {name:9s} {ok}/{tried} at or below the generating program; "
              f"median {1e3 * statistics.median(secs):.2f} ms")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=12345)
    ap.add_argument("--budget", type=float, default=1.0, help="seconds per sequence per strategy")
    ap.add_argument("--bound", action="store_true", help="bound by decompose+segment first")
    ap.add_argument("--families", type=int, default=100, help="random instances per sketch family")
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}; n={args.n} seed={args.seed} budget={args.budget}")
    rows = sample(args.n, args.seed)
    encode_numbers(rows)
    strategy_numbers(rows, args.budget, args.bound)
    family_numbers(args.families, args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
