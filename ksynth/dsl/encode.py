"""ksynth's real, decodable program code (`bits`, `encode`, `decode`) beside the KT score (`kt_bits`).

A program is written as a sequence of SYMBOLS, each a digit d with a known radix m (0 <= d < m, m >= 2;
a choice with one option is implied and writes nothing). The decoder always knows the radix of the
next symbol from the symbols before it. All symbols together form ONE mixed-radix integer, first
symbol least significant:

    N = d_0 + m_0 * (d_1 + m_1 * (d_2 + ...)),        M = m_0 * m_1 * ... (the number of messages)

so fractional bits add up exactly (this is arithmetic coding with a uniform distribution per symbol).
The stream's length is `bits = ceil(log2 M)` bits (M = 1 would be 0 bits; every program has M >= 4);
`encode` writes N little-endian in ceil(bits / 8) bytes. Decoding peels digits off: d = N mod m,
N = N div m. After the last symbol N must be 0 and the byte count must equal ceil(bits / 8).

Symbol alphabets, in stream order (i is the 0-based line index, n the number of lines):

  first op    line 0's op, one of the initiators (ops that take no list: 4 KT + modeled_list)
              under the fixed row FIRST_OP_FREQS of total 16, slots in op-table order: each KT
              initiator one slot (4 bits: a digit of radix 16, the slot its value), modeled_list
              the other 12 (0.415 bits: every program on natural data starts with it). When it is
              modeled_list, the FORM symbol follows (below): a form is the whole program in its
              own code; the escape continues here as for any program.
  header      n with the LENGTH code (below); then the output line: one binary digit, 0 = the last
              line; 1 = another line, followed by a digit of radix n - 1 (index, if n > 2).
  each line   op (line 0's was written first): later lines uniform over all ops (radix 24: 21 KT
              rows + 3 ksynth rows), digit = the op's position in that list (ops.py order).
              Then the arguments, in the row's `encode_order` (default: op-table order), each
              with the coder its `Arg.code` names (CODERS below; the rows of ops.py choose):
    REF       an earlier line, radix i, digit = its index.
    REFS      arity with the ARITY code, then one REF per argument.
    byte      (NUM) radix 257: 0..255 is the value itself; 256 = escape, then in the GAMMA code the
              rank of the value in the order 256, -1, 257, -2, 258, ... (outward from the window's edges).
    span      a NUM that is a length, SPAN-coded, as value - args[base] + offset when the row names
              a base: range_func_up's e as e - s + 1, get_subsequence_between_indices's b as b - a,
              max_n / min_n's n as is.
    INTS      the list length L with the LENGTH code; when ENUM_MIN_LEN <= L <= ENUM_MAX_LEN a binary
              digit follows: 0 = PLAIN, 1 = ENUMERATIVE (shorter lists are always PLAIN).
              PLAIN: each element as a NUM. ENUMERATIVE (all elements in 0..255; an order-0 code that
              pays for the symbol counts once and then for the order alone):
                d - 1, radix min(L, 256), d = the number of distinct values;
                the set of distinct values, radix C(256, d): rank sum_j C(v_j, j) over the values
                v_1 < ... < v_d numbered j = 1..d (combinatorial number system);
                their counts (ascending value order, each >= 1, summing to L) as the cut points
                c_1, c_1 + c_2, ... (d - 1 of the numbers 1..L-1), radix C(L - 1, d - 1), ranked
                the same way with each cut point minus 1;
                the order, radix L! / prod(counts!): the rank of the list among all arrangements of
                that multiset in lexicographic order.
              The encoder uses ENUMERATIVE exactly when it is allowed and its radix product is
              smaller than 257^L; a stream with the other choice is rejected as non-canonical.
    COUNT     (repeat_num count) the COUNT code.
    STEP      range step: STEP code; get_subsequence_with_jumps: JUMP code; repeat_list: TIMES code.
  range_func_interval(s, e, k) is written in the order s (NUM), k (STEP), e: with a = |k| and
  d = sign(k) (e - s), d = (q - 1) a + 1 + r with 0 <= r < a, so q is the list's length when d > 0;
  q with the SPAN code, then r: one binary digit, 0 when r = 0 (the tight end), else 1 followed
  by r - 1 in radix a - 1 (no digits when a = 1, no second digit when a = 2).
    PRED      radix 3: is_even, is_odd, is_not_zero.

A WINDOWED code (domain, window W of k values) is a digit of radix k + 1: digit w < k is W[w]; digit k is
an escape followed by the GAMMA code of the value's rank among the domain's values outside W, the
domain listed in zigzag order. Zigzag order: ints 0, -1, 1, -2, 2, ... (u = 2v for v >= 0, -2v - 1
for v < 0); nonzero ints: 1, -1, 2, -2, ...; ints >= 1 or >= 0: ascending.
    LENGTH  domain >= 0 (line count: >= 1), W = 1..32         COUNT  domain >= 0, W = 1..32
    STEP    domain != 0, W = 2, 3, 4, 5, -1, -2, -3, -4       JUMP   domain >= 1, W = 2..9
    TIMES   domain >= 0, W = 2..9                              ARITY  domain >= 1, W = 2, 3
    SPAN    any int, W = 1..32, escape order outward from W: 33, 0, 34, -1, 35, -2, ...
    BLOCK   domain >= 0, W = 1, 2, 4, ..., 65536            ORDER  domain >= 0, W = 1..8
The GAMMA code of a rank r >= 0 writes x = r + 1 with k = floor(log2 x): k binary digits 1, one binary
digit 0, then the k bits of x below its leading 1, least significant first (2k + 1 binary digits).
Continuation digits are 1 so that an exhausted N (all further digits 0) ends every loop.

MODELED symbols (the `ksynth` dialect's modeled_list, ksynth/dsl/models.py): a symbol may also be a
triple (c, f, T), a value of probability f / T owning the slot [c, c + f) of T. The stream is then
big-integer rANS, of which the mixed-radix code is the case f = 1: encoding (last symbol first)
maps N to (N div f) T + c + (N mod f), decoding takes slot = N mod T, finds its value, and sets
N = f (N div T) + slot - c. A message's bound B (N < B) is built the same way: a digit of radix m
multiplies it (B m, as before, so programs without modeled symbols keep their exact length), a
triple maps it to enc(B - 1) + 1 (enc is increasing, so N < B still holds); `bits` is
ceil(log2 B), about the sum of log2(T / f) over the triples. Arguments coded this way:
    model     radix len(models.MODELS): which model.
    mparam    radix the model's `param_radix`: its parameter (an initial scale, a mixing weight).
    modeled   the length with the BLOCK code, then each value under the line's model and param.
    width     radix 2: bytes_le's width, 1 or 2 bytes.
    predictor lpc's [shift, c1, ..., cp]: a digit of radix len(book) + 1 over the shared predictor
              codebook (models.predictor_book(), a trained prior); the last digit = explicit:
              the shift in radix 16, the order p with the ORDER code, then each coefficient
              with the WINDOWED code over -2^(s+2) .. 2^(s+2) - 1: a digit of radix 2^(s+3) + 1,
              the escape followed by GAMMA as for any windowed code.

FORMS (the `ksynth` dialect's commonest programs; models.CHAINS, models.program_prior()): a program
modeled_list(m, p, v), then optionally lpc(sequence_1, predictor), then optionally
bytes_le(previous, w) or (after lpc) modulo_item_list(previous, 255), the ones' complement bytes,
output the last line, is a form (m, chain). The chains, in index order: none, bytes_le 1,
bytes_le 2, lpc + bytes_le 1, lpc + bytes_le 2, lpc + modulo 255. After the first op digit:
    form      one modeled symbol over the forms (model x chain, index m * len(CHAINS) + chain) and
              an escape (the last index: the generic code follows, which must not hold a form);
    param     modeled under the model's trained row P(param | m) (nothing when its radix is 1);
    length    one modeled symbol, P = 63/64 that the list is the standard 128 / w values (w = 1
              but for bytes_le 2), else BLOCK-coded (then it is not the standard length);
    predictor (a chain with lpc) modeled under P(codebook index | m), the last index = explicit,
              then the explicit predictor as above (not a book entry);
    values    under model m and param p (modeled above). They end the stream, so their last
              symbols are the first the rANS encoder takes: the residual models put every
              value's raw digits (mantissa bits, sign) after all the modeled buckets, the
              other models code their last few values with coarse rows whose slots are ordered
              by frequency (models.py, the tail).
The rows are forms.prior (packed -log2 p in 1/3-bit steps, trained on dev; uniform rows when it
is not built). A KT program's symbols are digits only (its first op a digit of radix 16), in the
order above: its length is the uniform code's with 4 bits for line 0's op.

Corrupt input never hangs: each symbol adds >= 1 bit to log2 M, and decoding stops with CorruptInput
as soon as that sum passes 8 * len(data);
a modeled list is at most its model's max_len values (MAX_MODELED_LEN, the text net's
TEXT_MAX_LEN) and its symbols' log2(T / f) are summed
against the same limit. Every decoded program is well formed (the alphabets only
hold valid choices); whether it runs is the interpreter's business.

`line_bits(op, args, i)` is the exact additive cost (sum of log2 radix) of line i and `header_bits(n,
output)` that of the header, so sum(line_bits) + header_bits <= bits < that + 1 (up to float rounding)
for a program without modeled symbols; `program_bits_float` also prices forms.
"""
from __future__ import annotations

