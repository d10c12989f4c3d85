"""Fill the integer holes of program sketches: closed forms and brute force first, Z3 for linear holes.

Each sketch family below is a program shape whose constants are unknown, e.g.
modulo_item_list(range_func_interval(s, e, k), c). For most shapes the holes follow from the target
in closed form, which is exact and takes microseconds (ENV-NOTES: brute force beats Z3 by ~100x on
small domains; on the modulo shapes Z3 returned `unknown` after 1-2 s, since `x mod c` with c a hole
and length * step products are nonlinear). Z3 (imported lazily) solves the shapes whose holes enter
linearly with wide domains and integrality constraints: a quadratic sequence as an offset running
sum of an arithmetic progression.

Families (n = len(t); AP(s, k) = the n-element progression s, s + k, ..., written as repeat_num,
range_func_up or range_func_interval):
  ap         AP(s, k) itself (no holes left once t is a progression).
  mod_ap     modulo_item_list(AP(s, k), c) [+ d]: every second difference of t - d is a multiple of c,
             so c divides their gcd g; s = t0 - d, k = (t1 - t0) mod c or that minus c.
  mod_quad   modulo_item_list(scan_add(AP(x, q)), c): c divides the gcd of third differences;
             x = t0, q = (t1 - 2 t0) mod c or that minus c.
  quad       add_item_list(scan_add(AP(s, k)), d): t_i = d + (i + 1) s + k i (i + 1) / 2, solved by Z3.
  sub_ap     substitute(...substitute(AP(s, k), a1, b1)..., ar, br), r <= 3: (s, k) from two of the
             first five positions, the mismatches give (a, b).
  inter_ap   interleave(AP, AP) for every split of the length, the longer list running on into the
             tail.
Every candidate is run by the reference interpreter; only programs that reproduce the target and
cost less than the literal program are kept; the cheapest under config.objective is returned.
"""
from __future__ import annotations

import math
import time

from ksynth.config import Tuning
from ksynth.dsl.interp import try_run
from ksynth.dsl.program import Program, Ref
from ksynth.search.base import SearchResult
from ksynth.search.ir import divisors_above, run_line
from ksynth.search.objective import line_cost, output_cost

MAX_SUBSTITUTIONS = 3         # substitute lines sub_ap stacks on one progression (each is a line)
MAX_INTERLEAVE_LEN = 1024     # elements: inter_ap's split scan is O(n^2)
MAX_MOD_OFFSET = 8            # mod_ap tries offsets d = 1..this (and min(t)): one more line each
SUB_AP_HEAD = 5               # sub_ap takes (s, k) from two of the first this many positions


def _second_diffs(v: list[int]):
    """Lazily, so an early exit of _gcd_all skips the rest of a long target."""
    return (v[i + 2] - 2 * v[i + 1] + v[i] for i in range(len(v) - 2))


def _third_diffs(v: list[int]):
    return (v[i + 3] - 3 * v[i + 2] + 3 * v[i + 1] - v[i] for i in range(len(v) - 3))


def _gcd_all(v: list[int], floor: int | None = None) -> int:
    """gcd of v; with `floor`, stops early (returning it) once the gcd is in 1..floor."""
    g = 0
    for x in v:
        g = math.gcd(g, x)
        if floor is not None and 0 < g <= floor:
            return g
    return g


def _is_ap(v) -> bool:
    return len(v) < 3 or all(v[i + 2] - v[i + 1] == v[1] - v[0] for i in range(len(v) - 2))


# ---- families: each yields candidate line lists (output = last line) -----------------------------
# Each family takes the target and the search knobs (config.tuning: max_divisors, z3_timeout_ms).
def ap(t: list[int], tuning: Tuning = Tuning()):
    """The degenerate sketch with no modifier: one progression line (so solve works alone)."""
    if len(t) >= 2 and _is_ap(t):
        yield "ap", [run_line(t[0], t[1] - t[0], len(t))]


def mod_ap(t: list[int], tuning: Tuning = Tuning()):
    n = len(t)
    if n < 3 or min(t) < 0:
        return
    # offsets d > 0 cost one more line; try d = 0, then the smallest values of t as offsets
    for d in sorted({0, min(t)} | set(range(1, min(min(t), MAX_MOD_OFFSET) + 1))):
        r = [x - d for x in t]
        g = _gcd_all(_second_diffs(r), floor=max(r))
        if g <= max(r):                        # 0: a progression; else no modulus above max(r)
            continue
        for c in divisors_above(g, max(r))[:tuning.max_divisors]:
            k0 = (r[1] - r[0]) % c
            for k in sorted({k0, k0 - c}, key=abs):
                lines = [run_line(r[0], k, n), ("modulo_item_list", (Ref(0), c))]
                if d:
                    lines.append(("add_item_list", (Ref(1), d)))
                yield "mod_ap", lines


def mod_quad(t: list[int], tuning: Tuning = Tuning()):
    n = len(t)
    if n < 4 or min(t) < 0:
        return
    g = _gcd_all(_third_diffs(t), floor=max(t))
    if g <= max(t):
        return
    for c in divisors_above(g, max(t))[:tuning.max_divisors]:
        q0 = (t[1] - 2 * t[0]) % c
        for q in sorted({q0, q0 - c}, key=abs):
            yield "mod_quad", [run_line(t[0], q, n), ("scan_add", (Ref(0),)),
                               ("modulo_item_list", (Ref(1), c))]


