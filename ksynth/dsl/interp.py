"""The reference interpreter: plain Python, obviously correct; with the op table's bodies, the spec.

Each line: its literals checked, its list arguments resolved, its argument domains checked (the
row's `params`), its output length computed from the row's `size` BEFORE the body runs (a line
over the cap costs nothing to refuse), then the row's `body`.

Values are Python ints with no wrap-around. Two limits keep every program finite and let the JIT
use int64 without overflow: each list holds at most `max_len` elements and every value (literal or
computed) satisfies |v| < VALUE_LIMIT. A program that breaks either, or calls an op with a value it
does not accept (step 0, negative count, modulo by 0), is rejected with ExecError naming the line.

Three more limits bound the work of a hostile program before it is spent (they are the CLI's
`--max-work` and `--timeout` defaults; the search uses the same defaults):
- work: every line is charged the elements it reads plus the elements it will write (known from
  the row's `size` before the body runs); a program whose total passes `max_work` is rejected
  at the line that would pass it. The default, 64 lists of the default max_len, is far above any
  program the search builds, so it never changes a search result. jit.py does not count work
  (it is bounded by lines * max_len per program and runs only programs the search built), so a
  program over the work budget but under max_len runs there and is rejected here.
- wall clock: `seconds` is checked between lines (one line's cost is bounded by max_len).
- memory: `run` drops each line's value once its last reader has run, so at most the values
  still to be read are alive (`run_lines`, which returns every value, is bounded by max_work).
"""
from __future__ import annotations

import time

from ksynth.dsl.ops import DOMAINS, OPS
from ksynth.dsl.program import Program, Ref
from ksynth.errors import ExecError

DEFAULT_MAX_LEN = 1 << 16        # elements per list
DEFAULT_MAX_WORK = 1 << 22       # elements read + written per program (64 full-length lists)
VALUE_LIMIT = 1 << 31            # |value| must stay below this


class _Reject(Exception):
    pass


class _Work:
    """The elements a program may still read + write; charged line by line before each body."""

    def __init__(self, total: int):
        self.total = self.left = total

    def charge(self, elements: int) -> None:
        self.left -= elements
        _need(self.left >= 0, f"the program's work passes its budget of {self.total:,} elements "
                              f"read + written (see --max-work)")


def _need(cond: bool, message: str) -> None:
    if not cond:
        raise _Reject(message)


def _check_literal(a) -> None:
    if type(a) is int:
        _need(-VALUE_LIMIT < a < VALUE_LIMIT, f"literal {a} is outside +/-2^31")
    elif type(a) is tuple:
        _need(all(-VALUE_LIMIT < v < VALUE_LIMIT for v in a), "literal outside +/-2^31")


def _size(spec, args: list) -> int:
    """The domains checked, then the output length from the row's `size` (which reads only the
    lengths of the list arguments). Raises _Reject."""
    for arg, a in zip(spec.params, args):
        if arg.domain is not None:
            ok, rule = DOMAINS[arg.domain]
            _need(ok(a), f"{arg.name} {rule}, got {a}")
    return spec.size(*args)


def apply(spec, args: list, max_len: int = DEFAULT_MAX_LEN, work: _Work | None = None) -> list[int]:
    """One op on resolved arguments (lists for references): domains, then the output length
    (from the row's `size`, before anything is built), then its work (elements read + written)
    charged to `work`, then the body. Raises _Reject."""
    size = _size(spec, args)
    _need(size <= max_len, f"output longer than the cap of {max_len} elements")
    if work is not None:
        work.charge(size + sum(len(a) for a in args if isinstance(a, (list, tuple))))
    out = spec.body(*args)
    _need(all(-VALUE_LIMIT < v < VALUE_LIMIT for v in out), "a value left +/-2^31")
    return out


def _last_reads(program: Program) -> list[list[int]]:
    """For each line i, the lines whose last reader is line i (their values can go after it)."""
    last = {}
    for i, line in enumerate(program.lines):
        for r in line.refs():
            last[r.index] = i
    last.pop(program.output, None)             # the output is never dropped
    freed: list[list[int]] = [[] for _ in program.lines]
    for j, i in last.items():
        freed[i].append(j)
    return freed


def _execute(program: Program, max_len: int, max_work: int | None, seconds: float | None,
             keep: bool) -> list:
    """Every line's value (None for values dropped after their last read unless `keep`)."""
    deadline = None if seconds is None else time.monotonic() + seconds
    work = None if max_work is None else _Work(max_work)
    freed = None if keep else _last_reads(program)
    values: list = []
    for i, line in enumerate(program.lines):
        spec = OPS[line.op]
        try:
            if deadline is not None and time.monotonic() > deadline:
                raise _Reject(f"stopped: the program ran past the time limit of {seconds:g} s")
            for a in line.args:
                _check_literal(a)
            args = [values[a.index] if isinstance(a, Ref) else a for a in line.args]
            out = apply(spec, args, max_len, work)
        except _Reject as e:
            raise ExecError(f"{line.op}: {e}", i + 1) from None
        values.append(out)
        if freed is not None:
            for j in freed[i]:
                values[j] = None
    return values


def run_lines(program: Program, max_len: int = DEFAULT_MAX_LEN, *,
              max_work: int | None = DEFAULT_MAX_WORK, seconds: float | None = None) -> list[list[int]]:
    """Every line's value, in order. Raises ExecError (with the 1-based line) on rejection."""
    return _execute(program, max_len, max_work, seconds, keep=True)


def line_sizes(program: Program, max_len: int = DEFAULT_MAX_LEN) -> list[int]:
    """An upper bound on every line's output length from the rows' `size` alone, nothing built
    (each list argument stands in as a range of its bound), at most max_len (a longer line is
    rejected when it runs): exact until a body drops elements (filter, modulo_two_lists).
    Raises ExecError, as run_lines would, for a literal or domain violation."""
    sizes: list[int] = []
    for i, line in enumerate(program.lines):
        try:
            for a in line.args:
                _check_literal(a)
            args = [range(sizes[a.index]) if isinstance(a, Ref) else a for a in line.args]
            sizes.append(min(max(_size(OPS[line.op], args), 0), max_len))
        except _Reject as e:
            raise ExecError(f"{line.op}: {e}", i + 1) from None
    return sizes


def run(program: Program, max_len: int = DEFAULT_MAX_LEN, *, max_work: int | None = DEFAULT_MAX_WORK,
        seconds: float | None = None) -> list[int]:
    """The program's output list (values are dropped after their last read)."""
    return _execute(program, max_len, max_work, seconds, keep=False)[program.output]


def try_run(program: Program, max_len: int = DEFAULT_MAX_LEN, *,
            max_work: int | None = DEFAULT_MAX_WORK, seconds: float | None = None) -> list[int] | None:
    """The output, or None when the program is rejected."""
    try:
        return run(program, max_len, max_work=max_work, seconds=seconds)
    except ExecError:
        return None