import math
from functools import lru_cache

from ksynth.dsl import models
from ksynth.dsl.ops import OPS_BY_CODE, PREDICATES, ArgKind
from ksynth.dsl.program import Line, Program, Ref
from ksynth.dsl.score import kt_bits, line_kt_bits
from ksynth.errors import CorruptInput, ProgramError

__all__ = ["bits", "encode", "decode", "line_bits", "header_bits", "program_bits_float", "kt_bits",
           "line_kt_bits"]

ALL_OPS = tuple(spec.name for spec in OPS_BY_CODE)
INITIAL_OPS = tuple(spec.name for spec in OPS_BY_CODE if spec.is_initiator)
_OP_INDEX_ALL = {name: k for k, name in enumerate(ALL_OPS)}
_OP_INDEX_INITIAL = {name: k for k, name in enumerate(INITIAL_OPS)}
FIRST_OP_TOTAL = 16                   # line 0's op row: modeled_list 12 / 16 (0.415 bits), each KT
FIRST_OP_FREQS = tuple(12 if op == "modeled_list" else 1 for op in INITIAL_OPS)   # initiator 1 / 16
FIRST_OP_CUMS = tuple(sum(FIRST_OP_FREQS[:k]) for k in range(len(INITIAL_OPS)))
assert sum(FIRST_OP_FREQS) == FIRST_OP_TOTAL
_PRED_INDEX = {p: k for k, p in enumerate(PREDICATES)}
NUM_RADIX = 257                       # 0..255 plus escape


# ---- domains and windowed codes ---------------------------------------------------------------
def _zig(v: int, domain: str) -> int:
    """Position of v in the domain's zigzag order (see the module docstring)."""
    if domain == "int":
        return 2 * v if v >= 0 else -2 * v - 1
    if domain == "nonzero":
        return 2 * v - 2 if v > 0 else -2 * v - 1
    if domain == "pos":
        return v - 1
    return v                                           # "nonneg"


def _unzig(u: int, domain: str) -> int:
    if domain == "int":
        return u // 2 if u % 2 == 0 else -(u + 1) // 2
    if domain == "nonzero":
        return u // 2 + 1 if u % 2 == 0 else -(u + 1) // 2
    if domain == "pos":
        return u + 1
    return u


def _in_domain(v: int, domain: str) -> bool:
    return {"int": True, "nonzero": v != 0, "pos": v >= 1, "nonneg": v >= 0}[domain]


