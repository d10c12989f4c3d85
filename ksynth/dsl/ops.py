"""THE op table: one row per op owns the op (21 KT rows, with filter's three predicates KT's "24 functions"; 3 `ksynth` rows).

A row carries everything the rest of ksynth needs to know about its op:
- `params`: one `Arg` per argument: its kind (what the parser accepts and what the KT uniform
  prior charges, so `score.kt_bits` reads the table), its value domain (checked by the
  interpreter before the body runs), and its code in ksynth's real program code (`encode.py`
  owns the coders; a row only names one, maybe relative to an earlier argument);
- `body`: the semantics, plain Python over lists (the interpreter, the sampler and the search all
  call it: there is no second copy of an op's meaning);
- `size`: the length of the output computed from the arguments and the input lengths alone, so
  a list over the cap is refused before it is built;
- `hooks`: optional search knowledge, read by the strategies instead of naming ops:
    derive(x)         -> [(params, value)]  cheap transforms of a source worth trying as copies
                                              (segment), params without the list argument
    witness(x, t)     -> [params]           the params that make op(x, params) == t (enumerate
                                              closes a value with one more line)
    preimage(t)       -> [x]                lists x with op(x) == t (decompose recurses on x)
The jit body lives in jit.py (`JIT_BODIES`, one entry per row; tests/test_ops.py checks every row
has one). A new op with existing argument kinds is its row here, its jit body and its test.
"""
from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Callable


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


# The predicates filter accepts, in encoding order, with their meaning (the only copy; jit.py has
# the compiled one, checked against this).
PREDICATE_TESTS: dict[str, Callable[[int], bool]] = {
    "is_even": lambda v: v % 2 == 0,
    "is_odd": lambda v: v % 2 == 1,
    "is_not_zero": lambda v: v != 0,
}
PREDICATES = tuple(PREDICATE_TESTS)

MAX_SHIFT = 15                  # lpc: right shift of the prediction, bits
MAX_ORDER = 32                  # lpc: predictor order
MAX_COEFF = 1 << 24             # lpc: |coefficient| bound (32 * 2^24 * 2^31 < 2^63)

# value domains an argument may declare; the interpreter rejects a value outside before the body
DOMAINS: dict[str, tuple[Callable[[int], bool], str]] = {
    "nonneg": (lambda v: v >= 0, "must be >= 0"),
    "pos": (lambda v: v >= 1, "must be >= 1"),
    "nonzero": (lambda v: v != 0, "must not be 0"),
    # lpc's predictor [shift, c1, ..., cp]: bounds that keep every prediction inside int64 in the JIT
    "predictor": (lambda v: 1 <= len(v) <= MAX_ORDER + 1 and 0 <= v[0] <= MAX_SHIFT
                  and all(abs(c) < MAX_COEFF for c in v[1:]),
                  "must be [shift 0..15, then at most 32 coefficients, each |c| < 2^24]"),
    "width": (lambda v: v in (1, 2), "must be 1 or 2 (bytes)"),
}

# default code (encode.py's coder name) of each kind; rows override where an argument is a length
_DEFAULT_CODE = {ArgKind.NUM: "byte", ArgKind.STEP: "step", ArgKind.COUNT: "count",
                 ArgKind.INTS: "literal", ArgKind.PRED: "pred", ArgKind.REF: "ref",
                 ArgKind.REFS: "refs"}


@dataclass(frozen=True)
class Arg:
    """One argument of an op. `code` names encode.py's coder; `base`/`offset`: the coded value is
    value - args[base] + offset (a length in disguise costs less as a length); `name` appears in
    the interpreter's error messages."""

    kind: ArgKind
    name: str = "x"
    domain: str | None = None
    code: str | None = None
    base: int | None = None
    offset: int = 0

    def __post_init__(self):
        if self.code is None:
            object.__setattr__(self, "code", _DEFAULT_CODE[self.kind])
        if self.domain is not None and self.domain not in DOMAINS:
            raise ValueError(f"unknown domain {self.domain!r}")


@dataclass(frozen=True)
class Hooks:
    """Optional search knowledge of one op (see the module doc); None = the search never proposes it."""

    derive: Callable | None = None
    witness: Callable | None = None
    preimage: Callable | None = None


