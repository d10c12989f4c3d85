"""The one cost function every strategy shares: bits of a line and of a whole program.

Two objectives (config.objective):
- "kt":   the KT uniform-prior score (ksynth/dsl/score.py), programs restricted to the KT ops.
- "bits": ksynth's real, decodable code length (ksynth/dsl/encode.py: line_bits / bits).

`line_cost(op, args, i, objective)` prices line i (0-based). Arguments that are references may be
given as `Ref` or as any other non-literal object (search nodes): only their count matters here.
`program_cost(program, objective)` is the exact cost of an assembled program; the portfolio ranks
candidates with it. APPROX_INDEX is the line index strategies assume while a program's final line
numbering is not known yet (the reference cost log2(i + 1) depends on it).
"""
from __future__ import annotations

from ksynth.dsl.ops import FUNCTION_BITS, KT_OPS, OPS
from ksynth.dsl.program import Program, Ref
from ksynth.dsl.score import kt_bits, line_kt_bits
from ksynth.errors import UsageError

APPROX_INDEX = 5          # a typical line position in a found program (ref ~ log2(6) = 2.6 bits)
# bits: a rewrite or a candidate counts as cheaper only when it saves more than this. KT costs are
# sums of log2 terms, so two equal programs written in different orders differ by float rounding
# (~1e-14); a real saving is at least a fraction of a bit.
COST_EPS = 1e-9
_KT_OP_SET = frozenset(KT_OPS)


def _encode():
    try:
        from ksynth.dsl import encode
    except ImportError as e:          # the module is another engineer's; keep the error readable
        raise UsageError("objective 'bits' needs ksynth.dsl.encode, which is not available "
                         f"({e}); use --objective kt") from None
    return encode


def _as_refs(args: tuple) -> tuple:
    """Search nodes stand in for references: turn them into Ref(0) so the cost functions accept them."""
    out = []
    for a in args:
        if isinstance(a, (int, tuple, str, Ref)):
            out.append(a)
        elif isinstance(a, list):
            out.append(tuple(Ref(0) if not isinstance(x, Ref) else x for x in a))
        else:
            out.append(Ref(0))
    return tuple(out)


def allowed_ops(objective: str) -> frozenset[str]:
    """Ops a strategy may emit under this objective ("kt" = the 24 KT functions only)."""
    return _KT_OP_SET if objective == "kt" else frozenset(OPS)


def line_cost(op: str, args: tuple, i: int, objective: str = "kt") -> float:
    """Bits of line i (0-based) under the objective. Concatenate's refs may be passed as one list/tuple
    of references or spread as separate arguments."""
    args = _as_refs(args)
    if OPS[op].variadic and len(args) == 1 and isinstance(args[0], tuple) and \
            all(isinstance(a, Ref) for a in args[0]):
        args = args[0]
    if objective == "kt":
        if op not in _KT_OP_SET:
            raise UsageError(f"{op} is not a KT function; the kt objective allows only {len(KT_OPS)} ops")
        return line_kt_bits(op, args, i)
    if objective == "bits":
        return _encode().line_bits(op, args, i)
    raise UsageError(f"unknown objective {objective!r}; choose kt or bits")


def output_cost(n_lines: int, objective: str = "kt") -> float:
    """Bits that do not belong to any line: KT's `output = ...` line, or encode's header."""
    if objective == "kt":
        return FUNCTION_BITS
    return _encode().header_bits(n_lines)


def program_cost(program: Program, objective: str = "kt") -> float:
    """Exact cost of an assembled program. "bits" is the real stream length (an integer)."""
    if objective == "kt":
        bad = [l.op for l in program.lines if l.op not in _KT_OP_SET]
        if bad:
            raise UsageError(f"{bad[0]} is not a KT function; the kt objective allows only KT ops")
        return kt_bits(program)
    if objective == "bits":
        return float(_encode().bits(program))
    raise UsageError(f"unknown objective {objective!r}; choose kt or bits")


def both_costs(program: Program) -> tuple[float, float]:
    """(bits, kt_bits) for a SearchResult; bits is NaN when encode is unavailable."""
    try:
        b = float(_encode().bits(program))
    except UsageError:
        b = float("nan")
    return b, kt_bits(program)