class _Windowed:
    """A windowed code: one digit of radix len(window) + 1, escape -> GAMMA rank outside the window."""

    def __init__(self, domain: str, window: tuple[int, ...]):
        self.domain, self.window = domain, window
        self.index = {v: k for k, v in enumerate(window)}
        self.window_u = sorted(_zig(v, domain) for v in window)
        self.radix = len(window) + 1
        self.digit_bits = math.log2(self.radix)

    def symbols(self, v: int) -> list[tuple[int, int]]:
        if not _in_domain(v, self.domain):
            raise ProgramError(f"value {v} cannot be encoded (outside the {self.domain} domain)")
        k = self.index.get(v)
        if k is not None:
            return [(k, self.radix)]
        return [(len(self.window), self.radix)] + _gamma_symbols(self.rank(v))

    def rank(self, v: int) -> int:
        """Position of v among the domain's values outside the window (escape order)."""
        u = _zig(v, self.domain)
        return u - sum(1 for w in self.window_u if w < u)

    def unrank(self, u: int) -> int:
        for w in self.window_u:              # ascending: undo the skipped window positions
            if w <= u:
                u += 1
        return _unzig(u, self.domain)

    def read(self, reader: "_Reader") -> int:
        d = reader.digit(self.radix)
        if d < len(self.window):
            return self.window[d]
        return self.unrank(_gamma_read(reader))

    def bits(self, v: int) -> float:
        if v in self.index:
            return self.digit_bits
        if not _in_domain(v, self.domain):
            raise ProgramError(f"value {v} cannot be encoded (outside the {self.domain} domain)")
        return self.digit_bits + _gamma_bits(self.rank(v))


def _gamma_symbols(rank: int) -> list[tuple[int, int]]:
    x = rank + 1
    k = x.bit_length() - 1
    out = [(1, 2)] * k + [(0, 2)]
    out += [((x >> b) & 1, 2) for b in range(k)]
    return out


def _gamma_bits(rank: int) -> int:
    return 2 * (rank + 1).bit_length() - 1


def _gamma_read(reader: "_Reader") -> int:
    k = 0
    while reader.digit(2) == 1:
        k += 1
    x = 1 << k
    for b in range(k):
        x |= reader.digit(2) << b
    return x - 1


class _Byte(_Windowed):
    """NUM: window 0..255; escaped values alternate outward from its edges: 256, -1, 257, -2, ..."""

    def __init__(self):
        super().__init__("int", tuple(range(256)))

    def rank(self, v: int) -> int:
        return 2 * (v - 256) if v >= 256 else -2 * v - 1

    def unrank(self, u: int) -> int:
        return 256 + u // 2 if u % 2 == 0 else -(u + 1) // 2


class _Span(_Windowed):
    """SPAN: any int, window 1..32; escaped values alternate outward: 33, 0, 34, -1, 35, -2, ..."""

    def __init__(self):
        super().__init__("int", tuple(range(1, 33)))

    def rank(self, v: int) -> int:
        return 2 * (v - 33) if v >= 33 else -2 * v + 1

    def unrank(self, u: int) -> int:
        return 33 + u // 2 if u % 2 == 0 else -(u - 1) // 2


LENGTH = _Windowed("nonneg", tuple(range(1, 33)))
LINES = _Windowed("pos", tuple(range(1, 33)))
COUNT = _Windowed("nonneg", tuple(range(1, 33)))
STEP = _Windowed("nonzero", (2, 3, 4, 5, -1, -2, -3, -4))
JUMP = _Windowed("pos", tuple(range(2, 10)))
TIMES = _Windowed("nonneg", tuple(range(2, 10)))
ARITY = _Windowed("pos", (2, 3))
NUM = _Byte()
SPAN = _Span()
BLOCK = _Windowed("nonneg", tuple(1 << k for k in range(17)))   # a modeled list's length: blocks
ORDER = _Windowed("nonneg", tuple(range(1, 9)))                  # lpc's order
assert NUM.radix == NUM_RADIX

# ---- literal lists ------------------------------------------------------------------------------------
ENUM_MIN_LEN = 32             # shorter literals are always PLAIN (no choice digit): KT lists are <= 25
ENUM_MAX_LEN = 4096           # longer ones too: ranking is quadratic in the length


_comb_rank = models.comb_rank          # combinatorial number system (the ENUMERATIVE literal code)
_comb_unrank = models.comb_unrank


def _multinomial(counts) -> int:
    m, total = 1, 0
    for c in counts:
        total += c
        m *= math.comb(total, c)
    return m


def _perm_rank(values, symbols: list[int], counts: list[int]) -> int:
    """Lexicographic rank of `values` among the arrangements of its multiset."""
    counts = list(counts)
    index = {v: k for k, v in enumerate(symbols)}
    n = len(values)
    m = _multinomial(counts)                  # arrangements of what is left
    rank = 0
    for v in values:
        k = index[v]
        below = sum(counts[:k])
        rank += m * below // n
        m = m * counts[k] // n
        counts[k] -= 1
        n -= 1
    return rank


def _perm_unrank(rank: int, symbols: list[int], counts: list[int]) -> list[int]:
    counts = list(counts)
    n = sum(counts)
    m = _multinomial(counts)
    out = []
    while n:
        acc = 0
        for k, c in enumerate(counts):
            if not c:
                continue
            block = m * c // n                # arrangements that start with symbols[k]
            if rank < acc + block:
                rank -= acc
                out.append(symbols[k])
                m = block
                counts[k] -= 1
                n -= 1
                break
            acc += block
    return out


