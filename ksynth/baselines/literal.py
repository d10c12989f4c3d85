"""The literal program: `sequence_1 = set_list([...])`, `output = sequence_1`.

It is the program every sequence has, so it bounds what search must beat on a single item.
`encode` is ksynth's real decodable program code (ksynth.dsl.encode) of that program and `bits` its
exact length; `kt_bits` is the KT uniform-prior score of the same program (KT.md section 3:
log2(25) + 8 per value + log2(25) for the output line), which is what the paper's rate counts.
`decode` accepts any program the code can hold and runs it with the reference interpreter.
"""
from __future__ import annotations

from ksynth.dsl import encode as program_code
from ksynth.dsl.interp import run
from ksynth.dsl.program import Program
from ksynth.dsl.score import kt_bits as _kt_bits
from ksynth.errors import CorruptInput, ProgramError


def literal_program(data: bytes) -> Program:
    return Program.build([("set_list", (tuple(bytes(data)),))])


class Literal:
    name = "literal"

    def encode(self, data: bytes) -> bytes:
        return program_code.encode(literal_program(data))

    def decode(self, blob: bytes) -> bytes:
        program = program_code.decode(bytes(blob))          # CorruptInput on a bad stream
        try:
            values = run(program)
        except ProgramError as e:
            raise CorruptInput(f"literal blob decodes to a program that does not run: {e}") from None
        if any(not 0 <= v <= 255 for v in values):
            raise CorruptInput("literal blob decodes to a program whose output is not bytes")
        return bytes(values)

    def bits(self, data: bytes) -> int:
        return program_code.bits(literal_program(data))

    def kt_bits(self, data: bytes) -> float:
        return _kt_bits(literal_program(data))

    def __repr__(self) -> str:
        return f"<baseline {self.name}>"
