"""Execution limits of the reference interpreter and the parser's linear time, as the API sees them.

Work (elements read + written) is charged before each body, values go after their last reader,
the wall clock is checked between lines; the parser is linear in its input. The numbers the issue
sets (< 1 s, < 200 MB per hostile program) are measured by experiments/hostile_inputs.py; the
timing guard here only catches a return of quadratic behaviour (the old regex took 20 s on 200 KB).
"""
from __future__ import annotations

import time

import pytest

from ksynth.dsl import interp
from ksynth.dsl.interp import DEFAULT_MAX_WORK, run, run_lines
from ksynth.dsl.program import Program
from ksynth.dsl.sample import sample
from ksynth.errors import ExecError, ProgramError

QUADRATIC_GUARD_S = 5.0


def chain(n: int, length: int = 60000) -> Program:
    text = f"sequence_1 = repeat_num({length}, 7)\n" + "".join(
        f"sequence_{i + 2} = reverse_list(sequence_{i + 1})\n" for i in range(n)) + f"output = sequence_{n + 1}"
    return Program.parse(text)


def test_work_is_charged_before_the_body_runs(monkeypatch):
    p = chain(1000)
    ran = []
    spec = interp.OPS["reverse_list"]
    monkeypatch.setitem(interp.OPS, "reverse_list", spec.__class__(
        spec.name, spec.params, spec.doc, lambda x: ran.append(1) or x[::-1], spec.size, spec.hooks,
        spec.dialect, spec.encode_order, spec.code))
    with pytest.raises(ExecError, match="budget of 4,194,304") as info:
        run(p)
    lines_run = len(ran)
    assert info.value.line == lines_run + 2                      # the refused line never ran
    assert lines_run * 2 * 60000 <= DEFAULT_MAX_WORK < (lines_run + 1) * 2 * 60000 + 60000
    assert run(chain(10), max_work=None) == [7] * 60000           # None: no work limit


def test_sampled_programs_stay_far_below_the_work_budget():
    for s in sample(300, seed=5):
        assert run(s.program, max_work=DEFAULT_MAX_WORK // 20) == s.sequence     # measured: max 91k of 3,000


def test_values_are_dropped_after_their_last_reader():
    p = Program.parse("sequence_1 = range_func_up(1, 3)\nsequence_2 = reverse_list(sequence_1)\n"
                      "sequence_3 = concatenate(sequence_2, sequence_2)\nsequence_4 = scan_add(sequence_1)\n"
                      "output = sequence_3")
    kept = interp._execute(p, 100, None, None, keep=False)
    assert kept == [None, None, [3, 2, 1, 3, 2, 1], [1, 3, 6]]   # line 4 is dead: nobody reads it
    assert run(p) == [3, 2, 1, 3, 2, 1] and len(run_lines(p)) == 4


def test_the_wall_clock_is_checked_between_lines():
    with pytest.raises(ExecError, match="time limit of 0.001 s"):
        run(chain(500, 20000), max_work=None, seconds=0.001)


@pytest.mark.parametrize("text", [
    "sequence_1 = range_func_up(1," + " " * 1_000_000 + "3)\noutput = sequence_1",
    "sequence_1 = set_list([" + "1, " * 300_000 + "2])\noutput = sequence_1",
    "sequence_1 = range_func_up(1, 3)\nsequence_2 = concatenate(" + ",".join(["sequence_1"] * 90_000)
    + ")\noutput = sequence_2",
    "a = f(" + "[" * 1_000_000,
    "sequence_1 = range_func_up(" + "1 " * 500_000 + ")",
])
def test_megabyte_lines_parse_in_linear_time(text):
    t0 = time.perf_counter()
    try:
        Program.parse(text)
    except ProgramError as e:
        assert len(str(e)) < 200
    assert time.perf_counter() - t0 < QUADRATIC_GUARD_S