def _enumerative_parts(values: tuple):
    """(distinct values, their counts), or None when the ENUMERATIVE code cannot hold the list."""
    if not ENUM_MIN_LEN <= len(values) <= ENUM_MAX_LEN or min(values) < 0 or max(values) > 255:
        return None
    counts: dict[int, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    symbols = sorted(counts)
    return symbols, [counts[v] for v in symbols]


def _enumerative_radices(L: int, counts: list[int]) -> list[int]:
    d = len(counts)
    return [min(L, 256), math.comb(256, d), math.comb(L - 1, d - 1), _multinomial(counts)]


def _use_enumerative(values: tuple) -> bool:
    parts = _enumerative_parts(values)
    if parts is None:
        return False
    enum = 1
    for r in _enumerative_radices(len(values), parts[1]):
        enum *= r
    return enum < NUM_RADIX ** len(values)


def _literal_symbols(values: tuple) -> list[tuple[int, int]]:
    out = LENGTH.symbols(len(values))
    L = len(values)
    if ENUM_MIN_LEN <= L <= ENUM_MAX_LEN:
        if _use_enumerative(values):
            symbols, counts = _enumerative_parts(values)
            d = len(symbols)
            cuts, acc = [], 0
            for c in counts[:-1]:
                acc += c
                cuts.append(acc - 1)
            digits = [d - 1, _comb_rank(symbols), _comb_rank(cuts), _perm_rank(values, symbols, counts)]
            out.append((1, 2))
            out += [(dg, r) for dg, r in zip(digits, _enumerative_radices(L, counts)) if r > 1]
            return out
        out.append((0, 2))
    for v in values:
        out += NUM.symbols(v)
    return out


def _log2_comb(n: int, k: int) -> float:
    return (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)) / math.log(2)


def _literal_bits(values: tuple) -> float:
    L = len(values)
    total = LENGTH.bits(L)
    plain = sum(NUM.bits(v) for v in values)
    if not ENUM_MIN_LEN <= L <= ENUM_MAX_LEN:
        return total + plain
    parts = _enumerative_parts(values)
    if parts is not None:
        counts = parts[1]
        d = len(counts)
        enum = (math.log2(min(L, 256)) + _log2_comb(256, d) + _log2_comb(L - 1, d - 1)
                + (math.lgamma(L + 1) - sum(math.lgamma(c + 1) for c in counts)) / math.log(2))
        plain = min(plain, enum)
    return total + 1.0 + plain


def _read_literal(reader: "_Reader") -> tuple:
    L = LENGTH.read(reader)
    if ENUM_MIN_LEN <= L <= ENUM_MAX_LEN and reader.digit(2) == 1:
        d = reader.digit(min(L, 256)) + 1
        symbols = _comb_unrank(reader.digit(math.comb(256, d)), d, 256)
        cuts = _comb_unrank(reader.digit(math.comb(L - 1, d - 1)), d - 1, L - 1)
        bounds = [0] + [c + 1 for c in cuts] + [L]
        counts = [b - a for a, b in zip(bounds, bounds[1:])]
        values = tuple(_perm_unrank(reader.digit(_multinomial(counts)), symbols, counts))
        if not _use_enumerative(values):
            raise CorruptInput("program stream is corrupt: non-canonical literal code")
        return values
    values = tuple(NUM.read(reader) for _ in range(L))
    if ENUM_MIN_LEN <= L <= ENUM_MAX_LEN and _use_enumerative(values):
        raise CorruptInput("program stream is corrupt: non-canonical literal code")
    return values


# ---- range_func_interval's end -------------------------------------------------------------------------
def _interval_end(s: int, e: int, k: int) -> tuple[int, int]:
    """(q, r) for the end e of range(s, e, k): q = the length when the range is not empty."""
    a = abs(k)
    d = (e - s) if k > 0 else (s - e)
    q, r = divmod(d - 1, a)
    return q + 1, r


def _interval_end_symbols(s: int, e: int, k: int) -> list[tuple[int, int]]:
    if k == 0:
        raise ProgramError("range_func_interval's step cannot be 0 (it cannot be encoded)")
    q, r = _interval_end(s, e, k)
    out = SPAN.symbols(q)
    a = abs(k)
    if a > 1:
        out.append((0 if r == 0 else 1, 2))
        if r > 0 and a > 2:
            out.append((r - 1, a - 1))
    return out


def _interval_end_bits(s: int, e: int, k: int) -> float:
    if k == 0:
        raise ProgramError("range_func_interval's step cannot be 0 (it cannot be encoded)")
    q, r = _interval_end(s, e, k)
    a = abs(k)
    return SPAN.bits(q) + (1.0 if a > 1 else 0.0) + (_log2(a - 1) if r > 0 and a > 2 else 0.0)


def _read_interval_end(reader: "_Reader", s: int, k: int) -> int:
    q = SPAN.read(reader)
    a = abs(k)
    r = 0
    if a > 1 and reader.digit(2) == 1:
        r = 1 + (reader.digit(a - 1) if a > 2 else 0)
    d = (q - 1) * a + 1 + r
    return s + d if k > 0 else s - d


# ---- the coder table: one entry per `Arg.code` the op table names ----------------------------------------
class _Coder:
    """symbols / bits / read of one argument; `args` are the line's arguments in op-table order
    (while decoding, the ones read so far, as a dict position -> value)."""

    def symbols(self, v, args, arg, i: int) -> list[tuple[int, int]]:
        raise NotImplementedError

    def bits(self, v, args, arg, i: int) -> float:
        raise NotImplementedError

    def read(self, reader: "_Reader", args, arg, i: int):
        raise NotImplementedError


class _WindowedArg(_Coder):
    """A windowed code of the value, or of value - args[base] + offset (a length in disguise)."""

    def __init__(self, code: _Windowed):
        self.code = code

    def symbols(self, v, args, arg, i):
        return self.code.symbols(v if arg.base is None else v - args[arg.base] + arg.offset)

    def bits(self, v, args, arg, i):
        return self.code.bits(v if arg.base is None else v - args[arg.base] + arg.offset)

    def read(self, reader, args, arg, i):
        v = self.code.read(reader)
        return v if arg.base is None else v + args[arg.base] - arg.offset


class _RefArg(_Coder):
    """An earlier line, radix i (nothing to write at lines 0 and 1)."""

    def symbols(self, r, args, arg, i):
        return [(r.index, i)] if i > 1 else []

    def bits(self, r, args, arg, i):
        return _log2(i) if i > 1 else 0.0

    def read(self, reader, args, arg, i):
        return Ref(reader.digit(i))


