"""The KT DSL: op table, programs, reference interpreter, encodings and the synthetic sampler."""
from ksynth.dsl.ops import OPS, OpSpec, ArgKind, PREDICATES, op
from ksynth.dsl.program import Program, Line, Ref
from ksynth.dsl.interp import run, run_lines, DEFAULT_MAX_LEN, VALUE_LIMIT
from ksynth.dsl.score import kt_bits

__all__ = ["OPS", "OpSpec", "ArgKind", "PREDICATES", "op", "Program", "Line", "Ref", "run",
           "run_lines", "DEFAULT_MAX_LEN", "VALUE_LIMIT", "kt_bits"]
