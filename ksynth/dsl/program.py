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
# Linear time and lean memory on megabyte lines: a line is cut with str.partition / str.split (C
# loops, no regex over the whole line), each piece is classified with a full match of a pattern
# that cannot backtrack (no nested or adjacent quantifiers over the same characters), and every
# reference to one line shares one Ref object. The old line regex (lazy `.*?` before `\s*$`) was
# quadratic on runs of spaces: 200 KB took 20 s.
_INT = re.compile(r"[+-]?[0-9]+")
_NAME = re.compile(r"[A-Za-z_]\w*")
_BRACKET_OR_COMMA = re.compile(r"[\[\],]")
MAX_INT_DIGITS = 40       # far past the +/-2^31 the interpreter accepts; longer is a typo or an attack


def _int(tok: str, lineno: int) -> int:
    digits = len(tok) - (tok[0] in "+-")
    if digits > MAX_INT_DIGITS:
        raise ProgramError(f"an integer of {digits:,} digits is too long (values must stay within "
                           f"+/-2^31)", lineno)
    return int(tok)


def _split_args(body: str, lineno: int) -> list[str]:
    """The comma-separated pieces of a call's body, commas inside [...] kept (pieces unstripped)."""
    if "[" not in body and "]" not in body:
        return body.split(",")
    parts, depth, start = [], 0, 0
    for m in _BRACKET_OR_COMMA.finditer(body):
        ch = m.group()
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth < 0:
                raise ProgramError("unbalanced ']'", lineno)
        elif depth == 0:
            parts.append(body[start:m.start()])
            start = m.end()
    if depth != 0:
        raise ProgramError("unbalanced '['", lineno)
    parts.append(body[start:])
    return parts


def _int_list(tok: str, lineno: int) -> tuple[int, ...]:
    inner = tok[1:-1]
    if not inner.strip():
        return ()
    values = []
    for item in inner.split(","):
        item = item.strip()
        if not _INT.fullmatch(item):
            raise ProgramError(f"a list literal must hold integers only, got {clip(item)}", lineno)
        values.append(_int(item, lineno))
    return tuple(values)


def _parse_arg(tok: str, refs: dict[str, Ref], lineno: int):
    ref = refs.get(tok)                       # the common case first: one dict probe, no regex
    if ref is not None and tok not in PREDICATES:
        return ref
    if _INT.fullmatch(tok):
        return _int(tok, lineno)
    if tok.startswith("[") and tok.endswith("]"):
        return _int_list(tok, lineno)
    if tok in PREDICATES:
        return tok
    if _NAME.fullmatch(tok):
        ref = refs.get(tok)
        if ref is None:
            if tok.startswith("is_"):
                raise ProgramError(f"unknown predicate {clip(tok)}; choose one of {', '.join(PREDICATES)}", lineno)
            raise ProgramError(f"{clip(tok)} is not defined on an earlier line", lineno)
        return ref
    raise ProgramError(f"cannot read argument {clip(tok)}", lineno)


def parse(text: str) -> Program:
    """Parse KT text. Errors name the 1-based source line. Never uses eval/exec."""
    refs: dict[str, Ref] = {}                 # name -> the one Ref to its line
    lines: list[Line] = []
    output = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        code = raw.partition("#")[0].strip()
        if not code:
            continue
        if output is not None:
            raise ProgramError("nothing may follow the 'output = ...' line", lineno)
        name, eq, rhs = code.partition("=")
        name, rhs = name.strip(), rhs.strip()
        if not eq or not _NAME.fullmatch(name):
            raise ProgramError(f"expected 'name = function(args)', got {clip(code)}", lineno)
        if name == "output":
            if rhs not in refs:
                raise ProgramError(f"output must name an earlier sequence, got {clip(rhs)}", lineno)
            output = refs[rhs].index
            continue
        paren = rhs.find("(")
        fname = rhs[:paren].strip()
        if paren < 0 or not rhs.endswith(")") or not _NAME.fullmatch(fname):
            raise ProgramError(f"expected a function call, got {clip(rhs)}", lineno)
        body = rhs[paren + 1:-1]
        tokens = [] if not body.strip() else [t.strip() for t in _split_args(body, lineno)]
        if "" in tokens:
            raise ProgramError("empty argument", lineno)
        args = tuple(_parse_arg(t, refs, lineno) for t in tokens)
        line = Line(fname, args)
        check_line(line, len(lines), lineno)
        if name in refs:
            raise ProgramError(f"{clip(name)} is assigned twice (programs are single-assignment)", lineno)
        refs[name] = Ref(len(lines))
        lines.append(line)
    if not lines:
        raise ProgramError("empty program: no 'sequence = function(...)' lines")
    if output is None:
        raise ProgramError("missing the final 'output = sequence_k' line")
    return Program(tuple(lines), output)