class _RefsArg(_Coder):
    """Variadic references: the arity (ARITY code), then one reference each; `v` is all of them."""

    def symbols(self, refs, args, arg, i):
        out = ARITY.symbols(len(refs))
        if i > 1:
            out += [(r.index, i) for r in refs]
        return out

    def bits(self, refs, args, arg, i):
        return ARITY.bits(len(refs)) + (_log2(i) if i > 1 else 0.0) * len(refs)

    def read(self, reader, args, arg, i):
        return tuple(Ref(reader.digit(i)) for _ in range(ARITY.read(reader)))


class _LiteralArg(_Coder):
    def symbols(self, v, args, arg, i):
        return _literal_symbols(v)

    def bits(self, v, args, arg, i):
        return _literal_bits(v)

    def read(self, reader, args, arg, i):
        return _read_literal(reader)


class _PredArg(_Coder):
    def symbols(self, v, args, arg, i):
        return [(_PRED_INDEX[v], len(PREDICATES))]

    def bits(self, v, args, arg, i):
        return _log2(len(PREDICATES))

    def read(self, reader, args, arg, i):
        return PREDICATES[reader.digit(len(PREDICATES))]


class _IntervalEndArg(_Coder):
    """range(s, e, k)'s end, relative to s = args[base] and the line's STEP argument k."""

    @staticmethod
    def _step(args, arg):
        return args[2]        # range_func_interval(s, e, k); encode_order puts k before e

    def symbols(self, e, args, arg, i):
        return _interval_end_symbols(args[arg.base], e, self._step(args, arg))

    def bits(self, e, args, arg, i):
        return _interval_end_bits(args[arg.base], e, self._step(args, arg))

    def read(self, reader, args, arg, i):
        return _read_interval_end(reader, args[arg.base], self._step(args, arg))


class _ModelArg(_Coder):
    """modeled_list's model index: one digit of radix len(models.MODELS)."""

    def symbols(self, v, args, arg, i):
        if not 0 <= v < len(models.MODELS):
            raise ProgramError(f"model {v} does not exist (0..{len(models.MODELS) - 1})")
        return [(v, len(models.MODELS))]

    def bits(self, v, args, arg, i):
        self.symbols(v, args, arg, i)
        return _log2(len(models.MODELS))

    def read(self, reader, args, arg, i):
        return reader.digit(len(models.MODELS))


class _ModelParamArg(_Coder):
    """The parameter of the model args[base]: one digit of the model's param_radix."""

    def symbols(self, v, args, arg, i):
        radix = models.MODELS[args[arg.base]].param_radix
        if not 0 <= v < radix:
            raise ProgramError(f"model parameter {v} is outside 0..{radix - 1}")
        return [(v, radix)]

    def bits(self, v, args, arg, i):
        self.symbols(v, args, arg, i)
        return _log2(models.MODELS[args[arg.base]].param_radix)

    def read(self, reader, args, arg, i):
        return reader.digit(models.MODELS[args[arg.base]].param_radix)


class _ModeledArg(_Coder):
    """A list coded under the line's model (args[base]) and parameter (args[base + 1])."""

    def symbols(self, v, args, arg, i):
        m = _checked_model(args[arg.base], v)
        return BLOCK.symbols(len(v)) + m.symbols(v, args[arg.base + 1])

    def bits(self, v, args, arg, i):
        return BLOCK.bits(len(v)) + _checked_model(args[arg.base], v).cost(v, args[arg.base + 1])

    def read(self, reader, args, arg, i):
        n = BLOCK.read(reader)
        m = models.MODELS[args[arg.base]]
        if n > m.max_len:
            raise CorruptInput("program stream is corrupt: a modeled list is too long")
        return m.read(reader, n, args[arg.base + 1])


def _checked_model(model: int, values):
    """The model of a modeled list that it may code (ProgramError when the list is too long)."""
    m = models.MODELS[model]
    if len(values) > m.max_len:
        raise ProgramError(f"model {m.name} codes lists of at most {m.max_len} values")
    return m


SHIFT_RADIX = 16
WIDTHS = (1, 2)                                   # bytes_le's widths, in bytes


class _WidthArg(_Coder):
    def symbols(self, v, args, arg, i):
        if v not in WIDTHS:
            raise ProgramError(f"width {v} cannot be encoded (one of {WIDTHS})")
        return [(WIDTHS.index(v), len(WIDTHS))]

    def bits(self, v, args, arg, i):
        self.symbols(v, args, arg, i)
        return _log2(len(WIDTHS))

    def read(self, reader, args, arg, i):
        return WIDTHS[reader.digit(len(WIDTHS))]



@lru_cache(maxsize=None)
def _coeff_code(shift: int) -> _Windowed:
    half = 1 << (shift + 2)
    return _Windowed("int", tuple(range(-half, half)))


class _PredictorArg(_Coder):
    """lpc's [shift, c1, ..., cp]: a codebook entry, or explicit (module docstring)."""

    def symbols(self, v, args, arg, i):
        book = models.predictor_book()
        k = book.index.get(tuple(v))
        if k is not None:
            return [(k, len(book.entries) + 1)]
        if not v or not 0 <= v[0] < SHIFT_RADIX:
            raise ProgramError(f"predictor {list(v)[:4]} cannot be encoded (shift 0..{SHIFT_RADIX - 1})")
        return [(len(book.entries), len(book.entries) + 1)] + _explicit_predictor_symbols(v)

    def bits(self, v, args, arg, i):
        book = models.predictor_book()
        head = _log2(len(book.entries) + 1)
        if tuple(v) in book.index:
            return head
        if not v or not 0 <= v[0] < SHIFT_RADIX:
            raise ProgramError(f"predictor {list(v)[:4]} cannot be encoded (shift 0..{SHIFT_RADIX - 1})")
        code = _coeff_code(v[0])
        return head + _log2(SHIFT_RADIX) + ORDER.bits(len(v) - 1) + sum(code.bits(c) for c in v[1:])

    def read(self, reader, args, arg, i):
        book = models.predictor_book()
        k = reader.digit(len(book.entries) + 1)
        if k < len(book.entries):
            return book.entries[k]
        v = _read_explicit_predictor(reader)
        if v in book.index:
            raise CorruptInput("program stream is corrupt: an explicit predictor that is in the book")
        return v


