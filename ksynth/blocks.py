"""One block of a file -> its cheapest verified representation, and back.

A block (1..block_size bytes) becomes one of the container's kinds:
    program  `encode(program)`: a KT-DSL program whose output is the block, found by
             structural detectors (below) and, on short targets, by the search portfolio under
             the real `bits` objective
    copy     the block equals the previous block (no payload)
    deflate  raw deflate, with the previous block's last 32 KiB as preset dictionary
    zstd, xz raw zstd frame / raw LZMA2 of the block alone
    zstd-prev, xz-prev  zstd / raw LZMA2 with the previous block's last 32 / 256 KiB as the
             dictionary (tried after block 0, zstd-prev instead of zstd, xz-prev as well as xz:
             a second block of text or a period that spans blocks does not start from nothing;
             xz-prev needs liblzma, ksynth.lzma2)
    stored   the bytes themselves
After block 0, a codec whose solid stream runs beside the block-wise one (ksynth.solid) is not
tried in its plain form: no deflate with deflate-solid, no plain xz (xz-prev only) with xz-solid.
A block that is the whole input (no solid stream is made) also tries the solid streams' codecs
on itself (Plan.alone: -4..-6 add zstd 19), so a one-block input keeps the same bounds.
A block zstd packs below 1/64 of its size also tries zstd 19 (fast on such data).
Every candidate is decoded (programs: run by the executor) and compared before it may win; ties
go to the earlier kind in the order stored, copy, program, deflate, zstd, xz (or their -prev).

The detectors explain a target t (a list of small ints) the way a person would, recursively:
    constant        repeat_num(L, v)
    runs            concatenate(repeat_num(n1, v1), ...) for a few long runs
    arithmetic      range_func_interval(t0, t0 + k L, k), modulo 256 when it wraps
    periodic        repeat_list(q, P) cut to L, P explained recursively (or a literal)
    differences     t0 then the differences d, explained recursively: scan_add, modulo 256
    interleaved     t[0::2] and t[1::2] explained recursively: interleave (record widths 2^k)
    literal         set_list(t) for short targets (the encoder's enumerative code)
and keep the cheapest by `program_bits_float`. Each costs O(L) numpy work; the recursion depth
and a node budget bound the total. Decoding a program is guarded by `check_elements`: the sum of
its lines' lengths, known from the op rows' `size` before running, may not exceed
ELEMENT_FACTOR x the block (no bombs).
"""
from __future__ import annotations

import io
import lzma
import zlib
from dataclasses import dataclass, replace

import numpy as np

from ksynth import container as C
from ksynth.dsl.ops import OPS, ArgKind
from ksynth.dsl.program import Line, Program, Ref
from ksynth.errors import CorruptInput, ExecError, KsynthError

DEFLATE_DICT = 32 * 1024         # bytes of the previous block given to deflate as its dictionary
ZSTD_DICT = 32 * 1024            # .. and to zstd-prev (a whole 1 MiB block came out larger at zstd 9)
XZ_DICT = 256 * 1024             # .. and to xz-prev (2 MiB CSV: as small as 1 MiB, 4x faster)
LITERAL_MAX = 4096               # elements: longer literals decode too slowly (one big integer)
MAX_RUNS = 64                    # runs detector: at most this many runs
DIFF_MAX_DISTINCT = 16           # differences detector: only when d takes few values
MIN_SPLIT = 64                   # interleaved detector: targets at least this long
PERIOD_KEY = 32                  # elements of the prefix searched for to find a period
PERIOD_TRIES = 64                # candidate periods checked in full
ELEMENT_FACTOR = 6               # a program may build at most this many elements per output byte
ELEMENT_SLACK = 1 << 16          # .. plus this many (short blocks, literals)
JIT_MIN = 1 << 16                # elements: shorter blocks run on the reference interpreter
SEARCH_MIN_BITS = 48             # a detector program this cheap is not worth a search
# the portfolio a block search runs: the default one without `beam`, whose gain was measured under
# the kt objective on synthetic draws; these five are what issue 12's sizes and speeds were met with
BLOCK_STRATEGIES = ("predict", "decompose", "segment", "enumerate", "solve")
PROGRAM_CHEAP = 64               # bytes: a program this short is within the codecs' slack anyway
ZSTD_MAX = 19                    # a block zstd packs below 1/ZSTD_ESCALATE of its size also tries
ZSTD_ESCALATE = 64               # zstd 19, fast on such data (periodic_1000's block 1 at -6:
                                 # zstd-prev 9 ~1,000 B, 19: 98 B, in ~0.02 s)


