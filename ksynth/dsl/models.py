"""Explicit probability models for `modeled_list` (the `ksynth` dialect's arithmetic-coded literals).

A modeled list is a literal list whose values are written under a probability model instead of
set_list's ~8 bits per element. encode.py turns each model's output into program-code symbols:
a (cum, freq, total) triple is one arithmetic-coded symbol of probability freq / total (big-integer
rANS, see encode.py), a (digit, radix) pair is a uniform digit. Every model here is a pure function
of (model tables shipped in the package, the line's `param`, the values decoded so far): a chunk
decodes alone, and a decoder needs only this module, textnet.py and the charged prior files in
ksynth/priors/ (their serialized size is what the benchmark charges; `prior_bytes`).

Models, by index (the program's first argument of modeled_list; `MODELS` below):
  0 residual       generic residual coder, shape table computed from a formula (no prior file)
  1 residual_a8    residual coder whose shape table was trained on dev audio_8bit residuals
  2 residual_a16   ... on dev audio_16bit residuals
  3 residual_mfcc  ... on dev audio_mfcc residuals
  4 dna            static order-6 base table trained on dev DNA, mixed with in-chunk counts; the
                   case as runs
  5 text           an integer byte GRU trained on dev text (textnet.py), mixed with in-chunk
                   order-4, 3, 2 and 1 counts
  6 small          a few values lo..lo+A-1 (A <= 4, named by `param`), each under in-chunk counts of
                   what followed the previous value (no prior file): near-silent audio
The residual coders code r as: bucket b = bit_length(|r|) under the shape table row of the current
context (a running mean of recent buckets, started at `param`), then the bit below |r|'s leading
one under a trained cell, the other b - 2 bits as one uniform digit, then the sign when r != 0.
"""
from __future__ import annotations

import lzma
import math
from functools import lru_cache
from pathlib import Path

PRIOR_DIR = Path(__file__).resolve().parent.parent / "priors"
ROW_TOTAL = 1 << 12               # every trained frequency row sums to this (12-bit probabilities)
MAX_MODELED_LEN = 1 << 16         # a modeled list holds at most this many values (decoder guard)
TEXT_MAX_LEN = 1 << 12            # the text net's lists: it decodes ~0.13 ms a byte and a byte can
                                  # cost 0.006 bits, so a random 35-byte stream named 65,536 of them
                                  # (10-25 s to refuse); 4,096 decode in about 0.5 s

# ---- residual coders ------------------------------------------------------------------------------
MAX_BUCKET = 32                   # |r| < 2^32: bucket 0 (r = 0) .. 32
N_BUCKETS = MAX_BUCKET + 1
MEAN_SHIFT = 3                    # running mean: A += (16 b - A) >> MEAN_SHIFT, A in 1/16 buckets (dev: 3 > 2 > 1)
FINE_CTX = 16                     # below one bucket every A is its own context (near-silence:
CTX_STEP = 8                      # how long since the last nonzero), above it A // CTX_STEP
N_CTX = FINE_CTX + (16 * MAX_BUCKET - FINE_CTX) // CTX_STEP + 1
RESIDUAL_PARAMS = 16              # param = the initial mean bucket (A = 16 param)