def _explicit_predictor_symbols(v) -> list[tuple[int, int]]:
    """An explicit predictor: the shift, the order, each coefficient (module docstring)."""
    if not v or not 0 <= v[0] < SHIFT_RADIX:
        raise ProgramError(f"predictor {list(v)[:4]} cannot be encoded (shift 0..{SHIFT_RADIX - 1})")
    code = _coeff_code(v[0])
    out = [(v[0], SHIFT_RADIX)] + ORDER.symbols(len(v) - 1)
    for c in v[1:]:
        out += code.symbols(c)
    return out


def _read_explicit_predictor(reader: "_Reader") -> tuple:
    shift = reader.digit(SHIFT_RADIX)
    code = _coeff_code(shift)
    p = ORDER.read(reader)
    if p > 32:
        raise CorruptInput("program stream is corrupt: a predictor of more than 32 taps")
    return (shift,) + tuple(code.read(reader) for _ in range(p))


CODERS: dict[str, _Coder] = {
    "byte": _WindowedArg(NUM), "span": _WindowedArg(SPAN), "step": _WindowedArg(STEP),
    "jump": _WindowedArg(JUMP), "times": _WindowedArg(TIMES), "count": _WindowedArg(COUNT),
    "literal": _LiteralArg(), "pred": _PredArg(), "ref": _RefArg(), "refs": _RefsArg(),
    "interval_end": _IntervalEndArg(),
    "model": _ModelArg(), "mparam": _ModelParamArg(), "modeled": _ModeledArg(),
    "predictor": _PredictorArg(), "width": _WidthArg(),
}


# ---- symbols of a program ------------------------------------------------------------------------
def _op_symbol(op: str, i: int) -> list[tuple[int, int]]:
    if i == 0:
        if op not in _OP_INDEX_INITIAL:
            raise ProgramError(f"line 1 must be an initiator ({', '.join(INITIAL_OPS)}), got {op}")
        k = _OP_INDEX_INITIAL[op]
        if FIRST_OP_FREQS[k] == 1:                   # a digit: KT programs stay mixed-radix
            return [(FIRST_OP_CUMS[k], FIRST_OP_TOTAL)]
        return [(FIRST_OP_CUMS[k], FIRST_OP_FREQS[k], FIRST_OP_TOTAL)]
    return [(_OP_INDEX_ALL[op], len(ALL_OPS))]


def first_op_bits(op: str) -> float:
    """Bits of line 0's op under the FIRST_OP_FREQS row. An op that is no initiator is priced as
    a one-slot initiator: polish's cost tables ask for every line at every position."""
    k = _OP_INDEX_INITIAL.get(op)
    return math.log2(FIRST_OP_TOTAL / (1 if k is None else FIRST_OP_FREQS[k]))


def _coded_args(spec, args: tuple):
    """(position, Arg, value) in stream order; a variadic op's one REFS argument holds them all."""
    values = (args,) if spec.variadic else args
    order = spec.encode_order or range(len(spec.params))
    return [(k, spec.params[k], values[k]) for k in order]


def _arg_symbols(op: str, args: tuple, i: int) -> list[tuple]:
    spec = OPS_BY_CODE[_OP_INDEX_ALL[op]]
    out = []
    for _, arg, v in _coded_args(spec, args):
        out += CODERS[arg.code].symbols(v, args, arg, i)
    return out


def line_symbols(op: str, args: tuple, i: int) -> list[tuple]:
    """(digit, radix) pairs of line i (its op digit, then its arguments)."""
    return _op_symbol(op, i) + _arg_symbols(op, args, i)


def header_symbols(n_lines: int, output: int) -> list[tuple[int, int]]:
    out = LINES.symbols(n_lines)
    if n_lines > 1:
        if output == n_lines - 1:
            out.append((0, 2))
        else:
            out.append((1, 2))
            if n_lines > 2:
                out.append((output, n_lines - 1))
    return out


def program_symbols(program: Program) -> list[tuple]:
    """Every symbol of the program in stream order: line 0's op digit; for a modeled list, the form
    symbol and, for a form, the form's code (below); else the header, line 0's arguments and the
    other lines."""
    first = program.lines[0]
    out = _op_symbol(first.op, 0)
    if first.op == "modeled_list":
        form = program_form(program)
        if form is not None:
            return out + _form_symbols(program, *form)
        out.append(_generic_form_symbol())
    out += header_symbols(len(program.lines), program.output)
    out += _arg_symbols(first.op, first.args, 0)
    for i, line in enumerate(program.lines[1:], 1):
        out += line_symbols(line.op, line.args, i)
    return out


# ---- forms: the ksynth dialect's commonest programs, one symbol for their shape --------------------
def program_form(program: Program) -> tuple[int, int] | None:
    """(model, chain index into models.CHAINS) when the program is a form: modeled_list(m, p, v),
    then lpc(sequence_1, predictor) if the chain has it, then its last line (bytes_le(previous, w)
    or modulo_item_list(previous, 255)) if it has one, output the last line; None otherwise."""
    lines = program.lines
    if lines[0].op != "modeled_list" or program.output != len(lines) - 1:
        return None
    m = lines[0].args[0]
    if not (isinstance(m, int) and 0 <= m < len(models.MODELS)):
        return None
    for k, (lpc, last) in enumerate(models.CHAINS):
        if len(lines) != 1 + lpc + (last is not None):
            continue
        j = 1
        if lpc:
            if lines[1].op != "lpc" or lines[1].args[0] != Ref(0):
                continue
            j = 2
        if last and (lines[j].op != last[0] or lines[j].args != (Ref(j - 1), last[1])):
            continue
        return m, k
    return None


