"""The one search-side program structure: a hash-consed DAG of value nodes, and what strategies share.

A `Node` is one line under construction: its op, its arguments (ints, tuples, a predicate name,
and child Nodes in the row's list positions) and its value (a tuple). Nodes are never mutated, so
one child is shared by every line that uses it; `assemble` writes one program line per distinct
value (hash-consing on the value), children first, dead lines pruned.

Building reads the op table (dsl/ops.py), never a second copy of an op's meaning:
- `extend(op, inputs, params)`: one more line on top of existing nodes, its value computed by the
  row's body (with `max_len`, checked the interpreter's way and None when it would be rejected);
- `apply(op, args)`: the value alone, on resolved arguments (tuples for the lists);
- `run_line` / `run_node`: the KT-cheapest initiator of an arithmetic run; `cheapest_initiator`:
  the cheapest initiator of any value under an objective (every form priced).
Converting: `to_nodes` reads SSA lines (a Program's, enumerate's tuples, polish's id-keyed lines)
as Nodes; `lower` writes a Node DAG back as lines (`assemble` and polish's re-cover). `reach` and
`topo` walk any DAG given its edges. `divisors_above` is the modulus search (enumerate, solve).

How each strategy holds a program:
- segment builds its pieces as Nodes (runs, literals, one-line transforms of its copy sources, the
  final concatenate); a caller's pool of Nodes are extra copy sources;
- decompose joins the sub-solutions' Nodes with `extend` (interleave, repeat_list, preimage ops) and
  prices a DAG by walking it (`Node.walk`), each distinct value once;
- enumerate's bank entries are SSA line tuples (its cost memo and its merging key on lines, and a
  child must cost ~10 us); `to_nodes(entry.lines)` gives the same program as Nodes;
- solve writes sketches as SSA lines whose initiators are `run_line`s;
- polish rewrites an id-keyed dict of lines (`_Dag`), walks it with `reach` / `topo`, and crosses
  to Nodes and back (`to_nodes`, `lower`) when the segmenter re-covers one of its lines.
"""
from __future__ import annotations

from collections.abc import Mapping

from ksynth.dsl import interp
from ksynth.dsl.ops import OPS
from ksynth.dsl.program import Line, Program, Ref
from ksynth.search.objective import line_cost


class Node:
    """One line of a program under construction: op, args (ints, tuples, predicate, Node), value."""

    __slots__ = ("op", "args", "value")

    def __init__(self, op: str, args: tuple, value: tuple):
        self.op, self.args, self.value = op, args, value

    def children(self):
        for a in self.args:
            if isinstance(a, Node):
                yield a

    def walk(self) -> list:
        """Every node of the DAG below (and including) this one, children first, each once."""
        return topo((self,), Node.children)

    def __repr__(self):
        return f"Node({self.op}, {len(self.value)} values)"


# ---- one more line ---------------------------------------------------------------------------------
def _shape(spec) -> tuple:
    """(body, k, lists, params) of a row: its list arguments form one block starting at argument
    k (true of every row; checked here), `lists` of them (None: variadic) and `params` others."""
    pos = spec.list_positions
    k = pos[0] if pos else len(spec.params)
    if pos != tuple(range(k, k + len(pos))):
        raise ValueError(f"{spec.name}: list arguments must be adjacent for the search IR")
    return spec.body, k, None if spec.variadic else len(pos), len(spec.params) - len(pos)


_SHAPES = {name: _shape(spec) for name, spec in OPS.items()}


def _split(op: str, inputs, params: tuple):
    """(body, k) of op after checking the argument counts; the row's arguments are then
    params[:k] + inputs + params[k:]."""
    body, k, lists, n_params = _SHAPES[op]
    if (lists is not None and len(inputs) != lists) or len(params) != n_params:
        raise ValueError(f"{op} takes {lists if lists is not None else 'any number of'} lists and "
                         f"{n_params} other arguments, got {len(inputs)} and {len(params)}")
    return body, k


def line_args(op: str, inputs, params: tuple = ()) -> tuple:
    """The row's argument tuple from its list inputs (in order; all of them for a variadic op) and
    its other parameters (in row order). Inputs may be Nodes, Refs or values."""
    _, k = _split(op, inputs, params)
    return (*params[:k], *inputs, *params[k:]) if k else (*inputs, *params)


def apply(op: str, args) -> tuple:
    """The value of op on resolved arguments (tuples or lists for references), by the row's body.
    Arguments must be valid for the op (see extend's max_len for a checked call)."""
    return tuple(_SHAPES[op][0](*args))


def extend(op: str, inputs, params: tuple = (), max_len: int | None = None) -> Node | None:
    """One more line: op on `inputs` (a Node, or a tuple of Nodes, one per list argument; every
    list of a variadic op) and `params` (the other arguments, in row order). Unchecked by default
    (the strategies only build valid lines); with `max_len`, the line is checked like the
    interpreter checks it (domains, output length cap, value limit) and None means rejected."""
    if isinstance(inputs, Node):
        inputs = (inputs,)
    body, k = _split(op, inputs, params)
    values = [x.value for x in inputs]
    if k:
        args, resolved = (*params[:k], *inputs, *params[k:]), (*params[:k], *values, *params[k:])
    else:
        args, resolved = (*inputs, *params), (*values, *params)
    if max_len is None:
        return Node(op, args, tuple(body(*resolved)))
    try:
        value = interp.apply(OPS[op], list(resolved), max_len)
    except interp._Reject:         # the interpreter's refusal: a domain, the length cap, the value limit
        return None
    return Node(op, args, tuple(value))


