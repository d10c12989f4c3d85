"""The reference interpreter: plain Python, obviously correct. This file IS the DSL's semantics.

Values are Python ints with no wrap-around. Two limits keep every program finite and let the JIT
use int64 without overflow: each list holds at most `max_len` elements and every value (literal or
computed) satisfies |v| < VALUE_LIMIT. A program that breaks either, or calls an op with a value it
does not accept (step 0, negative count, modulo by 0), is rejected with ExecError naming the line.
"""
from __future__ import annotations

from itertools import accumulate

from ksynth.dsl.program import Program, Ref
from ksynth.errors import ExecError

DEFAULT_MAX_LEN = 1 << 16        # elements per list
VALUE_LIMIT = 1 << 31            # |value| must stay below this


class _Reject(Exception):
    pass


def _need(cond: bool, message: str) -> None:
    if not cond:
        raise _Reject(message)


def _range_up(s, e):
    return list(range(s, e + 1))


def _range_interval(s, e, k):
    _need(k != 0, "step must not be 0")
    return list(range(s, e, k))


def _repeat_num(n, v):
    _need(n >= 0, f"count must be >= 0, got {n}")
    return [v] * n


def _repeat_list(n, x):
    _need(n >= 0, f"count must be >= 0, got {n}")
    return x * n


def _jumps(x, j):
    _need(j >= 1, f"jump must be >= 1, got {j}")
    return x[::j]


def _max_n(x, n):
    _need(n >= 0, f"n must be >= 0, got {n}")
    return sorted(x, reverse=True)[:n]


def _min_n(x, n):
    _need(n >= 0, f"n must be >= 0, got {n}")
    return sorted(x)[:n]


def _modulo_item(x, c):
    _need(c != 0, "modulo by 0")
    return [v % c for v in x]


_PRED = {"is_even": lambda v: v % 2 == 0, "is_odd": lambda v: v % 2 == 1, "is_not_zero": lambda v: v != 0}


def _interleave(x, y):
    out = []
    for a, b in zip(x, y):
        out += (a, b)
    n = min(len(x), len(y))
    return out + x[n:] + y[n:]


def _concatenate(*xs):
    out = []
    for x in xs:
        out += x
    return out


IMPL = {
    "range_func_up": _range_up,
    "range_func_interval": _range_interval,
    "repeat_num": _repeat_num,
    "set_list": lambda values: list(values),
    "repeat_list": _repeat_list,
    "reverse_list": lambda x: x[::-1],
    "substitute": lambda x, a, b: [b if v == a else v for v in x],
    "get_subsequence_with_jumps": _jumps,
    "get_subsequence_between_indices": lambda x, a, b: x[a:b],
    "max_n": _max_n,
    "min_n": _min_n,
    "add_item_list": lambda x, c: [v + c for v in x],
    "subtract_item_list": lambda x, c: [v - c for v in x],
    "modulo_item_list": _modulo_item,
    "filter": lambda p, x: [v for v in x if _PRED[p](v)],
    "scan_add": lambda x: list(accumulate(x)),
    "add_two_lists": lambda x, y: [a + b for a, b in zip(x, y)],
    "subtract_two_lists": lambda x, y: [a - b for a, b in zip(x, y)],
    "modulo_two_lists": lambda x, y: [a % b for a, b in zip(x, y) if b != 0],
    "concatenate": _concatenate,
    "interleave": _interleave,
}


def _too_long(op: str, args, values, max_len: int) -> bool:
    """Cheap length precheck so a huge repeat is refused before it is built."""
    if op == "repeat_num":
        return args[0] > max_len
    if op == "repeat_list":
        return args[0] > 0 and args[0] * len(values[args[1].index]) > max_len
    if op == "range_func_up":
        return args[1] - args[0] + 1 > max_len
    if op == "range_func_interval":
        return args[2] != 0 and len(range(args[0], args[1], args[2])) > max_len
    return False


def run_lines(program: Program, max_len: int = DEFAULT_MAX_LEN) -> list[list[int]]:
    """Every line's value, in order. Raises ExecError (with the 1-based line) on rejection."""
    values: list[list[int]] = []
    for i, line in enumerate(program.lines):
        try:
            for a in line.args:
                if type(a) is int:
                    _need(-VALUE_LIMIT < a < VALUE_LIMIT, f"literal {a} is outside +/-2^31")
                elif type(a) is tuple:
                    _need(all(-VALUE_LIMIT < v < VALUE_LIMIT for v in a), "literal outside +/-2^31")
            _need(not _too_long(line.op, line.args, values, max_len),
                  f"output longer than the cap of {max_len} elements")
            args = [values[a.index] if isinstance(a, Ref) else a for a in line.args]
            out = IMPL[line.op](*args)
            _need(len(out) <= max_len, f"output longer than the cap of {max_len} elements")
            _need(all(-VALUE_LIMIT < v < VALUE_LIMIT for v in out), "a value left +/-2^31")
        except _Reject as e:
            raise ExecError(f"{line.op}: {e}", i + 1) from None
        values.append(out)
    return values


def run(program: Program, max_len: int = DEFAULT_MAX_LEN) -> list[int]:
    """The program's output list."""
    return run_lines(program, max_len)[program.output]


def try_run(program: Program, max_len: int = DEFAULT_MAX_LEN) -> list[int] | None:
    """The output, or None when the program is rejected."""
    try:
        return run(program, max_len)
    except ExecError:
        return None