@dataclass(frozen=True)
class Plan:
    """What a level does to each block (see LEVELS)."""

    depth: int                   # detector recursion depth (periods, differences)
    splits: int                  # interleave halvings (record widths up to 2^splits)
    nodes: int                   # detector calls per block
    codecs: tuple[tuple[int, int], ...]   # (kind, codec level) tried on every block
    search_len: int              # targets up to this many elements also get the portfolio search
    search_seconds: float        # .. with this budget per target
    search_parts: bool = False   # .. and so do the parts of a block (periods, halves), not only blocks
    solid: tuple[tuple[int, int], ...] = ()   # (solid kind, level): whole-file streams made beside
                                 # the block-wise one from the second block on (ksynth.solid)

    @property
    def solid_xz(self) -> bool:
        """An xz-solid stream runs (the level promises xz -9's size)."""
        return any(kind == C.XZ_SOLID for kind, _ in self.solid)

    @property
    def solid_best(self) -> bool:
        """The solid streams are gzip -9's, zstd -19's and xz -9's: the level promises the best
        of the three (+ the framing)."""
        levels = dict(self.solid)
        return levels.get(C.DEFLATE_SOLID) == 9 and levels.get(C.ZSTD_SOLID) == 19 and \
            levels.get(C.XZ_SOLID, 0) >= 6

    @property
    def alone(self) -> tuple[tuple[int, int], ...]:
        """(kind, level) tried on a block that is the whole input: its solid streams' codecs on
        the block alone (a one-block input makes no solid stream; these stand in for them)."""
        return tuple((_PLAIN[kind], level) for kind, level in self.solid)


_E = lzma.PRESET_EXTREME                 # an xz "level" is its preset, with lzma's extreme flag
_FAST = ((C.DEFLATE, 9), (C.ZSTD, 3))
# xz 6 per block stays at -4..-6 beside zstd-solid, though it costs -6 ~1.24 -> ~1.09 MB/s CPU on
# bench_files' corpus: without it a file whose program blocks sit between text blocks lost the
# block-wise win (1 MiB CSV + 1 MiB of 16-byte records: 98,869 -> 195,828 B). 6e: ~0.1% smaller
# on audio, 2x slower on CSV
_MID = ((C.DEFLATE, 9), (C.ZSTD, 9), (C.XZ, 6))
_BEST = ((C.DEFLATE, 9), (C.ZSTD, 19), (C.XZ, 9), (C.XZ, 9 | _E))   # each wins on some blocks
# solid streams: deflate 9 is gzip -9's stream (the gzip bound); xz 6 with the file's size as
# dictionary is xz -9's (presets 6..9 differ only in dictionary size); zstd 19 is zstd -19's.
# xz 9e solid: 11 KB larger on 2 MiB CSV, not tried
_S_FAST = ((C.DEFLATE_SOLID, 9),)
# zstd 19 at -4..-6 too: without it a log of few distinct lines came out 1,498 B over zstd -19
# (2 MiB, bench_files' picked.log), past the best-of bound those levels promise
_S_MID = ((C.DEFLATE_SOLID, 9), (C.ZSTD_SOLID, 19), (C.XZ_SOLID, 6))
_S_BEST = ((C.DEFLATE_SOLID, 9), (C.ZSTD_SOLID, 19), (C.XZ_SOLID, 9))
LEVELS = {
    1: Plan(1, 2, 16, _FAST, 0, 0.0, solid=_S_FAST),
    2: Plan(2, 2, 32, _FAST, 0, 0.0, solid=_S_FAST),
    3: Plan(2, 3, 64, ((C.DEFLATE, 9), (C.ZSTD, 9)), 64, 0.2, solid=_S_FAST),
    4: Plan(2, 3, 96, _MID, 64, 0.2, solid=_S_MID),
    5: Plan(2, 4, 128, _MID, 128, 0.3, solid=_S_MID),
    6: Plan(2, 4, 192, _MID, 128, 0.5, solid=_S_MID),
    7: Plan(3, 4, 256, _BEST, 128, 1.0, solid=_S_BEST),
    8: Plan(3, 4, 384, _BEST, 128, 1.0, solid=_S_BEST),
    9: Plan(3, 5, 512, _BEST, 256, 1.8, solid=_S_BEST),
}
INCOMPRESSIBLE = 0.995           # zstd -1 ratio above which only stored is tried (random data)


