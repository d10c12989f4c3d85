"""kt_bits: the KT uniform-prior program length (KT.md section 3). A score, not a decodable code."""
from __future__ import annotations

import math

from ksynth.dsl.ops import FUNCTION_BITS, OPS, ArgKind


def line_kt_bits(op_name: str, args: tuple, i: int) -> float:
    """Bits of line i (0-based): function choice + argument costs, a reference costing log2(i + 1)."""
    ref = math.log2(i + 1)
    bits = FUNCTION_BITS
    spec = OPS[op_name]
    for kind, a in zip(spec.args, args):
        if kind is ArgKind.REF:
            bits += ref
        elif kind is ArgKind.REFS:
            bits += 2 * ref           # concatenate: flat, whatever the arity
        elif kind is ArgKind.INTS:
            bits += 8.0 * len(a)
        else:
            bits += kind.fixed_bits
    return bits


def kt_bits(program) -> float:
    """Total KT bits of a Program: every line (dead ones included, as written) + the output line."""
    return sum(line_kt_bits(l.op, l.args, i) for i, l in enumerate(program.lines)) + FUNCTION_BITS