@dataclass(frozen=True)
class OpSpec:
    name: str
    params: tuple[Arg, ...]
    doc: str
    body: Callable
    size: Callable                      # (args with lists resolved) -> output length
    hooks: Hooks = field(default_factory=Hooks)
    dialect: str = "kt"                 # "kt" = the 24 KT functions; "ksynth" = our extensions
    encode_order: tuple[int, ...] | None = None   # argument order in the program code (None: as is)
    code: int = -1                      # dense index, assigned below; the JIT and the encoder use it

    @property
    def args(self) -> tuple[ArgKind, ...]:
        return tuple(p.kind for p in self.params)

    @property
    def variadic(self) -> bool:
        return ArgKind.REFS in self.args

    @property
    def is_initiator(self) -> bool:
        return not any(k in (ArgKind.REF, ArgKind.REFS) for k in self.args)

    @property
    def list_positions(self) -> tuple[int, ...]:
        """Positions of the arguments that are lists (references)."""
        return tuple(k for k, p in enumerate(self.params) if p.kind in (ArgKind.REF, ArgKind.REFS))


# ---- bodies (the semantics: values are Python ints, no wrap-around) --------------------------------
def _interleave(x, y):
    out = []
    for a, b in zip(x, y):
        out += (a, b)
    n = min(len(x), len(y))
    return out + list(x[n:]) + list(y[n:])


def _concatenate(*xs):
    out = []
    for x in xs:
        out += x
    return out


def _slice_len(n: int, a: int, b: int) -> int:
    return len(range(n)[a:b])


def _filtered(p, x):
    test = PREDICATE_TESTS[p]
    return [v for v in x if test(v)]


# ---- search hooks ------------------------------------------------------------------------------------
DERIVE_JUMPS = (2, 3, 4, 5)     # get_subsequence_with_jumps steps tried on a source (KT draws 2..5)
MIN_FILTERED = 2                # a filtered copy must keep at least this many values


def _derive_reverse(x):
    return [((), x[::-1])] if len(x) >= 2 else []


def _derive_scan(x):
    if len(x) < 2:
        return []
    s = tuple(accumulate(x))
    return [((), s)] if s != x and max(s) < 1 << 31 else []


def _derive_filter(x):
    out = []
    for p in PREDICATES:
        w = tuple(_filtered(p, x))
        if MIN_FILTERED <= len(w) < len(x):
            out.append(((p,), w))
    return out


def _derive_jumps(x):
    return [((j,), x[::j]) for j in DERIVE_JUMPS if len(x) > j]


def _derive_top(descending: bool):
    def derive(x):
        ordered = tuple(sorted(x, reverse=descending))
        return [((n,), ordered[:n]) for n in range(2, len(x))]
    return derive


def _witness_shift(sign: int):
    def witness(x, t):
        if len(x) != len(t) or not t:
            return []
        c = sign * (t[0] - x[0])
        return [(c,)] if all(a + sign * c == b for a, b in zip(x, t)) else []
    return witness


def _witness_reverse(x, t):
    return [()] if len(x) == len(t) and tuple(x[::-1]) == tuple(t) else []


def _witness_scan(x, t):
    return [()] if len(x) == len(t) and t and x[0] == t[0] and tuple(accumulate(x)) == tuple(t) else []


def _witness_filter(x, t):
    if len(x) < len(t):
        return []
    return [(p,) for p in PREDICATES if tuple(_filtered(p, x)) == tuple(t)]


def _witness_top(descending: bool):
    def witness(x, t):
        n = len(t)
        if len(x) <= n or tuple(sorted(x, reverse=descending)[:n]) != tuple(t):
            return []
        return [(n,)]
    return witness


