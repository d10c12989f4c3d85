"""THE op table: one row per op (21 rows; with filter's three predicates, KT's "24 functions"). Semantics live in interp.py (the spec) and jit.py (the fast path).

An argument kind fixes both what the parser accepts and what the KT uniform prior charges for it
(KT.md section 3), so `kt_bits` is derived from this table instead of a second per-op list.
"""
from __future__ import annotations

import enum
import math
from dataclasses import dataclass


class ArgKind(enum.Enum):
    """(what the argument is, KT bits it costs). REF costs log2(i + 1) at line i, paid by score.py."""

    NUM = ("number", 8.0)                    # an 8-bit number in the KT prior; any int is accepted
    STEP = ("small number", 3.0)             # range step, jump, repeat_list count: 3 bits in KT
    COUNT = ("count", math.log2(20))         # repeat_num's count
    INTS = ("literal list", 8.0)             # set_list: 8 bits per element
    PRED = ("predicate", 0.0)                # filter's predicate: not charged by KT
    REF = ("sequence", None)                 # one reference to an earlier line
    REFS = ("sequences", None)               # variadic references (concatenate): 2 refs flat

    @property
    def label(self) -> str:
        return self.value[0]

    @property
    def fixed_bits(self) -> float | None:
        return self.value[1]


PREDICATES = ("is_even", "is_odd", "is_not_zero")


@dataclass(frozen=True)
class OpSpec:
    name: str
    args: tuple[ArgKind, ...]
    doc: str
    dialect: str = "kt"          # "kt" = the 24 KT functions; "ksynth" = our extensions
    code: int = -1               # dense index, assigned below; the JIT and the encoder use it

    @property
    def variadic(self) -> bool:
        return ArgKind.REFS in self.args

    @property
    def is_initiator(self) -> bool:
        return not any(k in (ArgKind.REF, ArgKind.REFS) for k in self.args)


N, S, C, L, P, R, RS = (ArgKind.NUM, ArgKind.STEP, ArgKind.COUNT, ArgKind.INTS, ArgKind.PRED,
                        ArgKind.REF, ArgKind.REFS)

_ROWS = [
    # initiators
    OpSpec("range_func_up", (N, N), "[s, s+1, ..., e], e inclusive; empty when e < s"),
    OpSpec("range_func_interval", (N, N, S), "Python range(s, e, k), e exclusive; k != 0"),
    OpSpec("repeat_num", (C, N), "[v] * n, n >= 0"),
    OpSpec("set_list", (L,), "the literal list"),
    # modifiers
    OpSpec("repeat_list", (S, R), "x * n, n >= 0"),
    OpSpec("reverse_list", (R,), "x[::-1]"),
    OpSpec("substitute", (R, N, N), "every element equal to a replaced by b"),
    OpSpec("get_subsequence_with_jumps", (R, S), "x[::j], j >= 1"),
    OpSpec("get_subsequence_between_indices", (R, N, N), "x[a:b], Python slice semantics"),
    OpSpec("max_n", (R, N), "the n largest elements, descending; n >= 0"),
    OpSpec("min_n", (R, N), "the n smallest elements, ascending; n >= 0"),
    OpSpec("add_item_list", (R, N), "x + c elementwise"),
    OpSpec("subtract_item_list", (R, N), "x - c elementwise"),
    OpSpec("modulo_item_list", (R, N), "x % c elementwise (Python sign rules); c != 0"),
    OpSpec("filter", (P, R), "elements of x satisfying is_even / is_odd / is_not_zero"),
    OpSpec("scan_add", (R,), "prefix sums"),
    # two lists in, zipped to the shorter
    OpSpec("add_two_lists", (R, R), "x + y pairwise, truncated to the shorter"),
    OpSpec("subtract_two_lists", (R, R), "x - y pairwise, truncated to the shorter"),
    OpSpec("modulo_two_lists", (R, R), "x % y pairwise, pairs with y == 0 dropped"),
    # combiners
    OpSpec("concatenate", (RS,), "x + y + ... (one or more lists)"),
    OpSpec("interleave", (R, R), "x0, y0, x1, y1, ... then the tail of the longer list"),
]

# KT's uniform prior charges log2(25) per function choice (24 functions + the output line).
FUNCTION_BITS = math.log2(25)

OPS: dict[str, OpSpec] = {}
for _i, _row in enumerate(_ROWS):
    OPS[_row.name] = OpSpec(_row.name, _row.args, _row.doc, _row.dialect, _i)
OPS_BY_CODE: tuple[OpSpec, ...] = tuple(OPS.values())
KT_OPS = tuple(name for name, spec in OPS.items() if spec.dialect == "kt")


def op(name: str) -> OpSpec:
    """The row for `name`, or a ProgramError that suggests the nearest valid name."""
    try:
        return OPS[name]
    except KeyError:
        import difflib

        from ksynth.errors import ProgramError

        near = difflib.get_close_matches(name, OPS, n=1)
        hint = f" (did you mean {near[0]}?)" if near else ""
        raise ProgramError(f"unknown function {name!r}{hint}") from None