# ---- expressions: programs as trees, lowered to SSA lines with shared subtrees -------------------
# An expression is (op, args): args at REF / REFS positions are expressions, the rest are values.
# ("program", Program) embeds a whole program found by the search.
def _child_positions(op: str, n_args: int) -> range | tuple:
    kinds = OPS[op].args
    if ArgKind.REFS in kinds:
        return range(n_args)
    return tuple(k for k, kind in enumerate(kinds) if kind is ArgKind.REF)


def lower(expr) -> Program:
    lines: list[Line] = []
    memo: dict = {}

    def emit(e) -> int:
        if e in memo:
            return memo[e]
        op, args = e
        if op == "program":
            base = len(lines)
            for line in args.lines:
                lines.append(Line(line.op, tuple(Ref(a.index + base) if isinstance(a, Ref) else a
                                                 for a in line.args)))
            memo[e] = base + args.output
            return memo[e]
        kids = _child_positions(op, len(args))
        built = tuple(Ref(emit(a)) if k in kids else a for k, a in enumerate(args))
        lines.append(Line(op, built))
        memo[e] = len(lines) - 1
        return memo[e]

    out = emit(expr)
    return Program(tuple(lines), out).pruned()


def cost_bits(expr) -> float:
    from ksynth.dsl.encode import program_bits_float

    return program_bits_float(lower(expr))


# ---- detectors ----------------------------------------------------------------------------------
def _literal(t: np.ndarray):
    return ("set_list", (tuple(int(v) for v in t),))


