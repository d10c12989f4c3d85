"""Program: lossless parse/format, comments, errors that name the line, pruning, kt_bits by hand."""
from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, strategies as st

from ksynth.dsl.interp import run, run_lines
from ksynth.dsl.program import Program, Ref
from ksynth.dsl.sample import sample, sample_one
from ksynth.dsl.score import kt_bits
from ksynth.errors import ExecError, ProgramError

F = math.log2(25)          # bits per function choice (and for the output line)


@pytest.fixture(scope="module")
def sampled():
    return sample(2000, seed=11)


def test_round_trip_2000_sampled(sampled):
    for s in sampled:
        text = s.program.format()
        again = Program.parse(text)
        assert again == s.program
        assert again.format() == text
        # value comments (as the KT generator writes them) are ignored
        assert Program.parse(s.program.format(run_lines(s.program))) == s.program


@given(st.integers(0, 2**32 - 1))
def test_round_trip_any_draw(seed):
    p = sample_one(random.Random(seed)).program
    assert Program.parse(p.format()) == p


def test_comments_blank_lines_and_free_names():
    text = """
    # a comment line
    a = range_func_up(3, 5)   # [3, 4, 5]

    b = reverse_list(a)        # [5, 4, 3]
    c = concatenate(a, b, a)
    output = c                 # done
    """
    p = Program.parse(text)
    assert run(p) == [3, 4, 5, 5, 4, 3, 3, 4, 5]
    assert p.format() == ("sequence_1 = range_func_up(3, 5)\nsequence_2 = reverse_list(sequence_1)\n"
                          "sequence_3 = concatenate(sequence_1, sequence_2, sequence_1)\n"
                          "output = sequence_3")


def test_output_may_name_an_earlier_line():
    p = Program.parse("sequence_1 = range_func_up(1, 2)\nsequence_2 = reverse_list(sequence_1)\n"
                      "output = sequence_1")
    assert p.output == 0 and run(p) == [1, 2]


GOOD = "sequence_1 = range_func_up(1, 4)\n"
PARSE_ERRORS = [
    # (text, line the message must name, words it must contain)
    (GOOD + "sequence_2 = revers_list(sequence_1)\noutput = sequence_2", 2, "unknown function 'revers_list'"),
    (GOOD + "sequence_2 = substitute(sequence_1, 3)\noutput = sequence_2", 2, "takes 3 argument"),
    (GOOD + "sequence_2 = reverse_list(sequence_3)\nsequence_3 = reverse_list(sequence_1)\n"
            "output = sequence_2", 2, "not defined on an earlier line"),
    (GOOD + "sequence_2 = set_list(5)\noutput = sequence_2", 2, "must be a list of integers"),
    (GOOD + "sequence_2 = filter(is_big, sequence_1)\noutput = sequence_2", 2, "unknown predicate 'is_big'; choose one of is_even"),
    (GOOD + "sequence_2 = set_list([1, x])\noutput = sequence_2", 2, "integers only"),
    (GOOD + "sequence_2 = set_list([1, 2)\noutput = sequence_2", 2, "unbalanced"),
    (GOOD + "sequence_1 = range_func_up(1, 4)\noutput = sequence_1", 2, "assigned twice"),
    (GOOD + "this is not code\noutput = sequence_1", 2, "expected 'name = function(args)'"),
    (GOOD + "sequence_2 = 42\noutput = sequence_2", 2, "expected a function call"),
    (GOOD + "output = sequence_1\nsequence_2 = reverse_list(sequence_1)", 3, "nothing may follow"),
    (GOOD + "output = sequence_9", 2, "output must name an earlier sequence"),
]


@pytest.mark.parametrize("text,line,words", PARSE_ERRORS)
def test_parse_errors_name_the_line(text, line, words):
    with pytest.raises(ProgramError) as info:
        Program.parse(text)
    assert info.value.line == line
    assert str(info.value).startswith(f"line {line}: ")
    assert words in str(info.value)


@pytest.mark.parametrize("text,words", [("", "empty program"), ("# only a comment\n", "empty program"),
                                        (GOOD, "missing the final 'output")])
def test_whole_program_errors(text, words):
    with pytest.raises(ProgramError, match=words):
        Program.parse(text)


def test_exec_error_names_the_line():
    text = GOOD + "sequence_2 = modulo_item_list(sequence_1, 0)\noutput = sequence_2"
    p = Program.parse(text)
    with pytest.raises(ExecError) as info:
        run(p)
    assert info.value.line == 2 and "modulus must not be 0" in str(info.value)
    assert isinstance(info.value, ProgramError)     # one except clause covers both