def _context(mean: int) -> int:
    if mean < FINE_CTX:
        return mean
    return min(FINE_CTX + (mean - FINE_CTX) // CTX_STEP, N_CTX - 1)


def _bucket(r: int) -> int:
    return abs(r).bit_length()


def residual_contexts(values, param: int):
    """(context, bucket) of each value in order: the statistics the shape table is trained on."""
    mean = 16 * param                 # in 1/16 buckets
    out = []
    for r in values:
        b = _bucket(r)
        out.append((_context(mean), b))
        mean += (16 * b - mean) >> MEAN_SHIFT
    return out


def _rows_from_counts(counts) -> tuple[tuple[int, ...], ...]:
    """Frequency rows summing to ROW_TOTAL, every bucket >= 1 (any residual stays codable)."""
    rows = []
    for row in counts:
        total = sum(row)
        free = ROW_TOTAL - len(row)
        freqs = [1 + int(free * c // total) for c in row]
        freqs[max(range(len(row)), key=lambda k: row[k])] += ROW_TOTAL - sum(freqs)
        rows.append(tuple(freqs))
    return tuple(rows)


def _formula_counts():
    """A Laplace-like shape per context, for the untrained residual coder: buckets near the
    context's mean bucket are likely, falling off by half per bucket away from it."""
    counts = []
    for ctx in range(N_CTX):
        centre = ctx / 16 if ctx < FINE_CTX else (FINE_CTX + (ctx - FINE_CTX) * CTX_STEP) / 16
        counts.append([1 + int(1e6 * 2.0 ** (-abs(b - centre) * 1.0)) for b in range(N_BUCKETS)])
    return counts


TOP_D, TOP_B = 3, 12              # the top mantissa bit's cells: d = b - the context's mean bucket
N_TOP = (2 * TOP_D + 1) * (TOP_B - 1)   # in -3..3, and b in 2..12 (larger buckets share 12)


def top_cell(ctx: int, b: int) -> int:
    """The cell of the top mantissa bit (the bit below |r|'s leading one) for bucket b >= 2."""
    m16 = ctx if ctx < FINE_CTX else FINE_CTX + (ctx - FINE_CTX) * CTX_STEP
    d = max(-TOP_D, min(TOP_D, (16 * b - m16 + 8) >> 4))
    return (d + TOP_D) * (TOP_B - 1) + min(b, TOP_B) - 2


_CTX_OF_MEAN = tuple(_context(m) for m in range(16 * MAX_BUCKET + 1))    # the running mean's range
_TOP_CELLS = tuple(tuple(top_cell(c, b) if b >= 2 else -1 for b in range(N_BUCKETS)) for c in range(N_CTX))


class ResidualModel:
    """Signed residuals r in two passes. First, value by value, the bucket b = bit_length(|r|)
    under a shape table indexed by a running-mean context (a trained table's first value, which
    no predictor reaches, under its own row: cross-validated on dev, 1.1 bits a chunk on
    audio_8bit and audio_16bit, -0.1 on audio_mfcc) and, for b >= 2, the bit below the
    leading one under P(0 | top_cell) (a Laplacian residual is more often in the lower half of
    its bucket: dev 1-4 bits a chunk held out); then, value by value, the other b - 2 bits as
    one uniform digit and the sign (a binary digit). The contexts read only buckets, so the
    decoder has every bucket before the first raw digit, and the raw digits end the stream: they
    are the first symbols the rANS encoder takes, exact at any state, and once they carry 12
    bits every modeled symbol after them meets a state far above its frequency (dev audio_8bit:
    2.9 bits a chunk less than coding each value whole with coarse tail rows for the last
    three); a short list of tiny residuals, with fewer raw bits than that, wastes up to the
    difference."""

    kind = "residual"
    max_len = MAX_MODELED_LEN
    param_radix = RESIDUAL_PARAMS

    def __init__(self, name: str, rows=None, prior_file: str | None = None, top=None, first=None):
        self.name, self.prior_file = name, prior_file
        self._rows, self._log, self._top, self._first = rows, None, top, first

    @property
    def rows(self):
        if self._rows is None:
            if self.prior_file is None:
                self._rows = _rows_from_counts(_formula_counts())
            else:
                self._rows, self._first, self._top = read_residual(PRIOR_DIR / self.prior_file)
        if self._log is None:
            if self._top is None:
                self._top = (ROW_TOTAL // 2,) * N_TOP
            self._cum = tuple(tuple(_cumulative(r)) for r in self._rows)
            self._log = tuple(tuple(math.log2(ROW_TOTAL / f) for f in r) for r in self._rows)
            if self._first is not None:
                self._first_cum = tuple(_cumulative(self._first))
                self._first_log = tuple(math.log2(ROW_TOTAL / f) for f in self._first)
            tops = [(f, ROW_TOTAL - f) for f in self._top]
            self._top_rows = tuple((t, (0, t[0]), ROW_TOTAL) for t in tops)
            self._top_log = tuple(tuple(math.log2(ROW_TOTAL / f) for f in t) for t in tops)
        return self._rows

    @property
    def top(self) -> tuple[int, ...]:
        """P(top bit = 0) of each cell, in 1/ROW_TOTAL."""
        _ = self.rows
        return self._top

    @property
    def first(self) -> tuple[int, ...] | None:
        """The first value's bucket row (None: the first value has its context's row)."""
        _ = self.rows
        return self._first

    def _bucket_symbol(self, i: int, ctx: int, b: int) -> tuple[int, int, int]:
        if i == 0 and self._first is not None:
            return self._first_cum[b], self._first[b], ROW_TOTAL
        return self._cum[ctx][b], self._rows[ctx][b], ROW_TOTAL

    def symbols(self, values, param: int) -> list[tuple]:
        _ = self.rows
        modeled, raw = [], []
        for i, ((ctx, b), r) in enumerate(zip(residual_contexts(values, param), values)):
            if b > MAX_BUCKET:
                raise _too_big(self.name)
            modeled.append(self._bucket_symbol(i, ctx, b))
            mag = abs(r)
            if b >= 2:
                f0 = self._top[top_cell(ctx, b)]
                modeled.append((0, f0, ROW_TOTAL) if (mag >> (b - 2)) & 1 == 0 else (f0, ROW_TOTAL - f0, ROW_TOTAL))
                if b > 2:
                    raw.append((mag & ((1 << (b - 2)) - 1), 1 << (b - 2)))
            if r:
                raw.append((1 if r < 0 else 0, 2))
        return modeled + raw

    def cost(self, values, param: int) -> float:
        """Bits of the values (the additive cost; `predict` calls this for every candidate, so
        it is the contexts and cells inlined through lookup tables)."""
        _ = self.rows                 # loads the table and its cumulative / log2 forms
        log, top_log = self._log, self._top_log
        ctx_of, cells = _CTX_OF_MEAN, _TOP_CELLS
        bits, mean, first = 0.0, 16 * param, self._first is not None
        for r in values:
            mag = -r if r < 0 else r
            b = mag.bit_length()
            if b > MAX_BUCKET:
                raise _too_big(self.name)
            ctx = ctx_of[mean]
            if first:
                bits += self._first_log[b]
                first = False
            else:
                bits += log[ctx][b]
            if b >= 2:
                bits += top_log[cells[ctx][b]][(mag >> (b - 2)) & 1] + (b - 2)
            if r:
                bits += 1
            mean += (16 * b - mean) >> MEAN_SHIFT
        return bits

    def read(self, reader, n: int, param: int) -> tuple:
        _ = self.rows
        mean, heads = 16 * param, []
        for i in range(n):                           # pass 1: buckets and top bits
            ctx = _context(mean)
            if i == 0 and self._first is not None:
                b = reader.modeled(self._first, self._first_cum, ROW_TOTAL)
            else:
                b = reader.modeled(self._rows[ctx], self._cum[ctx], ROW_TOTAL)
            mag = 0 if b == 0 else 1 << (b - 1)
            if b >= 2:
                mag += reader.modeled(*self._top_rows[top_cell(ctx, b)]) << (b - 2)
            heads.append((b, mag))
            mean += (16 * b - mean) >> MEAN_SHIFT
        out = []
        for b, mag in heads:                         # pass 2: the raw digits
            if b > 2:
                mag += reader.digit(1 << (b - 2))
            out.append(-mag if mag and reader.digit(2) else mag)
        return tuple(out)


def requantise(freqs, total: int) -> tuple[int, ...]:
    """freqs scaled to sum exactly `total`, each >= 1 (integers only; total >= 2 len(freqs))."""
    scale = sum(freqs)
    out = [max(1, f * total // scale) for f in freqs]
    k = max(range(len(out)), key=lambda j: freqs[j])
    out[k] += total - sum(out)
    if out[k] < 1:
        raise ValueError("requantised frequencies do not fit")
    return tuple(out)


def _too_big(name):
    from ksynth.errors import ProgramError

    return ProgramError(f"model {name}: a value of |v| >= 2^{MAX_BUCKET} cannot be coded")


def _cumulative(row):
    acc, out = 0, []
    for f in row:
        out.append(acc)
        acc += f
    return out


# ---- DNA: symbols 0..7 = base (0..3) + 4 x case -----------------------------------------------------
DNA_ORDER = 6                     # bases of context in the static table (4^6 = 4,096 rows)
DNA_ADAPT_ORDER = 7               # bases of context for the in-chunk counts (dev: 7 >= 6, 8 > 5)
DNA_ADAPT_UNIT = 2 * ROW_TOTAL    # weight of one in-chunk occurrence, against DNA_WEIGHT x a row
DNA_WEIGHT = 4                    # the static row counts as 2 occurrences (dev: 2-4 equally good)
DNA_PARAMS = 1                    # no parameter: the weight is fixed
# The rANS tail (encode.py): the first symbols encoded (the list's last ones when nothing follows it
# in the program) grow the bound additively until it passes their frequencies, wasting ~9 bits at
# 12-bit precision. The last TAIL_VALUES values are coded with frequencies requantised to
# TAIL_TOTAL, which brings the bound past 2^12 within a few symbols (dev: 8.7 -> ~2 bits a chunk).
# The slots of the tail are ordered by frequency (by_frequency), and the last TAIL_FIRST values
# requantised further, to TAIL_FIRST_TOTAL (dev: 2.5 -> -0.7 bits a chunk, 16 values x 64, 2 x 8).
TAIL_VALUES = 16
TAIL_TOTAL = 64
TAIL_FIRST, TAIL_FIRST_TOTAL = 2, 8
TEXT_TAIL_VALUES = 6              # the text model's tail (TEXT_TAIL_TOP below; dev: 6 ~ 8 > 4, 3)
LOG_STEP_NUM = 52016              # 2^(-1/3) in 1/65536: the DNA prior stores -log2(p) in 1/3 bits
LOG_LEVELS = tuple(__import__("itertools").accumulate(
    range(255), lambda w, _: w * LOG_STEP_NUM >> 16, initial=1 << 24))   # integer 2^(-q/3) << 24


def log_row(q) -> tuple[int, ...]:
    """Frequencies (>= 1, summing to about ROW_TOTAL) from quantised -log2 p values, integers only
    (every platform decodes the same)."""
    w = [LOG_LEVELS[v] for v in q]
    total = sum(w)
    return tuple(max(1, ROW_TOTAL * x // total) for x in w)


def quantise_row(counts) -> bytes:
    """-log2 p of each count (p = count / sum), in 1/3-bit steps clamped to 0..255."""
    total = sum(counts)
    return bytes(min(255, max(0, round(-3 * math.log2(c / total)))) for c in counts)


def dna_context(bases, i: int, order: int) -> int:
    """The `order` bases before position i, most recent least significant (0 before the start)."""
    c = 0
    for j in range(order, 0, -1):
        c = 4 * c + (bases[i - j] if i - j >= 0 else 0)
    return c


def coarse(freqs, total: int = TAIL_TOTAL) -> tuple[int, ...]:
    """freqs requantised to sum exactly `total`, each >= 1 (integers only)."""
    return requantise(freqs, total)


def tail_total(from_end: int) -> int:
    """The requantised total of the value `from_end` places before the end of a DNA list."""
    return TAIL_FIRST_TOTAL if from_end < TAIL_FIRST else TAIL_TOTAL


CASE_K_MAX = 15                   # case switches 0..15 in a list have their own probability


def comb_rank(values) -> int:
    """Rank of a strictly increasing sequence v_1 < ... < v_k (j = 1..k): sum C(v_j, j)."""
    return sum(math.comb(v, j) for j, v in enumerate(values, 1))


def comb_unrank(rank: int, k: int, n: int) -> list[int]:
    """Inverse of comb_rank for k values drawn from 0..n-1 (rank < C(n, k))."""
    out, c = [], n - 1
    for j in range(k, 0, -1):
        while math.comb(c, j) > rank:
            c -= 1
        out.append(c)
        rank -= math.comb(c, j)
        c -= 1
    return out[::-1]


def _symbol_bits(s) -> float:
    return math.log2(s[1]) if len(s) == 2 else math.log2(s[2] / s[1])


class DnaModel:
    """Bases under P(base | 6 previous bases), the static order-6 row mixed with the counts of
    what followed the same 7 bases earlier in this chunk; the case (upper 0..3, lower 4..7) as
    one run structure per list: the first symbol's case, the number k of case switches (their
    own trained probabilities up to CASE_K_MAX, then a uniform digit), and where they are (one
    digit over the C(n - 1, k) choices). Case switches are rare and bunched (dev: 54% of chunks
    have none, mean 0.99): per list, 8.8 bits against 10.8 for P(case | previous case) per symbol.
    The prior file is packed (`pack`) bytes, -log2 p in 1/3-bit steps: 4 per base row, then the
    first-case row (2) and the switch-count row (CASE_K_MAX + 2, the last = more)."""

    kind = "dna"
    max_len = MAX_MODELED_LEN
    param_radix = DNA_PARAMS

    def __init__(self, name: str, tables=None, prior_file: str | None = None):
        self.name, self.prior_file = name, prior_file
        self._tables = tables

    @property
    def tables(self):
        """(base rows: 4^DNA_ORDER x 4, first-case row, switch-count row), rows of frequencies."""
        if self._tables is None:
            raw = unpack((PRIOR_DIR / self.prior_file).read_bytes())
            n = 4 ** DNA_ORDER
            if len(raw) != 4 * n + 2 + CASE_K_MAX + 2:
                raise ValueError(f"prior {self.prior_file}: expected {4 * n + CASE_K_MAX + 4} bytes")
            base = tuple(log_row(raw[4 * k:4 * k + 4]) for k in range(n))
            self._tables = (base, log_row(raw[4 * n:4 * n + 2]), log_row(raw[4 * n + 2:]))
        return self._tables

    @staticmethod
    def _base_freqs(bases, i, weight, base_rows, seen):
        row = base_rows[dna_context(bases, i, DNA_ORDER)]
        counts = seen.get(dna_context(bases, i, DNA_ADAPT_ORDER)) if i >= DNA_ADAPT_ORDER else None
        if not counts:
            return row
        return tuple(weight * f + DNA_ADAPT_UNIT * c for f, c in zip(row, counts))

    @staticmethod
    def _learn(bases, i, b, seen):
        if i >= DNA_ADAPT_ORDER:
            seen.setdefault(dna_context(bases, i, DNA_ADAPT_ORDER), [0, 0, 0, 0])[b] += 1
        bases.append(b)

    def _case_symbols(self, cases) -> list[tuple]:
        _, first, krow = self.tables
        n = len(cases)
        switches = [i - 1 for i in range(1, n) if cases[i] != cases[i - 1]]
        k = len(switches)
        out = [(sum(first[:cases[0]]), first[cases[0]], sum(first)),
               (sum(krow[:min(k, CASE_K_MAX + 1)]), krow[min(k, CASE_K_MAX + 1)], sum(krow))]
        if k > CASE_K_MAX and n - 1 - CASE_K_MAX > 1:
            out.append((k - CASE_K_MAX - 1, n - 1 - CASE_K_MAX))
        if math.comb(n - 1, k) > 1:
            out.append((comb_rank(switches), math.comb(n - 1, k)))
        return out

    def _read_cases(self, reader, n: int) -> list[int]:
        _, first, krow = self.tables
        case = reader.modeled(first, tuple(_cumulative(first)), sum(first))
        k = reader.modeled(krow, tuple(_cumulative(krow)), sum(krow))
        if k > CASE_K_MAX:
            k += reader.digit(n - 1 - CASE_K_MAX) if n - 1 - CASE_K_MAX > 1 else 0
        if k > n - 1:
            from ksynth.errors import CorruptInput

            raise CorruptInput("program stream is corrupt: more case switches than symbols")
        switches = set(comb_unrank(reader.digit(math.comb(n - 1, k)), k, n - 1)) if k else set()
        out = [case]
        for i in range(1, n):
            out.append(1 - out[-1] if i - 1 in switches else out[-1])
        return out

    def symbols(self, values, param: int) -> list[tuple]:
        base_rows = self.tables[0]
        for v in values:
            if not 0 <= v < 8:
                from ksynth.errors import ProgramError

                raise ProgramError(f"model {self.name} codes the symbols 0..7, got {v}")
        if not values:
            return []
        out = self._case_symbols([v >> 2 for v in values])
        weight, seen, bases = DNA_WEIGHT, {}, []
        for i, v in enumerate(values):
            freqs = self._base_freqs(bases, i, weight, base_rows, seen)
            if i >= len(values) - TAIL_VALUES:
                t = tail_total(len(values) - 1 - i)
                border, bf, bc = by_frequency(coarse(freqs, t))
                k = border.index(v & 3)
                out.append((bc[k], bf[k], t))
            else:
                out.append((sum(freqs[:v & 3]), freqs[v & 3], sum(freqs)))
            self._learn(bases, i, v & 3, seen)
        return out

    def cost(self, values, param: int) -> float:
        return sum(_symbol_bits(s) for s in self.symbols(values, param))

    def read(self, reader, n: int, param: int) -> tuple:
        if n == 0:
            return ()
        base_rows = self.tables[0]
        cases = self._read_cases(reader, n)
        weight, seen, bases, out = DNA_WEIGHT, {}, [], []
        for i in range(n):
            freqs = self._base_freqs(bases, i, weight, base_rows, seen)
            if i >= n - TAIL_VALUES:
                t = tail_total(n - 1 - i)
                border, bf, bc = by_frequency(coarse(freqs, t))
                b = border[reader.modeled(bf, bc, t)]
            else:
                b = reader.modeled(freqs, tuple(_cumulative(freqs)), sum(freqs))
            out.append(4 * cases[i] + b)
            self._learn(bases, i, b, seen)
        return tuple(out)


# ---- text: bytes under the text net (textnet.py) mixed with in-chunk order-4..1 counts ---
TEXT_WEIGHT = 1                   # the net's row (textnet.FREQ_TOTAL) counts TEXT_WEIGHT times, against
TEXT_ADAPT = ((4, 1 << 15), (3, 1 << 15), (2, 1 << 12), (1, 1 << 9))   # (order, weight of one in-
                                  # chunk occurrence after the same `order` bytes); dev held out, bits
                                  # a chunk under the H 48 net, each half of the held-out chunks:
                                  # orders 3 (2^15) + 2 (2^12) 364.6 / 361.4, + order 1 at 2^9
                                  # 363.3 / 359.8 (2^8 363.3, 2^10 363.9), + order 4 at 2^15
                                  # 362.8 / 359.3 (2^14 362.9). Earlier, H 64 net, bits/byte: order 3
                                  # alone 2^14 2.760, 2^15 2.754, 2^16 2.758; + order 2 at 2^12 -0.013
TEXT_START = 10                   # the context before the first byte (a newline)
TEXT_VARIANTS = ((17, 8), (20, 1), (14, 32), (16, 2))   # the param: (the net's logit scale in
                                  # 1/textnet.LOGIT_SCALE_ONE, the in-chunk counts' weight in eighths
                                  # of TEXT_ADAPT's). Greedy picks from 8 scales 14..22 x 7
                                  # weights 1..64 on one half of dev's held-out chunks, bits a chunk
                                  # on the other half with log2 K charged: one (20, 8) 362.8, one
                                  # (17, 8) 360.9, K=2 358.3, K=3 356.6, K=4 356.6, K=5 356.6, K=8 356.9
                                  # (a one-off search; experiments/train_text_net.py --score prints
                                  # the shipped set's 356.6 on that half)


class TextModel:
    """Bytes under the text net (textnet.py: an integer byte GRU trained on dev text, the prior
    file holds its weights) mixed with the counts of what followed the same four, three, two and
    one bytes earlier in the chunk (TEXT_ADAPT). The net reads a newline before the chunk. The
    param picks one of TEXT_VARIANTS: the net's logit scale and the counts' weight."""

    kind = "text"
    max_len = TEXT_MAX_LEN
    param_radix = len(TEXT_VARIANTS)

    def __init__(self, name: str, prior_file: str | None = None, net=None):
        self.name, self.prior_file, self._net = name, prior_file, net
        self._logits_of: tuple = ((), [])           # (values, their logits): one chunk's params share them

    @property
    def net(self):
        if self._net is None:
            from ksynth.dsl import textnet

            self._net = textnet.read_prior(PRIOR_DIR / self.prior_file)
        return self._net

    def _logits(self, values: tuple) -> list:
        got = self._logits_of                       # one read: another thread may swap it
        if got[0] != values:
            got = self._logits_of = (values, self.net.all_logits(values))
        return got[1]

    @staticmethod
    def _mix(row, values, i, seen, weight: int):
        """The net's row (int64 array) with the in-chunk counts at `weight` (eighths), a list."""
        mixed = (TEXT_WEIGHT * row).tolist()
        for order, unit in TEXT_ADAPT:
            if i >= order:
                w = unit * weight >> 3
                for v, c in seen.get(tuple(values[i - order:i]), {}).items():
                    mixed[v] += w * c
        return mixed

    @staticmethod
    def _learn(values, i, seen):
        """Count values[i] after each context (the orders' tuples differ in length: one dict)."""
        for order, _ in TEXT_ADAPT:
            if i >= order:
                ctx = seen.setdefault(tuple(values[i - order:i]), {})
                ctx[values[i]] = ctx.get(values[i], 0) + 1

    def symbols(self, values, param: int) -> list[tuple]:
        for v in values:
            if not 0 <= v < 256:
                from ksynth.errors import ProgramError

                raise ProgramError(f"model {self.name} codes bytes 0..255, got {v}")
        scale, weight = TEXT_VARIANTS[param]   # program.check_line keeps param < param_radix
        values = tuple(values)
        out, seen, net = [], {}, self.net
        for i, (logit, v) in enumerate(zip(self._logits(values), values)):
            freqs = self._mix(net.freqs(logit, scale), values, i, seen, weight)
            if i >= len(values) - TEXT_TAIL_VALUES:
                out += _tail_byte_symbols(freqs, v)
            else:
                out.append((sum(freqs[:v]), freqs[v], sum(freqs)))
            self._learn(values, i, seen)
        return out

    def cost(self, values, param: int) -> float:
        return sum(_symbol_bits(s) for s in self.symbols(values, param))

    def read(self, reader, n: int, param: int) -> tuple:
        scale, weight = TEXT_VARIANTS[param]   # program.check_line keeps param < param_radix
        out, seen, net = [], {}, self.net
        h = net.start()
        for i in range(n):
            freqs = self._mix(net.row(h, scale), out, i, seen, weight)
            if i >= n - TEXT_TAIL_VALUES:
                out.append(_read_tail_byte(reader, freqs))
            else:
                out.append(reader.modeled(freqs, tuple(_cumulative(freqs)), sum(freqs)))
            self._learn(out, i, seen)
            if i + 1 < n:
                h = net.push(h, out[-1])
        return tuple(out)


TEXT_TAIL_TOP = 15                # the tail's byte code: the 15 likeliest bytes and an escape at
TEXT_TAIL_TOTAL = 64              # total 64, then a uniform digit over the other 241 (dev, 40 chunks:
                                  # tail 6.3 -> 1.3 bits, values +1.2; 15 x 64 > 31 x 128 > 7 x 32)


def _tail_split(freqs):
    """(the TEXT_TAIL_TOP likeliest bytes, ties by value; the others ascending; the coarse row of
    the top bytes and the escape (last), by_frequency-ordered)."""
    top = sorted(range(256), key=lambda v: (-freqs[v], v))[:TEXT_TAIL_TOP]
    chosen = set(top)
    rest = [v for v in range(256) if v not in chosen]
    row = requantise([freqs[v] for v in top] + [sum(freqs[v] for v in rest)], TEXT_TAIL_TOTAL)
    return top, rest, by_frequency(row)


def _tail_byte_symbols(freqs, v) -> list[tuple]:
    top, rest, (order, sfreqs, scums) = _tail_split(freqs)
    k = top.index(v) if v in top else TEXT_TAIL_TOP
    j = order.index(k)
    out = [(scums[j], sfreqs[j], TEXT_TAIL_TOTAL)]
    if k == TEXT_TAIL_TOP:
        out.append((rest.index(v), len(rest)))
    return out


def _read_tail_byte(reader, freqs) -> int:
    top, rest, (order, sfreqs, scums) = _tail_split(freqs)
    k = order[reader.modeled(sfreqs, scums, TEXT_TAIL_TOTAL)]
    return top[k] if k < TEXT_TAIL_TOP else rest[reader.digit(len(rest))]


def by_frequency(freqs):
    """(symbols by descending frequency, ties by index; their frequencies; their cumulative
    frequencies): the slot order of the rANS tail, where a symbol's cost is about log2(cum + 1),
    so the likely symbols take the low slots."""
    order = sorted(range(len(freqs)), key=lambda k: (-freqs[k], k))
    sfreqs = tuple(freqs[k] for k in order)
    return order, sfreqs, tuple(_cumulative(sfreqs))


# ---- small alphabets: near-silent audio --------------------------------------------------------------
SMALL_LOW, SMALL_SIZES = 8, 4     # param = 4 (lo + 8) + A - 1: lo in -8..7, A in 1..4 values
SMALL_STAY, SMALL_MOVE = 8, 1     # a context's first counts: 4 and 1/2 observations (one = 2); dev
SMALL_UNIT = 2                    # binary chunks: 54.8 bits against 56.8 for 1/2 each (KT)
SMALL_TAIL, SMALL_TAIL_TOTAL = 48, 16  # the rANS tail: the last 48 values under rows of total 16,
# slots by frequency. While the bound is below the likeliest slot's frequency that symbol (slot 0)
# costs nothing, and near-silent lists are mostly runs (dev audio_8bit, the 114 small chunks of
# 400: 82.2 exact bits a chunk with 3 tail values, 81.2 with 8, 79.8 with 32, 79.5 with 48, 79.7
# with 64; totals 8 and 32 no better)


class SmallModel:
    """Values from lo..lo+A-1 (A <= 4; param names lo and A) as symbols 0..A-1, each under the
    counts of what followed the previous symbol so far in the list, a context starting at
    SMALL_STAY for staying and SMALL_MOVE for each move (runs are the rule); the first symbol
    under equal counts. A = 1 writes nothing. Dev audio_8bit: 22% of chunks hold only -1 and 0,
    and cost 82 bits as lpc residuals (their sign is never in doubt) against 55 here."""

    kind = "small"
    max_len = MAX_MODELED_LEN
    param_radix = 2 * SMALL_LOW * SMALL_SIZES

    def __init__(self, name: str):
        self.name, self.prior_file = name, None

    @staticmethod
    def alphabet(param: int) -> tuple[int, int]:
        """(lo, A) of a param."""
        return param // SMALL_SIZES - SMALL_LOW, param % SMALL_SIZES + 1

    @staticmethod
    def param_of(lo: int, size: int) -> int | None:
        if not (-SMALL_LOW <= lo < SMALL_LOW and 1 <= size <= SMALL_SIZES):
            return None
        return SMALL_SIZES * (lo + SMALL_LOW) + size - 1

    @staticmethod
    def _row(counts, prev, size):
        row = counts.get(prev)
        if row is None:
            row = counts[prev] = ([1] * size if prev == size else
                                  [SMALL_STAY if t == prev else SMALL_MOVE for t in range(size)])
        return row

    def symbols(self, values, param: int) -> list[tuple]:
        lo, size = self.alphabet(param)
        for v in values:
            if not lo <= v < lo + size:
                from ksynth.errors import ProgramError

                raise ProgramError(f"model {self.name} with param {param} codes {lo}..{lo + size - 1}, got {v}")
        if size == 1:
            return []
        out, counts, prev = [], {}, size
        for i, v in enumerate(values):
            row, sym = self._row(counts, prev, size), v - lo
            if i >= len(values) - SMALL_TAIL:
                order, freqs, cums = by_frequency(requantise(row, SMALL_TAIL_TOTAL))
                j = order.index(sym)
                out.append((cums[j], freqs[j], SMALL_TAIL_TOTAL))
            else:
                out.append((sum(row[:sym]), row[sym], sum(row)))
            row[sym] += SMALL_UNIT
            prev = sym
        return out

    def cost(self, values, param: int) -> float:
        return sum(_symbol_bits(s) for s in self.symbols(values, param))

    def read(self, reader, n: int, param: int) -> tuple:
        lo, size = self.alphabet(param)
        if size == 1:
            return (lo,) * n
        out, counts, prev = [], {}, size
        for i in range(n):
            row = self._row(counts, prev, size)
            if i >= n - SMALL_TAIL:
                order, freqs, cums = by_frequency(requantise(row, SMALL_TAIL_TOTAL))
                sym = order[reader.modeled(freqs, cums, SMALL_TAIL_TOTAL)]
            else:
                sym = reader.modeled(tuple(row), tuple(_cumulative(row)), sum(row))
            out.append(lo + sym)
            row[sym] += SMALL_UNIT
            prev = sym
        return tuple(out)


# ---- serialized priors: packed with raw LZMA2 (the standard library's lzma) ---------------------------
# Every prior file is `pack(raw)`: raw LZMA2 at preset 9e, dictionary 1 MiB (smaller than zlib -9
# on the larger files: dna 7,429 -> 6,659 bytes).
_LZMA2 = [{"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME, "dict_size": 1 << 20}]


def pack(raw: bytes) -> bytes:
    return lzma.compress(raw, format=lzma.FORMAT_RAW, filters=_LZMA2)


def unpack(blob: bytes) -> bytes:
    return lzma.decompress(blob, format=lzma.FORMAT_RAW, filters=_LZMA2)


def write_residual(path: Path, rows, first, top) -> int:
    """A residual coder's prior, packed: its bucket rows, the first value's bucket row, then
    P(top bit = 0) of each cell, as big-endian uint16 frequencies. Returns the file's size in
    bytes (the charged prior)."""
    raw = b"".join(f.to_bytes(2, "big") for row in tuple(rows) + (first,) for f in row)
    raw += b"".join(int(f).to_bytes(2, "big") for f in top)
    blob = pack(raw)
    Path(path).write_bytes(blob)
    return len(blob)


def read_residual(path: Path):
    raw = unpack(Path(path).read_bytes())
    if len(raw) != 2 * ((N_CTX + 1) * N_BUCKETS + N_TOP):
        raise ValueError(f"prior {Path(path).name}: expected {N_CTX} + 1 x {N_BUCKETS} rows and "
                         f"{N_TOP} top-bit cells")
    vals = [int.from_bytes(raw[k:k + 2], "big") for k in range(0, len(raw), 2)]
    rows = tuple(tuple(vals[r * N_BUCKETS:(r + 1) * N_BUCKETS]) for r in range(N_CTX + 1))
    return rows[:N_CTX], rows[N_CTX], tuple(vals[(N_CTX + 1) * N_BUCKETS:])


# ---- the shared predictor codebook (lpc) ----------------------------------------------------------
FIXED_PREDICTORS = ((0, 1), (0, 2, -1), (0, 3, -3, 1))   # FLAC's fixed polynomials, always in the book
BOOK_FILE = "predictors.prior"


class PredictorBook:
    """lpc predictors [shift, c1, ..., cp] a program names by index (encode.py's predictor code)."""

    def __init__(self, entries):
        self.entries = tuple(dict.fromkeys(tuple(e) for e in entries))
        self.index = {e: k for k, e in enumerate(self.entries)}


def write_book(path: Path, entries) -> int:
    """Serialize trained entries (FIXED_PREDICTORS are implied): packed big-endian int16
    [length, shift, c1, ..., cp] per entry. Returns the size in bytes (the charged prior)."""
    vals = []
    for e in entries:
        vals += [len(e)] + list(e)
    blob = pack(b"".join(int(v).to_bytes(2, "big", signed=True) for v in vals))
    Path(path).write_bytes(blob)
    return len(blob)


def read_book(path: Path) -> tuple:
    raw = unpack(Path(path).read_bytes())
    vals = [int.from_bytes(raw[k:k + 2], "big", signed=True) for k in range(0, len(raw), 2)]
    out, k = [], 0
    while k < len(vals):
        n = vals[k]
        out.append(tuple(vals[k + 1:k + 1 + n]))
        k += 1 + n
    return tuple(out)


_BOOK: list = []


def predictor_book() -> PredictorBook:
    """The fixed predictors, then the trained ones from ksynth/priors/predictors.prior (if built)."""
    if not _BOOK:
        path = PRIOR_DIR / BOOK_FILE
        trained = read_book(path) if path.exists() else ()
        _BOOK.append(PredictorBook(FIXED_PREDICTORS + trained))
    return _BOOK[0]


def set_predictor_book(entries) -> None:
    """Replace the book (training and tests; programs coded under another book decode wrongly)."""
    _BOOK[:] = [PredictorBook(FIXED_PREDICTORS + tuple(tuple(e) for e in entries))]


# ---- the program prior: which form, each model's parameter, each residual model's predictor ------
# encode.py writes a program of the commonest shape (a modeled list, maybe lpc, maybe bytes_le or
# modulo_item_list(x, 255), output last) as a FORM: one symbol names the model and the lines after the list, instead of a
# header, op digits, references and the model digit. Its parameter and its lpc predictor (a
# codebook index) are coded under the rows below, trained on the forms `predict` picks on dev.
# A chain's last line turns the samples into bytes: (op, its number argument), or None.
INT8, INT16 = ("bytes_le", 1), ("bytes_le", 2)    # two's complement, little-endian
ONES8 = ("modulo_item_list", 255)  # ones' complement int8 (-v written as 255 - v, so byte 255, the
                                   # "-0", never occurs: dev audio_mfcc has no byte 255 at all)
CHAINS = ((False, None), (False, INT8), (False, INT16), (True, INT8), (True, INT16), (True, ONES8))   # (lpc line, last line)
STD_OUTPUT = 128                  # the benchmark's chunk: a form's list is 128 / width values (one a
STD_LEN_FREQ, STD_LEN_TOTAL = 63, 64   # byte but for INT16) unless it says otherwise (P = 63/64)


def byte_width(last) -> int:
    """Bytes each value of the chain's list becomes (INT16: 2, otherwise 1)."""
    return last[1] if last is not None and last[0] == "bytes_le" else 1
FORMS_FILE = "forms.prior"


def n_forms() -> int:
    """Forms (model x chain) plus one escape to the generic program code."""
    return len(MODELS) * len(CHAINS) + 1


class ProgramPrior:
    """Frequency rows (each with its cumulative form) of a form program's choices. A row that is
    missing from the file, or whose width no longer fits (another codebook), is uniform."""

    def __init__(self, form=None, params=None, predictors=None):
        self._form, self._params, self._preds = form, dict(params or {}), dict(predictors or {})
        self._cache: dict = {}

    def _row(self, key, freqs, width):
        """(freqs, cumulative, total), cached per key and width."""
        got = self._cache.get((key, width))
        if got is None:
            if freqs is None or len(freqs) != width:
                freqs = (1,) * width
            freqs = tuple(freqs)
            got = self._cache[(key, width)] = (freqs, tuple(_cumulative(freqs)), sum(freqs))
        return got

    def form_row(self):
        return self._row("form", self._form, n_forms())

    def param_row(self, model: int):
        return self._row(("param", model), self._params.get(model), MODELS[model].param_radix)

    def predictor_row(self, model: int):
        return self._row(("pred", model), self._preds.get(model), len(predictor_book().entries) + 1)


def write_program_prior(path: Path, form_counts, param_counts: dict, predictor_counts: dict) -> int:
    """Serialize counts (each row smoothed by the caller: every entry > 0), packed: per row,
    kind, model, width (uint16 big-endian) and one byte per entry: -log2 p in 1/3-bit steps
    (quantise_row). Returns the file's size in bytes (the charged prior)."""
    rows = [(0, 0, form_counts)] + [(1, m, c) for m, c in sorted(param_counts.items())]
    rows += [(2, m, c) for m, c in sorted(predictor_counts.items())]
    raw = b"".join(bytes([k, m]) + len(c).to_bytes(2, "big") + quantise_row(c) for k, m, c in rows)
    blob = pack(raw)
    Path(path).write_bytes(blob)
    return len(blob)


def read_program_prior(path: Path) -> ProgramPrior:
    raw = unpack(Path(path).read_bytes())
    form, params, preds, k = None, {}, {}, 0
    while k < len(raw):
        kind, m, width = raw[k], raw[k + 1], int.from_bytes(raw[k + 2:k + 4], "big")
        row = log_row(raw[k + 4:k + 4 + width])
        k += 4 + width
        if kind == 0:
            form = row
        else:
            (params if kind == 1 else preds)[m] = row
    return ProgramPrior(form, params, preds)


_PROGRAM_PRIOR: list = []


def program_prior() -> ProgramPrior:
    """The trained form / parameter / predictor rows (uniform when forms.prior is not built)."""
    if not _PROGRAM_PRIOR:
        path = PRIOR_DIR / FORMS_FILE
        _PROGRAM_PRIOR.append(read_program_prior(path) if path.exists() else ProgramPrior())
    return _PROGRAM_PRIOR[0]


def set_program_prior(prior: ProgramPrior | None) -> None:
    """Replace the program prior (training and tests; None: uniform rows)."""
    _PROGRAM_PRIOR[:] = [prior or ProgramPrior()]


MODELS: tuple = (
    ResidualModel("residual"),
    ResidualModel("residual_a8", prior_file="residual_a8.prior"),
    ResidualModel("residual_a16", prior_file="residual_a16.prior"),
    ResidualModel("residual_mfcc", prior_file="residual_mfcc.prior"),
    DnaModel("dna", prior_file="dna.prior"),
    TextModel("text", prior_file="text_net.prior"),
    SmallModel("small"),
)
MODEL_INDEX = {m.name: k for k, m in enumerate(MODELS)}

# which trained priors a modality's programs may use (the benchmark charges these files)
MODALITY_PRIORS = {"audio_8bit": ("residual_a8.prior", BOOK_FILE, FORMS_FILE),
                   "audio_16bit": ("residual_a16.prior", BOOK_FILE, FORMS_FILE),
                   "audio_mfcc": ("residual_mfcc.prior", BOOK_FILE, FORMS_FILE),
                   "dna": ("dna.prior", FORMS_FILE), "text": ("text_net.prior", FORMS_FILE)}


@lru_cache(maxsize=None)
def prior_bytes(file: str) -> int:
    """Serialized size of a prior file in bytes (0 when it is not built)."""
    p = PRIOR_DIR / file
    return p.stat().st_size if p.exists() else 0