def _form_index(model: int, chain: int) -> int:
    return model * len(models.CHAINS) + chain


def _row_symbol(row, k: int) -> tuple[int, int, int]:
    freqs, cums, total = row
    return cums[k], freqs[k], total


def _generic_form_symbol() -> tuple[int, int, int]:
    return _row_symbol(models.program_prior().form_row(), models.n_forms() - 1)


def _std_len(chain: int) -> int:
    return models.STD_OUTPUT // models.byte_width(models.CHAINS[chain][1])


def _form_length_symbols(n: int, chain: int) -> list[tuple]:
    if n == _std_len(chain):
        return [(0, models.STD_LEN_FREQ, models.STD_LEN_TOTAL)]
    return [(models.STD_LEN_FREQ, models.STD_LEN_TOTAL - models.STD_LEN_FREQ,
             models.STD_LEN_TOTAL)] + BLOCK.symbols(n)


def _form_predictor_symbols(predictor, model: int) -> list[tuple]:
    book = models.predictor_book()
    row = models.program_prior().predictor_row(model)
    k = book.index.get(tuple(predictor))
    if k is not None:
        return [_row_symbol(row, k)]
    return [_row_symbol(row, len(book.entries))] + _explicit_predictor_symbols(predictor)


def _form_symbols(program: Program, model: int, chain: int) -> list[tuple]:
    """A form after line 0's op digit: the form symbol, the model's parameter, the list length
    (standard or BLOCK), the lpc predictor, then the values."""
    m, param, values = program.lines[0].args
    _checked_model(model, values)
    prior = models.program_prior()
    out = [_row_symbol(prior.form_row(), _form_index(model, chain))]
    radix = models.MODELS[model].param_radix
    if not (isinstance(param, int) and 0 <= param < radix):
        raise ProgramError(f"model parameter {param} is outside 0..{radix - 1}")
    if radix > 1:
        out.append(_row_symbol(prior.param_row(model), param))
    out += _form_length_symbols(len(values), chain)
    if models.CHAINS[chain][0]:
        out += _form_predictor_symbols(program.lines[1].args[1], model)
    return out + models.MODELS[model].symbols(values, param)


def _read_form(r: "_Reader", form: int) -> Program:
    model, chain = divmod(form, len(models.CHAINS))
    prior = models.program_prior()
    radix = models.MODELS[model].param_radix
    param = r.modeled(*prior.param_row(model)) if radix > 1 else 0
    if r.modeled(*_len_row()) == 0:
        n = _std_len(chain)
    else:
        n = BLOCK.read(r)
        if n == _std_len(chain):
            raise CorruptInput("program stream is corrupt: non-canonical form length")
        if n > models.MODELS[model].max_len:
            raise CorruptInput("program stream is corrupt: a modeled list is too long")
    lpc, last = models.CHAINS[chain]
    if lpc:
        book = models.predictor_book()
        k = r.modeled(*prior.predictor_row(model))
        pred = book.entries[k] if k < len(book.entries) else _read_explicit_predictor(r)
        if k == len(book.entries) and pred in book.index:
            raise CorruptInput("program stream is corrupt: an explicit predictor that is in the book")
    lines = [Line("modeled_list", (model, param, models.MODELS[model].read(r, n, param)))]
    if lpc:
        lines.append(Line("lpc", (Ref(0), pred)))
    if last:
        lines.append(Line(last[0], (Ref(len(lines) - 1), last[1])))
    return Program.build(lines)


@lru_cache(maxsize=1)
def _len_row():
    f, t = models.STD_LEN_FREQ, models.STD_LEN_TOTAL
    return (f, t - f), (0, f), t


# ---- costs ---------------------------------------------------------------------------------------
@lru_cache(maxsize=None)
def _log2(m: int) -> float:
    return math.log2(m)


def _symbol_bits(s: tuple) -> float:
    return _log2(s[1]) if len(s) == 2 else math.log2(s[2] / s[1])


def line_bits(op: str, args: tuple, i: int) -> float:
    """Exact additive cost of line i (0-based) in bits: sum of log2 of its symbols' radices (a
    modeled list at line 0 of a program that is not a form also pays the form code's escape)."""
    spec = OPS_BY_CODE[_OP_INDEX_ALL[op]]
    total = first_op_bits(op) if i == 0 else _log2(len(ALL_OPS))
    if i == 0 and op == "modeled_list":
        total += _symbol_bits(_generic_form_symbol())
    for _, arg, v in _coded_args(spec, args):
        total += CODERS[arg.code].bits(v, args, arg, i)
    return total


def header_bits(n_lines: int, output: int | None = None) -> float:
    """Bits of the header: line count and output line (default: the last line)."""
    out = n_lines - 1 if output is None else output
    return sum(_log2(m) for _, m in header_symbols(n_lines, out))


def program_bits_float(program: Program) -> float:
    """sum(line_bits) + header_bits, or a form's symbols' costs: the additive cost the search
    uses (bits() is its ceiling, up to the rANS tail of a modeled list)."""
    form = program_form(program)
    if form is not None:
        return first_op_bits("modeled_list") + sum(_symbol_bits(s) for s in _form_symbols(program, *form))
    return header_bits(len(program.lines), program.output) + sum(
        line_bits(l.op, l.args, i) for i, l in enumerate(program.lines))


def form_overhead_bits(model: int, chain: int, param: int, predictor=(), n: int | None = None) -> float:
    """Bits of a form program other than its values: line 0's op digit, the form symbol, the
    parameter, the length (standard when n is None) and the predictor. `predict` ranks with it."""
    prior = models.program_prior()
    total = first_op_bits("modeled_list") + _symbol_bits(_row_symbol(prior.form_row(), _form_index(model, chain)))
    if models.MODELS[model].param_radix > 1:
        total += _symbol_bits(_row_symbol(prior.param_row(model), param))
    total += sum(_symbol_bits(s) for s in _form_length_symbols(_std_len(chain) if n is None else n, chain))
    if models.CHAINS[chain][0]:
        total += sum(_symbol_bits(s) for s in _form_predictor_symbols(predictor, model))
    return total