def _witness_repeat(x, t):
    m, n = len(x), len(t)
    if m == 0 or n <= m or n % m or tuple(x) * (n // m) != tuple(t):
        return []
    return [(n // m,)]


def _witness_substitute(x, t):
    """The one (a, b) that turns x into t: every element equal to a, and only those, becomes b."""
    if len(x) != len(t):
        return []
    pair = None
    for u, v in zip(x, t):
        if u != v:
            if pair is None:
                pair = (u, v)
            elif pair != (u, v):
                return []
    if pair is None:
        return []
    a, b = pair
    return [pair] if all((v == b) if u == a else (u == v) for u, v in zip(x, t)) else []


def _witness_jumps(x, t):
    """The smallest jump j >= 2 with x[::j] == t (j = 1 would be x itself)."""
    n = len(t)
    if not n or len(x) <= n:
        return []
    t = tuple(t)
    for j in range(2, len(x) // max(n - 1, 1) + 2):
        if len(range(0, len(x), j)) == n and tuple(x[::j]) == t:
            return [(j,)]
    return []


def _preimage_scan(t):
    return [tuple(b - a for a, b in zip((0,) + tuple(t[:-1]), t))] if len(t) >= 2 else []


def _lpc(x, predictor):
    """Restore a linear predictor's residuals x: y[n] = x[n] + (sum_k c_k y[n-1-k]) >> shift,
    predictor = [shift, c1, ..., cp] (FLAC / Shorten style; floor division by 2^shift). The
    first p values, which lack the predictor's history, are predicted by the fixed polynomial
    of the history they have: 0, then y[0], then 2 y[n-1] - y[n-2] (dev audio_16bit: 3.7 bits
    a chunk less than the truncated sum)."""
    shift, coeffs = predictor[0], predictor[1:]
    y = []
    for n, r in enumerate(x):
        if n < len(coeffs):
            guess = 0 if n == 0 else y[0] if n == 1 else 2 * y[n - 1] - y[n - 2]
        else:
            acc = 0
            for k, c in enumerate(coeffs):
                acc += c * y[n - 1 - k]
            guess = acc >> shift
        y.append(r + guess)
    return y


def _bytes_le(x, width):
    """Each value as `width` bytes, little-endian, two's complement (v & 255, (v >> 8) & 255)."""
    if width == 1:
        return [v & 255 for v in x]
    out = []
    for v in x:
        out += (v & 255, (v >> 8) & 255)
    return out


N, S, C, L, P, R, RS = (ArgKind.NUM, ArgKind.STEP, ArgKind.COUNT, ArgKind.INTS, ArgKind.PRED,
                        ArgKind.REF, ArgKind.REFS)

_ROWS = [
    # initiators
    OpSpec("range_func_up", (Arg(N, "s"), Arg(N, "e", code="span", base=0, offset=1)),
           "[s, s+1, ..., e], e inclusive; empty when e < s",
           lambda s, e: list(range(s, e + 1)), lambda s, e: max(e - s + 1, 0)),
    OpSpec("range_func_interval",
           (Arg(N, "s"), Arg(N, "e", code="interval_end", base=0), Arg(S, "step", "nonzero")),
           "Python range(s, e, k), e exclusive; k != 0",
           lambda s, e, k: list(range(s, e, k)), lambda s, e, k: len(range(s, e, k)),
           encode_order=(0, 2, 1)),
    OpSpec("repeat_num", (Arg(C, "count", "nonneg"), Arg(N, "v")), "[v] * n, n >= 0",
           lambda n, v: [v] * n, lambda n, v: n),
    OpSpec("set_list", (Arg(L, "values"),), "the literal list",
           lambda values: list(values), lambda values: len(values)),
    # modifiers
    OpSpec("repeat_list", (Arg(S, "count", "nonneg", code="times"), Arg(R)), "x * n, n >= 0",
           lambda n, x: list(x) * n, lambda n, x: n * len(x),
           Hooks(witness=_witness_repeat)),
    OpSpec("reverse_list", (Arg(R),), "x[::-1]", lambda x: list(x[::-1]), len,
           Hooks(derive=_derive_reverse, witness=_witness_reverse)),
    OpSpec("substitute", (Arg(R), Arg(N, "a"), Arg(N, "b")), "every element equal to a replaced by b",
           lambda x, a, b: [b if v == a else v for v in x], lambda x, a, b: len(x),
           Hooks(witness=_witness_substitute)),
    OpSpec("get_subsequence_with_jumps", (Arg(R), Arg(S, "jump", "pos", code="jump")), "x[::j], j >= 1",
           lambda x, j: list(x[::j]), lambda x, j: len(range(0, len(x), j)),
           Hooks(derive=_derive_jumps, witness=_witness_jumps)),
    OpSpec("get_subsequence_between_indices",
           (Arg(R), Arg(N, "a"), Arg(N, "b", code="span", base=1)), "x[a:b], Python slice semantics",
           lambda x, a, b: list(x[a:b]), lambda x, a, b: _slice_len(len(x), a, b)),
    OpSpec("max_n", (Arg(R), Arg(N, "n", "nonneg", code="span")),
           "the n largest elements, descending; n >= 0",
           lambda x, n: sorted(x, reverse=True)[:n], lambda x, n: min(n, len(x)),
           Hooks(derive=_derive_top(True), witness=_witness_top(True))),
    OpSpec("min_n", (Arg(R), Arg(N, "n", "nonneg", code="span")),
           "the n smallest elements, ascending; n >= 0",
           lambda x, n: sorted(x)[:n], lambda x, n: min(n, len(x)),
           Hooks(derive=_derive_top(False), witness=_witness_top(False))),
    OpSpec("add_item_list", (Arg(R), Arg(N, "c")), "x + c elementwise",
           lambda x, c: [v + c for v in x], lambda x, c: len(x), Hooks(witness=_witness_shift(1))),
    OpSpec("subtract_item_list", (Arg(R), Arg(N, "c")), "x - c elementwise",
           lambda x, c: [v - c for v in x], lambda x, c: len(x), Hooks(witness=_witness_shift(-1))),
    OpSpec("modulo_item_list", (Arg(R), Arg(N, "modulus", "nonzero")),
           "x % c elementwise (Python sign rules); c != 0",
           lambda x, c: [v % c for v in x], lambda x, c: len(x)),
    OpSpec("filter", (Arg(P, "predicate"), Arg(R)),
           "elements of x satisfying is_even / is_odd / is_not_zero",
           _filtered, lambda p, x: len(x), Hooks(derive=_derive_filter, witness=_witness_filter)),
    OpSpec("scan_add", (Arg(R),), "prefix sums", lambda x: list(accumulate(x)), len,
           Hooks(derive=_derive_scan, witness=_witness_scan, preimage=_preimage_scan)),
    # two lists in, zipped to the shorter
    OpSpec("add_two_lists", (Arg(R), Arg(R, "y")), "x + y pairwise, truncated to the shorter",
           lambda x, y: [a + b for a, b in zip(x, y)], lambda x, y: min(len(x), len(y))),
    OpSpec("subtract_two_lists", (Arg(R), Arg(R, "y")), "x - y pairwise, truncated to the shorter",
           lambda x, y: [a - b for a, b in zip(x, y)], lambda x, y: min(len(x), len(y))),
    OpSpec("modulo_two_lists", (Arg(R), Arg(R, "y")), "x % y pairwise, pairs with y == 0 dropped",
           lambda x, y: [a % b for a, b in zip(x, y) if b != 0], lambda x, y: min(len(x), len(y))),
    # combiners
    OpSpec("concatenate", (Arg(RS),), "x + y + ... (one or more lists)",
           _concatenate, lambda *xs: sum(len(x) for x in xs)),
    OpSpec("interleave", (Arg(R), Arg(R, "y")),
           "x0, y0, x1, y1, ... then the tail of the longer list",
           _interleave, lambda x, y: len(x) + len(y)),
    # the `ksynth` dialect (bits objective only): coded literals and predictors for real data
    OpSpec("modeled_list", (Arg(N, "model", "nonneg", code="model"),
                            Arg(N, "param", "nonneg", code="mparam", base=0),
                            Arg(L, "values", code="modeled", base=0)),
           "the literal list, arithmetic-coded under model m with parameter p (dsl/models.py)",
           lambda m, p, values: list(values), lambda m, p, values: len(values), dialect="ksynth"),
    OpSpec("lpc", (Arg(R), Arg(L, "predictor", "predictor", code="predictor")),
           "predictor [s, c1..cp]: y[n] = x[n] + (sum_k c_k y[n-k]) >> s; for n < p: x[n] + 0, y[0], 2 y[n-1] - y[n-2]",
           _lpc, lambda x, p: len(x), dialect="ksynth"),
    OpSpec("bytes_le", (Arg(R), Arg(S, "width", "width", code="width")),
           "each value as 1 or 2 bytes, little-endian two's complement (int8 / int16 samples)",
           _bytes_le, lambda x, w: w * len(x), dialect="ksynth"),
]

# KT's uniform prior charges log2(25) per function choice (24 functions + the output line).
FUNCTION_BITS = math.log2(25)

OPS: dict[str, OpSpec] = {}
for _i, _row in enumerate(_ROWS):
    OPS[_row.name] = OpSpec(_row.name, _row.params, _row.doc, _row.body, _row.size, _row.hooks,
                            _row.dialect, _row.encode_order, _i)
OPS_BY_CODE: tuple[OpSpec, ...] = tuple(OPS.values())
KT_OPS = tuple(name for name, spec in OPS.items() if spec.dialect == "kt")
INITIATORS = tuple(name for name, spec in OPS.items() if spec.is_initiator)


def with_hook(hook: str) -> tuple[OpSpec, ...]:
    """The rows that define search hook `hook` ("derive", "witness", "preimage"), in table order."""
    return tuple(spec for spec in OPS_BY_CODE if getattr(spec.hooks, hook) is not None)


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
