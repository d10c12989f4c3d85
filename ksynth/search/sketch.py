"""`sketch`: the LM's decoded programs as sketches and subgoals for the deductive search (ExeDec-style).

The small LM writes the right program shape but miscounts lengths and literals (README, issue 14),
so its programs are read as proposals, not answers:
- every candidate is checked as it is (one executor batch, like `seqcoder`);
- subgoals (Ablations.sketch_pool): the values of its lines (folds excluded: they hold the wrong
  parts; values whose own lines cost over SUBGOAL_MAX_BITS excluded: the decomposition treats
  pool lines as built) become the decomposition's pool, as Nodes that carry their own lines. The
  segment DP then copies them, transforms them by the rows' derive hooks, pairs two of them by
  the two-list ops (pool with pool: the DP does not pair a pool value with a piece of its own
  path), and solves the other operand of a two-list line by the op's inverse where one exists
  and the operand is a run (t - a, a - t: its "source + run" pieces), so a proposed operand is
  enough where deduction has no finite witness set. Operands of two-list and scan_add lines come
  first (the pairing looks at the newest sources only);
- sketches (Ablations.sketch_splits): the length of its outermost interleave (HINT_LEVELS; the
  deeper ones match the ground truth too rarely, experiments/sketch_probe.py) becomes extra
  interleave splits of the decomposer at the top, HINT_SLACK elements either way (the length is
  re-derived by the search, not trusted), solved after the ranked splits and never pruned by
  their estimate (Ablations.sketch_lm_lengths off: as many splits at random lengths, the control
  that says whether the LM's lengths beat chance).
Decomposition with proposals runs under the same deadline; the programs are priced by the one
cost function (the portfolio re-checks and prices the winner exactly). Model time is search time:
decoding stops at DECODE_SHARE of the strategy's time. Not in the default portfolio.
"""
from __future__ import annotations

import time

from ksynth.search.segment import PAIR_OPS

FOLD_OPS = frozenset({"concatenate", "interleave"})
SUBGOAL_OPS = frozenset(PAIR_OPS) | {"scan_add"}     # lines whose inputs deduction cannot witness
MIN_SUBGOAL_LEN = 3         # elements: shorter values are no cheaper as copies than as literals
MAX_SUBGOALS = 8            # pool values at most (each costs the segment DP O(len(target)) per position)
# a proposed value joins the pool only when its own lines cost at most this (objective bits at
# APPROX_INDEX): the decomposition treats pool lines as built, so a dear one (a miscounted literal)
# would look free to it; runs and a transform of a run pass
SUBGOAL_MAX_BITS = 48.0
HINT_SLACK = 2              # elements: a proposed interleave length is tried this far either way
HINT_LEVELS = 1             # interleave levels read as hints, outermost first
# hinted splits per sub-target at depth 0 / deeper (each is a full solve of both halves, and the
# deeper ones multiply: every sub-target at that depth tries them)
HINTS_TOP, HINTS_DEEP = 6, 2
DECODE_SHARE = 0.5          # of the strategy's time, the most that decoding may use


def _fold_levels(program, values) -> list[tuple[int, bool]]:
    """(m, tail_to_y) of the interleaves down the candidate's fold from its output, outermost
    first: interleave(x, y) splits its value at m = min(len x, len y) pairs, the tail going to the
    longer argument (decompose's two split families). Concatenates pass through to their first
    argument (the fold's accumulator: KT folds left)."""
    from ksynth.dsl.program import Ref

    out, i = [], program.output
    while len(out) < HINT_LEVELS and program.lines[i].op in FOLD_OPS:
        refs = [a.index for a in program.lines[i].args if isinstance(a, Ref)]
        if not refs:
            break
        if program.lines[i].op == "interleave" and len(refs) == 2:
            nx, ny = len(values[refs[0]]), len(values[refs[1]])
            out.append((min(nx, ny), ny > nx))
        i = refs[0]
    return out