def test_pruned_drops_dead_lines_and_renumbers():
    p = Program.parse("""
        sequence_1 = range_func_up(1, 3)
        sequence_2 = repeat_num(4, 9)
        sequence_3 = set_list([7, 8])
        sequence_4 = reverse_list(sequence_3)
        sequence_5 = interleave(sequence_4, sequence_1)
        sequence_6 = scan_add(sequence_2)
        output = sequence_5
    """)
    q = p.pruned()
    assert q.format() == ("sequence_1 = range_func_up(1, 3)\nsequence_2 = set_list([7, 8])\n"
                          "sequence_3 = reverse_list(sequence_2)\n"
                          "sequence_4 = interleave(sequence_3, sequence_1)\noutput = sequence_4")
    assert q.lines[3].args == (Ref(2), Ref(0))
    assert run(q) == run(p) == [8, 1, 7, 2, 3]
    assert p.live() == [0, 2, 3, 4]
    assert q.pruned() is q                         # nothing left to prune


def test_pruned_when_output_is_not_last():
    p = Program.parse("sequence_1 = range_func_up(1, 3)\nsequence_2 = reverse_list(sequence_1)\n"
                      "output = sequence_1")
    q = p.pruned()
    assert len(q) == 1 and q.output == 0 and run(q) == [1, 2, 3]


def test_graph_edges():
    p = Program.parse("sequence_1 = range_func_up(1, 3)\nsequence_2 = reverse_list(sequence_1)\n"
                      "sequence_3 = concatenate(sequence_1, sequence_2)\noutput = sequence_3")
    g = p.graph()
    assert set(g.edges) == {(0, 1), (0, 2), (1, 2)}
    assert g.nodes[2]["op"] == "concatenate"


# kt_bits, written out term by term (KT.md section 3): F per line for the function, F for output,
# log2(i + 1) per reference on 0-based line i, 8 per number, 3 per small number, log2(20) per count.
KT_CASES = [
    ("sequence_1 = range_func_up(3, 9)\noutput = sequence_1",
     (F + 16) + F),
    ("sequence_1 = set_list([1, 2, 3])\nsequence_2 = reverse_list(sequence_1)\n"
     "sequence_3 = concatenate(sequence_1, sequence_2, sequence_1)\noutput = sequence_3",
     (F + 3 * 8) + (F + math.log2(2)) + (F + 2 * math.log2(3)) + F),
    ("sequence_1 = range_func_interval(0, 30, 3)\n"                  # line 0: F + 16 + 3
     "sequence_2 = repeat_num(5, 200)\n"                             # line 1: F + 8 + log2(20)
     "sequence_3 = get_subsequence_between_indices(sequence_1, 2, 6)\n"   # 2: F + log2(3) + 16
     "sequence_4 = substitute(sequence_3, 6, 7)\n"                   # line 3: F + log2(4) + 16
     "sequence_5 = max_n(sequence_4, 2)\n"                           # line 4: F + log2(5) + 8
     "sequence_6 = get_subsequence_with_jumps(sequence_1, 2)\n"      # line 5: F + log2(6) + 3
     "sequence_7 = repeat_list(2, sequence_5)\n"                     # line 6: F + log2(7) + 3
     "sequence_8 = modulo_two_lists(sequence_6, sequence_2)\n"       # line 7: F + 2 log2(8)
     "sequence_9 = filter(is_odd, sequence_8)\n"                     # line 8: F + log2(9)
     "sequence_10 = scan_add(sequence_9)\n"                          # line 9: F + log2(10)
     "sequence_11 = interleave(sequence_10, sequence_7)\n"           # line 10: F + 2 log2(11)
     "output = sequence_11",
     (F + 19) + (F + 8 + math.log2(20)) + (F + math.log2(3) + 16) + (F + 2 + 16)
     + (F + math.log2(5) + 8) + (F + math.log2(6) + 3) + (F + math.log2(7) + 3) + (F + 2 * 3)
     + (F + math.log2(9)) + (F + math.log2(10)) + (F + 2 * math.log2(11)) + F),
]


@pytest.mark.parametrize("text,expected", KT_CASES)
def test_kt_bits_by_hand(text, expected):
    p = Program.parse(text)
    run(p)                                       # the fixed programs are valid, not just parseable
    assert kt_bits(p) == pytest.approx(expected, abs=1e-9)