def _message_count(symbols) -> int:
    """The bound B of the message (N < B): the product of the radices when every symbol is a
    digit; a modeled triple (c, f, T) maps B to enc(B - 1) + 1 (module docstring)."""
    m = 1
    for s in reversed(symbols):
        if len(s) == 2:
            m *= s[1]
        else:
            c, f, t = s
            x = m - 1
            m = (x // f) * t + c + x % f + 1
    return m


def bits(program: Program) -> int:
    """Exact length in bits of the encoded stream: ceil(log2 M)."""
    return (_message_count(program_symbols(program)) - 1).bit_length()


# ---- encode / decode ---------------------------------------------------------------------------------
def encode(program: Program) -> bytes:
    """The program as ceil(bits / 8) bytes (N little-endian)."""
    symbols = program_symbols(program)
    n = 0
    for s in reversed(symbols):                     # Horner from the most significant symbol
        if len(s) == 2:
            n = n * s[1] + s[0]
        else:                                        # rANS step of a modeled symbol
            c, f, t = s
            n = (n // f) * t + c + n % f
    nbits = (_message_count(symbols) - 1).bit_length()
    return n.to_bytes((nbits + 7) // 8, "little")


class _Reader:
    def __init__(self, data: bytes):
        self.n = int.from_bytes(data, "little")
        self.m = 1                                   # product of radices read so far
        self.limit = 1 << (8 * len(data))             # a valid stream has M <= 2^(8 * len(data))
        self.trace: list[tuple] = []                 # every symbol read (for the final bound)
        self.any_modeled = False
        self.modeled_bits = 0.0
        self.bit_limit = 8 * len(data) + 64

    def digit(self, radix: int) -> int:
        if radix <= 1:
            return 0
        self.m *= radix
        if self.m > self.limit:                      # more symbols than the data can hold
            raise CorruptInput("program stream is corrupt: it runs past the end of the data")
        if radix & (radix - 1):
            self.n, d = divmod(self.n, radix)
        else:                                        # a power of two (over half the digits of
            d = self.n & (radix - 1)                 # long programs: gamma codes' bits): a shift
            self.n >>= radix.bit_length() - 1        # is ~7x cheaper than dividing a 2 KB N
        self.trace.append((d, radix))
        return d

    def modeled(self, freqs, cums, total: int) -> int:
        """One modeled symbol: the index k whose slot [cums[k], cums[k] + freqs[k]) holds N mod T."""
        self.any_modeled = True
        slot = self.n % total
        k = len(cums) - 1
        while cums[k] > slot:
            k -= 1
        f = freqs[k]
        if f <= 0 or slot >= cums[k] + f:
            raise CorruptInput("program stream is corrupt: a modeled symbol has no slot")
        self.n = f * (self.n // total) + slot - cums[k]
        self.trace.append((cums[k], f, total))
        self.modeled_bits += math.log2(total / f)
        if self.modeled_bits > self.bit_limit:
            raise CorruptInput("program stream is corrupt: it runs past the end of the data")
        return k

    def bound(self) -> int:
        return _message_count(self.trace) if self.any_modeled else self.m


def decode(data: bytes) -> Program:
    """Inverse of encode. Raises CorruptInput on data that no program encodes to."""
    if not isinstance(data, (bytes, bytearray)) or not data:
        raise CorruptInput("program stream is empty")
    r = _Reader(bytes(data))
    first = _read_first_op(r)
    if first == "modeled_list":
        form = r.modeled(*models.program_prior().form_row())
        if form < models.n_forms() - 1:
            return _finish(r, data, lambda: _read_form(r, form))
    n_lines = LINES.read(r)
    if (n_lines - 1) * _log2(len(ALL_OPS)) > 8 * len(data) + 1:
        raise CorruptInput(f"program stream is corrupt: {n_lines} lines cannot fit in {len(data)} bytes")
    output = n_lines - 1
    if n_lines > 1 and r.digit(2) == 1:
        output = r.digit(n_lines - 1) if n_lines > 2 else 0
    lines = []
    for i in range(n_lines):
        op = first if i == 0 else ALL_OPS[r.digit(len(ALL_OPS))]
        spec = OPS_BY_CODE[_OP_INDEX_ALL[op]]
        read: dict[int, object] = {}
        for k in spec.encode_order or range(len(spec.params)):
            arg = spec.params[k]
            read[k] = CODERS[arg.code].read(r, read, arg, i)
        args = read[0] if spec.variadic else [read[k] for k in range(len(spec.params))]
        lines.append(Line(op, tuple(args)))
    program = _finish(r, data, lambda: Program.build(lines, output))
    if first == "modeled_list" and program_form(program) is not None:
        raise CorruptInput("program stream is corrupt: a form written with the generic code")
    return program


def _read_first_op(r: _Reader) -> str:
    """Line 0's op: a slot of one value is the digit _op_symbol wrote, a wider one a modeled symbol."""
    k = FIRST_OP_CUMS.index(max(c for c in FIRST_OP_CUMS if c <= r.n % FIRST_OP_TOTAL))
    if FIRST_OP_FREQS[k] == 1:
        r.digit(FIRST_OP_TOTAL)
    else:
        r.modeled(FIRST_OP_FREQS, FIRST_OP_CUMS, FIRST_OP_TOTAL)
    return INITIAL_OPS[k]


def _finish(r: _Reader, data: bytes, build) -> Program:
    """The last checks of a decode: nothing left over, the stream's length, a well-formed program."""
    try:
        program = build()
    except ProgramError as e:                        # unreachable by construction; kept as a guard
        raise CorruptInput(f"program stream is corrupt: {e}") from None
    if r.n != 0:
        raise CorruptInput("program stream is corrupt: data left over after the last line")
    if ((r.bound() - 1).bit_length() + 7) // 8 != len(data):
        raise CorruptInput("program stream is corrupt: wrong length for the program it holds")
    return program