def proposals(candidates, max_len: int, objective: str = "kt", pool_on: bool = True,
              splits_on: bool = True):
    """(pool Nodes, {depth: {(m, tail_to_y)}}) from decoded candidate programs (most probable
    first). Candidates the interpreter rejects, or that use ops the objective does not allow,
    propose nothing."""
    from ksynth.dsl.interp import run_lines
    from ksynth.errors import ExecError
    from ksynth.search.decompose import dag_cost
    from ksynth.search.ir import to_nodes
    from ksynth.search.objective import allowed_ops

    allowed = allowed_ops(objective)

    first, rest, seen, votes = [], [], set(), {}
    for p in candidates:
        if not p.ops_used() <= allowed:
            continue
        try:
            values = run_lines(p, max_len)
        except ExecError:
            continue
        if splits_on:
            for depth, split in enumerate(_fold_levels(p, values)):
                level = votes.setdefault(depth, {})
                level[split] = level.get(split, 0) + 1
        if not pool_on:
            continue
        nodes = to_nodes(p.lines, values)
        inputs = {a.index for line in p.lines if line.op in SUBGOAL_OPS for a in line.refs()}
        for k, line in enumerate(p.lines):
            v = nodes[k].value
            if line.op in FOLD_OPS or len(v) < MIN_SUBGOAL_LEN or v in seen or \
                    dag_cost(nodes[k], objective) > SUBGOAL_MAX_BITS:
                continue
            seen.add(v)
            (first if k in inputs else rest).append(nodes[k])
    hints = {}
    offsets = sorted(range(-HINT_SLACK, HINT_SLACK + 1), key=abs)
    for depth, level in votes.items():
        cap = HINTS_TOP if depth == 0 else HINTS_DEEP
        out: list = []
        # the most proposed lengths first (ties: the first proposed), each with its neighbours
        for (m, tail_to_y), _ in sorted(level.items(), key=lambda kv: -kv[1]):
            for d in offsets:
                if len(out) < cap and m + d >= 1 and (m + d, tail_to_y) not in out:
                    out.append((m + d, tail_to_y))
        hints[depth] = set(out)
    return (first + rest)[:MAX_SUBGOALS], hints


def random_hints(hints: dict, n: int, seed: int) -> dict:
    """The control for the LM's lengths: as many hinted splits per depth, at lengths drawn
    uniformly from 1..n // 2 (seeded by the config's seed and n), each family kept."""
    import random

    rng = random.Random(seed * 1_000_003 + n)
    out = {}
    for depth, level in hints.items():
        want, picked = len(level), set()
        families = sorted({ty for _, ty in level})
        while len(picked) < min(want, max(1, n // 2) * len(families)):
            picked.add((rng.randint(1, max(1, n // 2)), rng.choice(families)))
        out[depth] = picked
    return out


def repair(target, candidates, config, deadline):
    """The cheapest program (config.objective) among the candidates that reproduce the target
    and the decomposition seeded with their proposals: (program or None, stats)."""
    from ksynth.dsl import executor
    from ksynth.search.decompose import Decomposer
    from ksynth.search.ir import assemble
    from ksynth.search.objective import program_cost

    ab = config.ablations
    stats = {"candidates": len(candidates)}
    programs = list(dict.fromkeys(p.pruned() for p in candidates))
    good = [p for p, ok in zip(programs, executor.matches(programs, target, config.max_len)) if ok] \
        if programs else []
    stats["verified_candidates"] = len(good)
    pool, hints = proposals(candidates, config.max_len, config.objective, ab.sketch_pool,
                            ab.sketch_splits)
    if not ab.sketch_lm_lengths:
        hints = random_hints(hints, len(target), config.seed)
    stats["subgoals"], stats["hinted_splits"] = len(pool), sum(len(h) for h in hints.values())
    if (pool or hints) and time.monotonic() < deadline:
        dec = Decomposer(config.objective, ab, deadline, config.tuning, hints=hints)
        _, node = dec.solve(target, pool)
        stats["nodes"] = dec.nodes
        good.append(assemble(node, share=ab.copies and ab.shared_lines))
    if not good:
        return None, stats
    return min(good, key=lambda p: program_cost(p, config.objective)), stats


class SketchStrategy:
    name = "sketch"

    def search(self, target, config, deadline):
        from ksynth.search.base import SearchResult
        from ksynth.search.seqcoder import lm_for

        t0 = time.monotonic()
        decode_until = t0 + DECODE_SHARE * max(0.0, deadline - t0)
        tp = lm_for(config).for_target(target)
        candidates = [tp.greedy] if tp.greedy is not None else []
        g = config.guidance
        k = g.sketches - 1
        if k > 0 and time.monotonic() < decode_until:
            extra = tp.beam(k, decode_until) if g.decoding == "beam" else \
                tp.sample(k, g.temperature, config.seed, decode_until)
            candidates += [p for p, _ in extra if p is not None]
        model_s = tp.seconds
        best, stats = repair(target, candidates, config, deadline)
        stats["model_seconds"] = round(model_s, 4)
        if best is None:
            return None
        return SearchResult(best, float("nan"), float("nan"), False, time.monotonic() - t0,
                            stats.get("nodes", 0) + len(candidates), self.name, stats)