def _period(t: np.ndarray, first_change: int) -> int | None:
    """The smallest p <= L/2 with t[i] == t[i + p] for all i, among the first PERIOD_TRIES places
    where a window around t's first change recurs (a window inside a run would recur at every
    shift); None when there is none."""
    L = len(t)
    if L < 4:
        return None
    buf = t.astype("<i2").tobytes()              # 2 bytes per element: offsets below are doubled
    o = max(0, first_change + 1 - PERIOD_KEY // 2)
    key = buf[2 * o:2 * min(o + PERIOD_KEY, L)]
    pos, tries = buf.find(key, 2 * o + 2), 0
    while pos != -1 and tries < PERIOD_TRIES:
        shift = pos - 2 * o
        if shift % 2 == 0:
            if shift // 2 > L // 2:
                return None
            tries += 1
            if buf[shift:] == buf[:-shift]:
                return shift // 2
        pos = buf.find(key, pos + 1)
    return None


class Detector:
    """Explains targets under a Plan; `solve(t)` is the cheapest expression found, or None.

    Two recursion budgets: `depth` for nested periods / differences, `splits` for interleave
    halvings (record widths up to 2^splits); `plan.nodes` caps the calls per block."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self.nodes = 0
        self._search = None

    def solve(self, t: np.ndarray, depth: int | None = None, splits: int | None = None,
              top: bool = True):
        depth = self.plan.depth if depth is None else depth
        splits = self.plan.splits if splits is None else splits
        self.nodes += 1
        L = len(t)
        if L == 0:
            return ("set_list", ((),))
        change = np.flatnonzero(t[1:] != t[:-1])
        if change.size == 0:
            return ("repeat_num", (L, int(t[0])))
        cands = []
        if L <= LITERAL_MAX:
            cands.append(_literal(t))
        if change.size < MAX_RUNS:
            starts = np.concatenate(([0], change + 1, [L]))
            cands.append(("concatenate", tuple(("repeat_num", (int(b - a), int(t[a])))
                                               for a, b in zip(starts[:-1], starts[1:]))))
        d = np.diff(t.astype(np.int64))
        if np.all(d == d[0]):
            return min(cands + [_arith(int(t[0]), int(d[0]), L)], key=cost_bits)
        in_bytes = bool(t.min() >= 0 and t.max() <= 255)   # only then can modulo 256 rebuild t
        dm = (d + 128) % 256 - 128                  # the same steps modulo 256, centred
        if in_bytes and np.all(dm == dm[0]):
            cands.append(_arith(int(t[0]), int(dm[0]), L, modulo=True))
        more = self.nodes < self.plan.nodes
        if more:
            p = _period(t, int(change[0]))
            if p is not None:
                sub = self.solve(t[:p], depth - 1, splits, False) if depth > 0 else None
                sub = sub if sub is not None else (_literal(t[:p]) if p <= LITERAL_MAX else None)
                if sub is not None:      # q whole periods, then a cut one: no list outgrows t
                    rep = ("repeat_list", (L // p, sub))
                    cands.append(rep if L % p == 0 else ("concatenate", (
                        rep, ("get_subsequence_between_indices", (sub, 0, L % p)))))
        if more and depth > 0 and L >= 3:
            exact = not in_bytes or _distinct(d) <= _distinct(dm)
            steps = d if exact else dm
            if _distinct(steps) <= DIFF_MAX_DISTINCT:
                sub = self.solve(steps, depth - 1, splits, False)
                if sub is not None:
                    scan = ("scan_add", (("concatenate", (("set_list", ((int(t[0]),),)), sub)),))
                    cands.append(scan if exact else ("modulo_item_list", (scan, 256)))
        if more and splits > 0 and L >= MIN_SPLIT:
            a = self.solve(t[0::2], depth, splits - 1, False)
            b = self.solve(t[1::2], depth, splits - 1, False) if a is not None else None
            if b is not None:
                cands.append(("interleave", (a, b)))
        best = min(cands, key=cost_bits) if cands else None
        if L <= self.plan.search_len and (top or self.plan.search_parts) and \
                (best is None or cost_bits(best) > SEARCH_MIN_BITS):
            found = self._portfolio(t)
            best = found if best is None or cost_bits(found) < cost_bits(best) else best
        return best

    def _portfolio(self, t: np.ndarray):
        from ksynth.config import Budget, SearchConfig
        from ksynth.search.portfolio import Portfolio

        if self._search is None:
            cfg = SearchConfig(objective="bits", strategies=BLOCK_STRATEGIES,
                               budget=Budget(seconds=self.plan.search_seconds))
            self._search = Portfolio(cfg, strict=False)
        return ("program", self._search.search([int(v) for v in t]).program)


def _distinct(x: np.ndarray) -> int:
    lo, hi = int(x.min()), int(x.max())
    if hi - lo < 1 << 16:
        return int(np.count_nonzero(np.bincount(x - lo)))
    return int(np.unique(x).size)


def _arith(t0: int, k: int, L: int, modulo: bool = False):
    expr = ("range_func_interval", (t0, t0 + k * L, k))
    return ("modulo_item_list", (expr, 256)) if modulo else expr


# ---- running programs safely ----------------------------------------------------------------------
def element_bound(program: Program, max_len: int) -> int:
    """A bound on the elements all lines of `program` hold together, from the op rows' `size`
    alone (nothing is built; each line at most max_len: a longer one is rejected when it runs);
    CorruptInput when a line is rejected on its arguments."""
    from ksynth.dsl.interp import line_sizes

    try:
        return sum(line_sizes(program, max_len))
    except ExecError as e:
        raise CorruptInput(f"program rejected by the interpreter: {e}") from None


def check_elements(program: Program, raw_size: int) -> None:
    """CorruptInput unless the lines together hold at most ELEMENT_FACTOR x raw_size +
    ELEMENT_SLACK elements (the decoder's memory bound), each capped at raw_size."""
    bound = element_bound(program, raw_size)
    if bound > ELEMENT_FACTOR * raw_size + ELEMENT_SLACK:
        raise CorruptInput(f"program would build {bound} elements for a {raw_size}-byte block "
                           f"(limit {ELEMENT_FACTOR}x + {ELEMENT_SLACK})")


def run_program(program: Program, raw_size: int, work=None) -> bytes:
    """The program's output as bytes; CorruptInput unless it is exactly raw_size bytes 0..255.
    Every line's length is bounded from its arguments before anything runs: lines holding more
    than ELEMENT_FACTOR x raw_size + ELEMENT_SLACK elements together are refused first, and a
    line over raw_size stops the run (no bombs). Long blocks run in the numba executor's pre-sized arena (`work`, a
    jit.Workspace, keeps it between blocks); short ones on the reference interpreter."""
    check_elements(program, raw_size)
    from ksynth.dsl import executor

    try:
        if executor.backend == "numba" and raw_size >= JIT_MIN:
            from ksynth.dsl import jit

            values = jit.run_one(program, raw_size, work=work)
        else:
            from ksynth.dsl.interp import run

            values = np.asarray(run(program, raw_size), dtype=np.int64)
    except ExecError as e:
        raise CorruptInput(f"program rejected by the executor: {e}") from None
    if values.shape[0] != raw_size or (values.size and (values.min() < 0 or values.max() > 255)):
        raise CorruptInput(f"program output is not {raw_size} bytes in 0..255")
    return values.astype(np.uint8).tobytes()


# ---- codecs -----------------------------------------------------------------------------------
def _xz_filters(size: int, preset: int) -> list[dict]:
    dict_size = max(4096, 1 << max(size - 1, 1).bit_length())
    return [{"id": lzma.FILTER_LZMA2, "preset": preset, "dict_size": dict_size}]


def codec_encode(kind: int, data: bytes, level: int, prev: bytes) -> bytes:
    if kind == C.DEFLATE:
        zdict = prev[-DEFLATE_DICT:]
        # memLevel 8 as gzip uses (9 came out larger on CSV); -15: raw deflate, no zlib framing
        enc = zlib.compressobj(level, zlib.DEFLATED, -15, 8, **({"zdict": zdict} if zdict else {}))
        return enc.compress(data) + enc.flush()
    if kind in (C.ZSTD, C.ZSTD_PREV):
        import zstandard

        return zstandard.ZstdCompressor(level=level, write_content_size=False, write_checksum=False,
                                        write_dict_id=False,
                                        dict_data=_zstd_dict(kind, prev)).compress(data)
    if kind == C.XZ:
        return lzma.compress(data, format=lzma.FORMAT_RAW, filters=_xz_filters(len(data), level))
    if kind == C.XZ_PREV:
        from ksynth import lzma2

        f = _xz_filters(len(data), level)[0]
        zdict = prev[-XZ_DICT:]
        return lzma2.compress(data, f["preset"], f["dict_size"] + len(zdict), zdict)
    raise ValueError(f"not a codec kind: {kind}")


def workspace():
    """Memory that program blocks reuse from one block to the next (None: nothing to keep)."""
    from ksynth.dsl import executor

    if executor.backend != "numba":
        return None
    from ksynth.dsl import jit

    return jit.Workspace()


def _zstd_dict(kind: int, prev: bytes):
    """ZSTD_PREV: the previous block's last ZSTD_DICT bytes as a raw-content dictionary (no
    header, no entropy tables)."""
    if kind != C.ZSTD_PREV:
        return None
    import zstandard

    return zstandard.ZstdCompressionDict(prev[-ZSTD_DICT:], dict_type=zstandard.DICT_TYPE_RAWCONTENT)


def decode_block(kind: int, payload: bytes, raw_size: int, prev: bytes, block_size: int,
                 work=None) -> bytes:
    """The block's bytes; CorruptInput for anything that does not decode to exactly raw_size bytes.
    Codec output is read at most raw_size + 1 bytes far (no bombs). `work`: a jit.Workspace
    reused for program blocks (see run_program)."""
    if kind == C.STORED:
        out = payload
    elif kind == C.COPY:
        out = prev
    elif kind == C.PROGRAM:
        from ksynth.dsl.encode import decode

        out = run_program(decode(payload), raw_size, work)
    elif kind in C.SOLID:
        raise ValueError("a solid record is one part of a stream: ksynth.solid.Decoder reads it")
    else:
        out = _codec_decode(kind, payload, raw_size, prev, block_size)
    if len(out) != raw_size:
        raise CorruptInput(f"{C.KIND_NAMES[kind]} block restores {len(out)} bytes, "
                           f"its record says {raw_size}")
    return out


def _codec_decode(kind: int, payload: bytes, raw_size: int, prev: bytes, block_size: int) -> bytes:
    try:
        if kind == C.DEFLATE:
            zdict = prev[-DEFLATE_DICT:]
            dec = zlib.decompressobj(-15, **({"zdict": zdict} if zdict else {}))
            out = dec.decompress(payload, raw_size + 1)
            ok = dec.eof and not dec.unused_data and not dec.unconsumed_tail
        elif kind in (C.ZSTD, C.ZSTD_PREV):
            import zstandard

            dec = zstandard.ZstdDecompressor(dict_data=_zstd_dict(kind, prev))
            reader = dec.stream_reader(io.BytesIO(payload), read_across_frames=False)
            out = reader.read(raw_size + 1)
            ok = True
        elif kind == C.XZ:
            dec = lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=[
                {"id": lzma.FILTER_LZMA2, "dict_size": block_size}])
            out = dec.decompress(payload, raw_size + 1)
            ok = dec.eof and not dec.unused_data
        else:
            from ksynth import lzma2

            if not lzma2.available:
                raise KsynthError("this stream has xz-prev blocks, which need liblzma; "
                                  "it could not be loaded")
            zdict = prev[-XZ_DICT:]
            out, ok = lzma2.decompress(payload, raw_size + 1, block_size + len(zdict), zdict)
    except (zlib.error, lzma.LZMAError, EOFError, ValueError, MemoryError) as e:
        raise CorruptInput(f"{C.KIND_NAMES[kind]} payload does not decode: {e}") from None
    except Exception as e:                   # zstandard.ZstdError (imported lazily)
        if type(e).__name__ != "ZstdError":
            raise
        raise CorruptInput(f"zstd payload does not decode: {e}") from None
    if not ok:
        raise CorruptInput(f"{C.KIND_NAMES[kind]} payload is truncated or has trailing bytes")
    return out


# ---- choosing ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Choice:
    """A block's winning representation. `program` is set for program blocks."""

    kind: int
    payload: bytes
    raw_size: int
    program: Program | None = None
    bits: int | None = None            # the program's exact code length


def choose(data: bytes, prev: bytes, plan: Plan, block_size: int, alone: bool = False) -> Choice:
    """The cheapest verified representation of one block (see the module docstring). `alone`:
    the block is the whole input, so no solid stream is made and the solid streams' codecs are
    tried on it as well (plan.alone)."""
    if prev and data == prev:
        return Choice(C.COPY, b"", len(data))
    best = Choice(C.STORED, data, len(data))
    prog = _program_choice(data, plan)
    if prog is not None and len(prog.payload) < len(best.payload):
        best = prog
    if best.kind == C.PROGRAM and len(best.payload) <= PROGRAM_CHEAP:
        return best
    codecs = plan.codecs + tuple(c for c in plan.alone if c not in plan.codecs) if alone \
        else plan.codecs
    if len(data) >= 4096 and _incompressible(data):
        codecs = codecs[:1]                  # deflate only: it stands in for gzip's bound
    solid = set() if alone else \
        {k for k, _ in plan.solid if k != C.XZ_SOLID or _lzma2_available()}
    tries = []
    for kind, level in codecs:
        kinds = _AFTER_FIRST.get(kind, (kind,)) if prev else (kind,)
        if prev and _SOLID_FOR.get(kind) in solid:       # the solid stream stands in for it
            kinds = tuple(k for k in kinds if k != kind)
        tries += [(k, level) for k in kinds]
    for kind, level in tries:
        if kind == C.XZ_PREV and not _lzma2_available():
            continue
        payload = codec_encode(kind, data, level, prev)
        if kind in (C.ZSTD, C.ZSTD_PREV) and level < ZSTD_MAX and payload is not None and \
                len(payload) * ZSTD_ESCALATE < len(data) and (kind, ZSTD_MAX) not in tries:
            tries.append((kind, ZSTD_MAX))
        if payload is not None and len(payload) < len(best.payload) and \
                decode_block(kind, payload, len(data), prev, block_size) == data:
            best = Choice(kind, payload, len(data))
    return best


# what a codec tries after block 0: zstd-prev never came out larger than zstd; xz-prev did (a
# 128 KiB CSV block: 18.5 -> 22.2 KB; 1 MiB: 121.6 -> 93.8 KB), so xz tries both
_AFTER_FIRST = {C.ZSTD: (C.ZSTD_PREV,), C.XZ: (C.XZ, C.XZ_PREV)}
# .. less the plain kind whose solid stream runs: deflate-solid is per-block deflate without the
# cut at each block (~170 B less per boundary), xz-solid the stronger xz on text (2 MiB CSV: 175
# vs 380 KB). xz-prev stays: records_12b's block 1 78.7 KB, the block-wise stream 242 KB against
# xz-solid's 298 KB
_SOLID_FOR = {C.DEFLATE: C.DEFLATE_SOLID, C.XZ: C.XZ_SOLID}
# a solid kind's codec on one block: a one-block input's stand-in for the solid stream
_PLAIN = {C.DEFLATE_SOLID: C.DEFLATE, C.ZSTD_SOLID: C.ZSTD, C.XZ_SOLID: C.XZ}


def _lzma2_available() -> bool:
    from ksynth import lzma2

    return lzma2.available


def _incompressible(data: bytes) -> bool:
    import zstandard

    return len(zstandard.ZstdCompressor(level=1).compress(data)) > INCOMPRESSIBLE * len(data)


def _program_choice(data: bytes, plan: Plan) -> Choice | None:
    from ksynth.dsl.encode import bits, encode

    t = np.frombuffer(data, dtype=np.uint8)
    for depth in range(plan.depth, 0, -1):   # deeper nests spend the node budget sooner and
        detector = Detector(replace(plan, depth=depth))          # build more elements: back off
        expr = detector.solve(t)
        if expr is None:
            if detector.nodes < plan.nodes:  # not cut by the budget: a shallower search explores
                return None                  # a part of this one (text: half the detector time)
            continue
        program = lower(expr)
        try:
            check_elements(program, len(data))
            break
        except CorruptInput:
            continue
    else:
        return None
    try:
        payload = encode(program)
    except ValueError:
        return None
    if len(payload) > C.MAX_PROGRAM_PAYLOAD or len(payload) >= len(data):
        return None
    from ksynth.dsl.encode import decode

    try:                                     # the round trip the decoder will make
        if run_program(decode(payload), len(data)) != data:
            return None
    except CorruptInput:
        return None
    return Choice(C.PROGRAM, payload, len(data), program, bits(program))


def promise(plan_level: int) -> str:
    """What a level promises about size (experiments/bench_files.py checks both bounds)."""
    if LEVELS[plan_level].solid_best:
        return "<= gzip -9 + 32 B and <= best(gzip -9, zstd -19, xz -9) + 64 B"
    return "<= gzip -9 + 32 B only (no xz or zstd 19: text can be far larger than xz -9)"


def describe(plan_level: int) -> str:
    p = LEVELS[plan_level]
    names = ", ".join(f"{C.KIND_NAMES[k]} {lv & ~_E}" + ("e" if lv & _E else "") for k, lv in p.codecs)
    search = f"; search on targets <= {p.search_len} bytes ({p.search_seconds:g} s)" \
        if p.search_len else ""
    solid = ", ".join(f"{C.KIND_NAMES[k].split('-')[0]} {lv}" for k, lv in p.solid)
    more = ", ".join(f"{C.KIND_NAMES[k]} {lv}" for k, lv in p.alone if (k, lv) not in p.codecs)
    alone = f" (a one-block input also {more})" if more else ""
    return (f"detectors depth {p.depth}, record widths <= {1 << p.splits}, {p.nodes} nodes; "
            f"codecs {names}{alone}{search}; solid {solid}")

