"""The `sketch` strategy's model-free parts: proposals read from candidate programs, the
decomposition seeded with them (pool and hinted splits), and their off switches. The strategy
with a model is tested with the tiny LM in test_lm.py."""
from __future__ import annotations

import random
import time

from ksynth.config import Ablations, SearchConfig, apply_overrides
from ksynth.dsl.interp import run
from ksynth.dsl.program import Program
from ksynth.search import sketch
from ksynth.search.decompose import Decomposer
from ksynth.search.objective import program_cost

RNG = random.Random(5)
LIT = [RNG.randrange(256) for _ in range(10)]

# b % a for two runs that appear nowhere in the target: no finite witness set for deduction,
# and no run family covers the remainders
A_RUN = "range_func_up(3, 10)"
B_RUN = "range_func_interval(100, 180, 10)"
CANDIDATE = Program.parse(
    f"sequence_1 = {A_RUN}\nsequence_2 = {B_RUN}\n"
    "sequence_3 = modulo_two_lists(sequence_2, sequence_1)\n"
    f"sequence_4 = set_list({LIT})\n"                          # dear literal: no subgoal
    "sequence_5 = concatenate(sequence_3, sequence_4)\noutput = sequence_5")
REMAINDERS = run(Program.parse(f"sequence_1 = {A_RUN}\nsequence_2 = {B_RUN}\n"
                               "sequence_3 = modulo_two_lists(sequence_2, sequence_1)\n"
                               "output = sequence_3"))
TARGET = [9, 200, 17, 4] + REMAINDERS + [60, 61, 62, 63, 64]


def deadline():
    return time.monotonic() + 60                                  # a safety net only


def test_proposals_pool_order_filters_and_switches():
    pool, hints = sketch.proposals([CANDIDATE], 1 << 16)
    values = [p.value for p in pool]
    # the two-list line's inputs; the fold, the dear literal and the two-list line (three lines,
    # over SUBGOAL_MAX_BITS) are left out
    assert values == [tuple(range(3, 11)), tuple(range(100, 180, 10))]
    assert tuple(REMAINDERS) not in values and tuple(LIT) not in values
    assert all(p.op not in sketch.FOLD_OPS for p in pool)
    assert hints == {}                                            # no interleave in its fold
    off, _ = sketch.proposals([CANDIDATE], 1 << 16, pool_on=False)
    assert off == []


def test_hints_from_the_outer_interleave():
    p = Program.parse("sequence_1 = range_func_up(0, 9)\nsequence_2 = repeat_num(4, 7)\n"
                      "sequence_3 = interleave(sequence_1, sequence_2)\noutput = sequence_3")
    _, hints = sketch.proposals([p], 1 << 16)
    # 4 pairs, the tail to x; its neighbours within HINT_SLACK, nearest first, HINTS_TOP at most
    assert hints == {0: {(2, False), (3, False), (4, False), (5, False), (6, False)}}
    _, off = sketch.proposals([p], 1 << 16, splits_on=False)
    assert off == {}
    bad = Program.parse("sequence_1 = range_func_up(0, 9)\nsequence_2 = repeat_list(9000, sequence_1)\n"
                        "sequence_3 = interleave(sequence_1, sequence_2)\noutput = sequence_3")
    assert sketch.proposals([bad], 1 << 16) == ([], {})           # over max_len: rejected


def test_repair_finds_the_proposed_operands_and_the_switch_turns_it_off():
    cfg = SearchConfig()
    plain = Decomposer("kt", cfg.ablations, deadline(), cfg.tuning)
    from ksynth.search.ir import assemble

    base = program_cost(assemble(plain.solve(TARGET)[1]), "kt")
    best, stats = sketch.repair(TARGET, [CANDIDATE], cfg, deadline())
    assert run(best) == TARGET and stats["subgoals"] >= 2
    assert "modulo_two_lists" in best.ops_used()
    assert program_cost(best, "kt") < base - 1.0
    off = apply_overrides(cfg, ["ablations.sketch_pool=false"])
    none, stats = sketch.repair(TARGET, [CANDIDATE], off, deadline())
    assert none is None and stats["subgoals"] == 0                # nothing proposed, nothing verified


class Spy(Decomposer):
    """Records the (x, y) halves of every interleave split it solves."""

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.pairs = []

    def _pair(self, x, y, pool, pool_values, depth):
        self.pairs.append((len(x), len(y), depth))
        return super()._pair(x, y, pool, pool_values, depth)


def test_hinted_split_is_solved_beside_the_ranked_ones():
    target = tuple(RNG.randrange(256) for _ in range(30))
    m = 11                                      # x = t[0:22:2] + t[22:], y = t[1:22:2]
    plain = Spy("kt", Ablations(), deadline())
    plain.solve(target)
    assert (30 - m, m, 0) not in plain.pairs    # random literals: the ranking never picks it
    hinted = Spy("kt", Ablations(), deadline(), hints={0: {(m, False)}})
    hinted.solve(target)
    assert (30 - m, m, 0) in hinted.pairs


def test_random_hints_control_keeps_the_count_and_range():
    hints = {0: {(4, False), (5, False), (6, True)}}
    got = sketch.random_hints(hints, 40, seed=0)
    assert len(got[0]) == 3 and all(1 <= m <= 20 for m, _ in got[0])
    assert {ty for _, ty in got[0]} <= {False, True}
    assert got == sketch.random_hints(hints, 40, seed=0) != sketch.random_hints(hints, 40, seed=1)