def literal_node(values) -> Node:
    values = tuple(values)
    return Node("set_list", (values,), values)


# ---- arithmetic runs and initiators ---------------------------------------------------------------
def run_line(s: int, d: int, n: int) -> tuple[str, tuple]:
    """(op, args) of the KT-cheapest initiator for the n-element run s, s + d, ... (n >= 2, or
    d = 0): repeat_num (17 bits) for d = 0, range_func_up (20.6) for d = 1, else
    range_func_interval (23.6). The strategies' fixed choice; `cheapest_initiator` prices forms."""
    if d == 0:
        return "repeat_num", (n, s)
    last = s + d * (n - 1)
    if d == 1:
        return "range_func_up", (s, last)
    return "range_func_interval", (s, last + (1 if d > 0 else -1), d)


def run_node(s: int, d: int, n: int) -> Node:
    op, args = run_line(s, d, n)
    return Node(op, args, apply(op, args))


def initiator_forms(value: tuple) -> list[tuple[str, tuple]]:
    """Every initiator line that produces `value`: the literal, then the run forms that fit."""
    forms = [("set_list", (value,))]
    n = len(value)
    if n >= 1 and len(set(value)) == 1:
        forms.append(("repeat_num", (n, value[0])))
    elif n >= 2:
        d = value[1] - value[0]
        if all(value[i + 1] - value[i] == d for i in range(n - 1)):
            last = value[-1]
            if d == 1:
                forms.append(("range_func_up", (value[0], last)))
            forms.append(("range_func_interval", (value[0], last + (1 if d > 0 else -1), d)))
    return forms


def cheapest_initiator(value: tuple, objective: str) -> tuple[str, tuple]:
    """(op, args) of the cheapest initiator of `value` under the objective (initiators have no
    references, so the price does not depend on the line's position; ties keep the literal)."""
    return min(initiator_forms(value), key=lambda f: line_cost(f[0], f[1], 1, objective))


def divisors_above(g: int, floor: int) -> list[int]:
    """Divisors of |g| greater than floor, ascending (the smallest modulus is the cheapest)."""
    g = abs(g)
    small, large = [], []
    d = 1
    while d * d <= g:
        if g % d == 0:
            small.append(d)
            if d != g // d:
                large.append(g // d)
        d += 1
    return [d for d in small + large[::-1] if d > floor]


# ---- walking and converting -------------------------------------------------------------------------
def reach(k, step) -> set:
    """k and everything reachable from it through `step(x) -> iterable of neighbours`."""
    seen, stack = set(), [k]
    while stack:
        x = stack.pop()
        if x in seen:
            continue
        seen.add(x)
        stack.extend(step(x))
    return seen


def topo(roots, step) -> list:
    """The roots and everything below them through `step(x) -> predecessors`, predecessors first,
    each once, in depth-first visiting order (deterministic when `step` is)."""
    seen, out = set(), []

    def rec(x):
        if x in seen:
            return
        seen.add(x)
        for p in step(x):
            rec(p)
        out.append(x)

    for r in roots:
        rec(r)
    return out


def to_nodes(lines, values=None) -> dict:
    """key -> Node for SSA lines: `lines` maps keys (or, as a sequence, positions) to Line objects
    or (op, args) pairs whose Ref(k) arguments name other keys; `values` gives each key's value the
    same way (computed by the bodies when None). A line used twice becomes one shared Node."""
    lines = dict(lines.items() if isinstance(lines, Mapping) else enumerate(lines))
    nodes: dict = {}

    def node(k):
        hit = nodes.get(k)
        if hit is None:
            line = lines[k]
            op, args = (line.op, line.args) if isinstance(line, Line) else line
            args = tuple(node(a.index) if isinstance(a, Ref) else a for a in args)
            value = tuple(values[k]) if values is not None else \
                apply(op, [a.value if isinstance(a, Node) else a for a in args])
            hit = nodes[k] = Node(op, args, value)
        return hit

    for k in lines:
        node(k)
    return nodes


def lower(root: Node, known, add):
    """Write root's DAG as lines, children first. `known(node)` -> the key of an existing line for
    it, or None; `add(node, args)` -> the key of a new line (args: the node's, with Ref(key) for
    children). Returns the root's key."""
    def rec(n):
        k = known(n)
        if k is None:
            k = add(n, tuple(Ref(rec(a)) if isinstance(a, Node) else a for a in n.args))
        return k

    return rec(root)


def assemble(root: Node, share: bool = True) -> Program:
    """The Program for a node DAG: children first, dead lines pruned. `share`: one line per
    distinct value (equal values built in different places merge); off: one line per node."""
    lines: list[Line] = []
    index: dict = {}

    def add(n, args):
        index[n.value if share else id(n)] = len(lines)
        lines.append(Line(n.op, args))
        return len(lines) - 1

    out = lower(root, lambda n: index.get(n.value if share else id(n)), add)
    return Program.build(lines, out).pruned()
