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
from ksynth.errors import ProgramError


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
            raise ProgramError(f"argument {pos} of {line.op} must be {bad}, got {_format_arg(a)!s}", where)


# ---- parsing --------------------------------------------------------------------------------
_ASSIGN = re.compile(r"^\s*([A-Za-z_]\w*)\s*=\s*(.*?)\s*$")
_CALL = re.compile(r"^([A-Za-z_]\w*)\s*\((.*)\)$", re.S)
_INT = re.compile(r"^[+-]?\d+$")
_NAME = re.compile(r"^[A-Za-z_]\w*$")


def _split_args(body: str, lineno: int) -> list[str]:
    parts, depth, cur = [], 0, []
    for ch in body:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth < 0:
                raise ProgramError("unbalanced ']'", lineno)
        if ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    if depth != 0:
        raise ProgramError("unbalanced '['", lineno)
    tail = "".join(cur).strip()
    if tail or parts:
        parts.append(tail)
    return parts


def _parse_arg(tok: str, names: dict[str, int], lineno: int):
    if _INT.match(tok):
        return int(tok)
    if tok.startswith("[") and tok.endswith("]"):
        inner = tok[1:-1].strip()
        items = [t.strip() for t in inner.split(",")] if inner else []
        if not all(_INT.match(t) for t in items):
            raise ProgramError(f"a list literal must hold integers only: {tok}", lineno)
        return tuple(int(t) for t in items)
    if tok in PREDICATES:
        return tok
    if _NAME.match(tok):
        if tok not in names:
            if tok.startswith("is_"):
                raise ProgramError(f"unknown predicate {tok!r}; choose one of {', '.join(PREDICATES)}", lineno)
            raise ProgramError(f"{tok} is not defined on an earlier line", lineno)
        return Ref(names[tok])
    raise ProgramError(f"cannot read argument {tok!r}", lineno)


def parse(text: str) -> Program:
    """Parse KT text. Errors name the 1-based source line. Never uses eval/exec."""
    names: dict[str, int] = {}
    lines: list[Line] = []
    output = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        code = raw.split("#", 1)[0].strip()
        if not code:
            continue
        if output is not None:
            raise ProgramError("nothing may follow the 'output = ...' line", lineno)
        m = _ASSIGN.match(code)
        if not m:
            raise ProgramError(f"expected 'name = function(args)', got {code!r}", lineno)
        name, rhs = m.groups()
        if name == "output":
            if rhs not in names:
                raise ProgramError(f"output must name an earlier sequence, got {rhs!r}", lineno)
            output = names[rhs]
            continue
        call = _CALL.match(rhs)
        if not call:
            raise ProgramError(f"expected a function call, got {rhs!r}", lineno)
        fname, body = call.groups()
        tokens = _split_args(body, lineno)
        if any(t == "" for t in tokens):
            raise ProgramError("empty argument", lineno)
        args = tuple(_parse_arg(t, names, lineno) for t in tokens)
        line = Line(fname, args)
        check_line(line, len(lines), lineno)
        if name in names:
            raise ProgramError(f"{name} is assigned twice (programs are single-assignment)", lineno)
        names[name] = len(lines)
        lines.append(line)
    if not lines:
        raise ProgramError("empty program: no 'sequence = function(...)' lines")
    if output is None:
        raise ProgramError("missing the final 'output = sequence_k' line")
    return Program(tuple(lines), output)
