"""The reference interpreter: plain Python, obviously correct; with the op table's bodies, the spec.

Each line: its literals checked, its list arguments resolved, its argument domains checked (the
row's `params`), its output length computed from the row's `size` BEFORE the body runs (a line
over the cap costs nothing to refuse), then the row's `body`.

Values are Python ints with no wrap-around. Two limits keep every program finite and let the JIT
use int64 without overflow: each list holds at most `max_len` elements and every value (literal or
computed) satisfies |v| < VALUE_LIMIT. A program that breaks either, or calls an op with a value it
does not accept (step 0, negative count, modulo by 0), is rejected with ExecError naming the line.
"""
from __future__ import annotations

from ksynth.dsl.ops import DOMAINS, OPS
from ksynth.dsl.program import Program, Ref
from ksynth.errors import ExecError

DEFAULT_MAX_LEN = 1 << 16        # elements per list
VALUE_LIMIT = 1 << 31            # |value| must stay below this


class _Reject(Exception):
    pass


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


def apply(spec, args: list, max_len: int = DEFAULT_MAX_LEN) -> list[int]:
    """One op on resolved arguments (lists for references): domains, then the output length
    (from the row's `size`, before anything is built), then the body. Raises _Reject."""
    _need(_size(spec, args) <= max_len, f"output longer than the cap of {max_len} elements")
    out = spec.body(*args)
    _need(all(-VALUE_LIMIT < v < VALUE_LIMIT for v in out), "a value left +/-2^31")
    return out


def run_lines(program: Program, max_len: int = DEFAULT_MAX_LEN) -> list[list[int]]:
    """Every line's value, in order. Raises ExecError (with the 1-based line) on rejection."""
    values: list[list[int]] = []
    for i, line in enumerate(program.lines):
        spec = OPS[line.op]
        try:
            for a in line.args:
                _check_literal(a)
            args = [values[a.index] if isinstance(a, Ref) else a for a in line.args]
            out = apply(spec, args, max_len)
        except _Reject as e:
            raise ExecError(f"{line.op}: {e}", i + 1) from None
        values.append(out)
    return values


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


def run(program: Program, max_len: int = DEFAULT_MAX_LEN) -> list[int]:
    """The program's output list."""
    return run_lines(program, max_len)[program.output]


def try_run(program: Program, max_len: int = DEFAULT_MAX_LEN) -> list[int] | None:
    """The output, or None when the program is rejected."""
    try:
        return run(program, max_len)
    except ExecError:
        return None
