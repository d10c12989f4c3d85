"""Program: immutable SSA lines, the KT text format (parse/format, lossless) and a networkx DAG view.

Text form, one line per statement, value comments after '#' ignored:
    sequence_1 = range_func_up(3, 9)
    sequence_2 = reverse_list(sequence_1)
    sequence_3 = concatenate(sequence_1, sequence_2)
    output = sequence_3
Names are free identifiers in the input; `format()` always writes sequence_1, sequence_2, ...
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Union

from ksynth.dsl.ops import OPS, PREDICATES, ArgKind, op
from ksynth.errors import QUOTE_CHARS, ProgramError, clip


@dataclass(frozen=True, order=True)
class Ref:
    """A reference to an earlier line, by 0-based line index."""

    index: int

    def __repr__(self) -> str:
        return f"Ref({self.index})"


Arg = Union[int, tuple, str, Ref]   # int literal, literal int list (set_list), predicate name, Ref


@dataclass(frozen=True)
class Line:
    op: str
    args: tuple

    def refs(self) -> tuple[Ref, ...]:
        return tuple(a for a in self.args if isinstance(a, Ref))


@dataclass(frozen=True)
class Program:
    """SSA lines and the index of the output line. Build with `Program.build` to validate."""

    lines: tuple[Line, ...]
    output: int

    # ---- construction -------------------------------------------------------------------
    @classmethod
    def build(cls, lines, output: int | None = None) -> "Program":
        """Validate and freeze. `lines` are Line objects or (op, args) pairs; output defaults to last."""
        frozen = []
        for i, item in enumerate(lines):
            line = item if isinstance(item, Line) else Line(item[0], tuple(item[1]))
            line = Line(line.op, tuple(tuple(a) if isinstance(a, list) else a for a in line.args))
            check_line(line, i)
            frozen.append(line)
        if not frozen:
            raise ProgramError("a program needs at least one line")
        out = len(frozen) - 1 if output is None else output
        if not 0 <= out < len(frozen):
            raise ProgramError(f"output refers to line {out + 1}, but the program has {len(frozen)} lines")
        return cls(tuple(frozen), out)

    @classmethod
    def parse(cls, text: str) -> "Program":
        return parse(text)

    # ---- views ----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.lines)

    def format(self, values: list | None = None) -> str:
        """KT text. `values` (one list per line) are appended as '# ...' comments when given."""
        out = []
        for i, line in enumerate(self.lines):
            text = f"sequence_{i + 1} = {line.op}({', '.join(_format_arg(a) for a in line.args)})"
            if values is not None:
                text += f"  # {list(values[i])}"
            out.append(text)
        out.append(f"output = sequence_{self.output + 1}")
        return "\n".join(out)

    def __str__(self) -> str:
        return self.format()

    def graph(self):
        """networkx DiGraph: node i per line (attribute `op`), edge j -> i when line i uses line j."""
        import networkx as nx

        g = nx.DiGraph()
        for i, line in enumerate(self.lines):
            g.add_node(i, op=line.op)
            for r in line.refs():
                g.add_edge(r.index, i)
        return g

    def live(self) -> list[int]:
        """Indices of the lines the output depends on, in order."""
        import networkx as nx

        return sorted(nx.ancestors(self.graph(), self.output) | {self.output})

    def pruned(self) -> "Program":
        """Drop dead lines (not reachable from the output) and renumber references."""
        keep = self.live()
        if len(keep) == len(self.lines) and self.output == len(self.lines) - 1:
            return self
        new_index = {old: new for new, old in enumerate(keep)}
        lines = []
        for old in keep:
            line = self.lines[old]
            args = tuple(Ref(new_index[a.index]) if isinstance(a, Ref) else a for a in line.args)
            lines.append(Line(line.op, args))
        return Program(tuple(lines), new_index[self.output])

    def ops_used(self) -> set[str]:
        return {line.op for line in self.lines}


def _format_arg(a) -> str:
    if isinstance(a, Ref):
        return f"sequence_{a.index + 1}"
    if isinstance(a, tuple):
        return "[" + ", ".join(str(v) for v in a) + "]"
    return str(a)


def check_line(line: Line, i: int, source_line: int | None = None) -> None:
    """Arity and argument kinds of line i against the op table; references must point backwards."""
    where = source_line if source_line is not None else i + 1
    spec = OPS.get(line.op)
    if spec is None:
        if len(line.op) > QUOTE_CHARS:          # no did-you-mean for a name that long
            raise ProgramError(f"unknown function {clip(line.op)}", where)
        try:
            op(line.op)
        except ProgramError as e:
            raise ProgramError(str(e), where) from None
    kinds = spec.args
    if spec.variadic:
        if len(line.args) < 1:
            raise ProgramError(f"{line.op} takes one or more sequences, got none", where)
        kinds = (ArgKind.REF,) * len(line.args)
    elif len(line.args) != len(kinds):
        raise ProgramError(f"{line.op} takes {len(kinds)} argument(s) "
                           f"({', '.join(k.label for k in kinds)}), got {len(line.args)}", where)
    for pos, (kind, a) in enumerate(zip(kinds, line.args), 1):
        bad = None
        if kind is ArgKind.REF:
            if not isinstance(a, Ref):
                bad = "a sequence name"
            elif not 0 <= a.index < i:
                raise ProgramError(f"argument {pos} of {line.op} refers to a line that is not "
                                   f"defined before this one", where)
        elif kind is ArgKind.INTS:
            if not (isinstance(a, tuple) and all(type(v) is int for v in a)):
                bad = "a list of integers"
        elif kind is ArgKind.PRED:
            if a not in PREDICATES:
                bad = "one of " + ", ".join(PREDICATES)
        elif type(a) is not int:
            bad = "an integer"
        if bad:
            raise ProgramError(f"argument {pos} of {line.op} must be {bad}, got {clip(_format_arg(a))}", where)


# ---- parsing --------------------------------------------------------------------------------
# A tokenizer and a small recursive-descent reader: every character is looked at a bounded number
# of times, so parsing is linear in the text (a megabyte line parses in well under a second). The
# token pattern has no nested quantifiers, so the regex engine cannot backtrack over long runs.
_TOKEN = re.compile(r"([A-Za-z_]\w*)|([+-]?[0-9]+)|([=(),\[\]])|(\S)")
MAX_INT_DIGITS = 40       # far past the +/-2^31 the interpreter accepts; longer is a typo or an attack
NAME, INT, PUNCT, BAD = "name", "int", "punct", "bad"


def _tokens(code: str) -> list[tuple[str, str]]:
    """(kind, text) for each token of one source line (its comment already removed).

    findall tries each position once (whitespace matches no alternative and is skipped).
    """
    return [(NAME, a) if a else (INT, b) if b else (PUNCT, c) if c else (BAD, d)
            for a, b, c, d in _TOKEN.findall(code)]


def _int(text: str, lineno: int) -> int:
    digits = len(text.lstrip("+-"))
    if digits > MAX_INT_DIGITS:
        raise ProgramError(f"an integer of {digits:,} digits is too long (values must stay "
                           f"within +/-2^31)", lineno)
    return int(text)


class _Reader:
    """The tokens of one source line, read left to right once."""

    def __init__(self, tokens: list[tuple[str, str]], lineno: int):
        self.tokens, self.pos, self.lineno = tokens, 0, lineno

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def next(self) -> tuple[str, str] | None:
        tok = self.peek()
        self.pos += 1
        return tok

    def fail(self, message: str):
        raise ProgramError(message, self.lineno)

    def args(self, names: dict[str, int]) -> tuple:
        """The arguments after '(' up to and including the closing ')'."""
        if self.peek() == (PUNCT, ")"):
            self.pos += 1
            return ()
        args = []
        while True:
            args.append(self.arg(names))
            tok = self.next()
            if tok == (PUNCT, ")"):
                return tuple(args)
            if tok != (PUNCT, ","):
                self.unexpected(tok, "',' or ')'")

    def arg(self, names: dict[str, int]):
        tok = self.next()
        if tok is None:
            self.fail("missing ')'")
        kind, text = tok
        if kind == INT:
            return _int(text, self.lineno)
        if tok == (PUNCT, "["):
            return self.int_list()
        if tok in ((PUNCT, ","), (PUNCT, ")")):
            self.fail("empty argument")
        if tok == (PUNCT, "]"):
            self.fail("unbalanced ']'")
        if kind == NAME:
            if text in PREDICATES:
                return text
            if text not in names:
                if text.startswith("is_"):
                    self.fail(f"unknown predicate {clip(text)}; choose one of {', '.join(PREDICATES)}")
                self.fail(f"{clip(text)} is not defined on an earlier line")
            return Ref(names[text])
        self.fail(f"cannot read argument {clip(text)}")

    def int_list(self) -> tuple[int, ...]:
        """The integers after '[' up to and including the closing ']'."""
        tokens, pos, n = self.tokens, self.pos, len(self.tokens)
        values = []
        if pos < n and tokens[pos] == (PUNCT, "]"):
            self.pos = pos + 1
            return ()
        while True:                      # INT (',' INT)* ']'
            if pos >= n or tokens[pos] == (PUNCT, ")"):
                self.fail("unbalanced '['")
            kind, text = tokens[pos]
            if kind != INT:
                self.fail(f"a list literal must hold integers only, got {clip(text)}")
            values.append(int(text) if len(text) <= MAX_INT_DIGITS else _int(text, self.lineno))
            pos += 1
            if pos >= n or tokens[pos] == (PUNCT, ")"):
                self.fail("unbalanced '['")
            sep = tokens[pos]
            pos += 1
            if sep == (PUNCT, "]"):
                self.pos = pos
                return tuple(values)
            if sep != (PUNCT, ","):
                self.fail(f"a list literal must hold integers only, got {clip(sep[1])}")

    def unexpected(self, tok, wanted: str):
        if tok is None:
            self.fail(f"missing {wanted[-3:]}")
        self.fail(f"expected {wanted}, got {clip(tok[1])}")


def parse(text: str) -> Program:
    """Parse KT text. Errors name the 1-based source line. Never uses eval/exec."""
    names: dict[str, int] = {}
    lines: list[Line] = []
    output = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        code = raw.partition("#")[0]
        tokens = _tokens(code)
        if not tokens:
            continue
        if output is not None:
            raise ProgramError("nothing may follow the 'output = ...' line", lineno)
        if len(tokens) < 2 or tokens[0][0] != NAME or tokens[1] != (PUNCT, "="):
            raise ProgramError(f"expected 'name = function(args)', got {clip(code.strip())}", lineno)
        name = tokens[0][1]
        rhs = tokens[2:]
        if name == "output":
            if len(rhs) != 1 or rhs[0][1] not in names:
                got = code.partition("=")[2].strip()
                raise ProgramError(f"output must name an earlier sequence, got {clip(got)}", lineno)
            output = names[rhs[0][1]]
            continue
        if len(rhs) < 2 or rhs[0][0] != NAME or rhs[1] != (PUNCT, "("):
            got = code.partition("=")[2].strip()
            raise ProgramError(f"expected a function call, got {clip(got)}", lineno)
        reader = _Reader(rhs, lineno)
        reader.pos = 2
        args = reader.args(names)
        if reader.peek() is not None:
            reader.fail(f"unexpected {clip(reader.peek()[1])} after the closing ')'")
        line = Line(rhs[0][1], args)
        check_line(line, len(lines), lineno)
        if name in names:
            raise ProgramError(f"{clip(name)} is assigned twice (programs are single-assignment)", lineno)
        names[name] = len(lines)
        lines.append(line)
    if not lines:
        raise ProgramError("empty program: no 'sequence = function(...)' lines")
    if output is None:
        raise ProgramError("missing the final 'output = sequence_k' line")
    return Program(tuple(lines), output)