def quad(t: list[int], tuning: Tuning = Tuning()):
    """Z3: holes s, k, d with t_i = d + (i + 1) s + k i (i + 1) / 2, smallest magnitudes first."""
    n = len(t)
    if n < 4 or any(_third_diffs(t)) or _is_ap(t):
        return
    import z3

    s, k, d = z3.Ints("s k d")
    solver = z3.Solver()
    solver.set("timeout", tuning.z3_timeout_ms)
    for i, x in enumerate(t):
        solver.add(d + (i + 1) * s + (i * (i + 1) // 2) * k == x)
    for bound in (255, 1 << 30):               # 8-bit constants are the cheapest; then any
        solver.push()
        for h in (s, k, d):
            solver.add(h >= -bound, h <= bound)
        if solver.check() == z3.sat:
            m = solver.model()
            sv, kv, dv = (m.eval(h, model_completion=True).as_long() for h in (s, k, d))
            lines = [run_line(sv, kv, n), ("scan_add", (Ref(0),))]
            if dv > 0:
                lines.append(("add_item_list", (Ref(1), dv)))
            elif dv < 0:
                lines.append(("subtract_item_list", (Ref(1), -dv)))
            yield "quad", lines
            return
        solver.pop()


def sub_ap(t: list[int], tuning: Tuning = Tuning()):
    n = len(t)
    if n < 4:
        return
    seen = set()
    head = min(n, SUB_AP_HEAD)
    for i in range(head):
        for j in range(i + 1, head):
            k, rem = divmod(t[j] - t[i], j - i)
            if rem or k == 0:
                continue
            s = t[i] - i * k
            if (s, k) in seen:
                continue
            seen.add((s, k))
            subs = []
            for p in range(n):
                if s + p * k != t[p]:
                    subs.append((s + p * k, t[p]))
                    if len(subs) > MAX_SUBSTITUTIONS:
                        break
            if 0 < len(subs) <= MAX_SUBSTITUTIONS:
                lines = [run_line(s, k, n)]
                for a, b in subs:
                    lines.append(("substitute", (Ref(len(lines) - 1), a, b)))
                yield "sub_ap", lines


def inter_ap(t: list[int], tuning: Tuning = Tuning()):
    n = len(t)
    if n < 4 or n > MAX_INTERLEAVE_LEN:
        return
    for n1 in range(1, n):
        n2 = n - n1
        m = min(n1, n2)
        a = t[0:2 * m:2] + (t[2 * m:] if n1 > n2 else [])
        b = t[1:2 * m:2] + (t[2 * m:] if n2 > n1 else [])
        if _is_ap(a) and _is_ap(b):
            ka = a[1] - a[0] if len(a) > 1 else 0
            kb = b[1] - b[0] if len(b) > 1 else 0
            yield "inter_ap", [run_line(a[0], ka, len(a)), run_line(b[0], kb, len(b)),
                               ("interleave", (Ref(0), Ref(1)))]


FAMILIES = (ap, mod_ap, mod_quad, quad, sub_ap, inter_ap)


def _cost(lines, objective: str) -> float:
    return output_cost(len(lines), objective) + sum(
        line_cost(op, args, i, objective) for i, (op, args) in enumerate(lines))


def best_sketch(target, objective: str = "kt", deadline: float = math.inf,
                bound: float | None = None, node_limit: int | None = None,
                max_len: int | None = None, tuning: Tuning | None = None):
    """(cost, program, family, candidates tried) of the cheapest verified sketch program cheaper
    than both the literal program and `bound`, or (None, None, None, tried). Usable on any
    sub-target, e.g. a piece another strategy is covering."""
    t = list(target)
    tried = 0
    if len(t) < 3:
        return None, None, None, tried
    best_cost = _cost([("set_list", (tuple(t),))], objective)
    if bound is not None:
        best_cost = min(best_cost, bound)
    best = best_family = None
    run_args = () if max_len is None else (max_len,)
    for family in FAMILIES:
        if time.monotonic() >= deadline or (node_limit is not None and tried >= node_limit):
            break
        for name, lines in family(t, tuning or Tuning()):
            tried += 1
            cost = _cost(lines, objective)
            if cost >= best_cost:
                continue
            program = Program.build(lines)
            if try_run(program, *run_args) == t:
                best, best_cost, best_family = program, cost, name
    return (best_cost if best is not None else None), best, best_family, tried


class SolveStrategy:
    """Sketches with integer holes, filled in closed form, by brute force or by Z3."""

    name = "solve"
    takes_bound = True           # search(..., bound=bits): the portfolio passes its best so far

    def search(self, target: list[int], config, deadline: float,
               bound: float | None = None) -> SearchResult | None:
        """The cheapest verified sketch program, or None. `bound` (optional, bits under
        config.objective): only programs cheaper than it are wanted."""
        t0 = time.monotonic()
        _, best, family, tried = best_sketch(target, config.objective, deadline, bound,
                                             config.budget.nodes, config.max_len, config.tuning)
        if best is None:
            return None
        from ksynth.dsl.encode import bits
        from ksynth.dsl.score import kt_bits

        return SearchResult(program=best, bits=bits(best), kt_bits=kt_bits(best), verified=True,
                            seconds=time.monotonic() - t0, nodes=tried, strategy=self.name,
                            stats={"family": family})
