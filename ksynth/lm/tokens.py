"""Compact tokenisation of (sequence, KT program) pairs: the model's whole vocabulary.

One example reads
    BOS v0 v1 ... vn SEP  op args  op args ...  [OUT ref]  EOS
- byte values 0..255 are one token each, shared by the target sequence and every int argument
  (constants, steps, counts, literal lists), so "the value 17 in the target" and "the constant 17"
  are the same embedding;
- an int outside 0..255 is a marker and its magnitude in base-256 digits: NEG (negative, then the
  magnitude) and W2..W8 (the magnitude takes 2..8 digits, big-endian); -5 is NEG 5, 300 is W2 1 44,
  -300 is NEG W2 1 44. |v| < 2**64, which covers every value the executor accepts;
- one token per op (the 21 rows of dsl/ops.py) and per filter predicate;
- a reference to line k (0-based) is REF_k for k < MAX_REF_TOKENS, else REF_WIDE and k as an int;
- a line ends where the next op (or OUT / EOS) begins: op tokens are never arguments, so no line
  separator is needed, and variadic concatenate / set_list read their arguments up to it;
- the output line costs nothing when it is the last line (pruned programs always are): EOS alone
  means "output = the last line"; otherwise OUT REF_k comes first.
Value comments are not tokenised. `program_tokens` / `parse_tokens` round-trip every Program
losslessly (tests/test_lm.py), and `allowed` / `advance` say, after any prefix, which tokens keep the text a
valid program, so constrained decoding never emits one that does not parse.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from ksynth.dsl.ops import KT_OPS, OPS, PREDICATES, ArgKind
from ksynth.dsl.program import Line, Program, Ref
from ksynth.errors import ProgramError

BYTE_VALUES = 256
MAX_REF_TOKENS = 64               # REF_0..REF_63; later lines are REF_WIDE + int
MAX_WIDE_DIGITS = 8               # W2..W8: magnitudes up to 256**8 - 1

SPECIALS = ("PAD", "BOS", "SEP", "EOS", "OUT", "NEG", "REF_WIDE")
WIDE = tuple(f"W{k}" for k in range(2, MAX_WIDE_DIGITS + 1))
OP_NAMES = KT_OPS                 # the policy speaks the KT dialect: ksynth's own ops are not in its prompts
VOCAB: tuple[str, ...] = (tuple(str(v) for v in range(BYTE_VALUES)) + SPECIALS + WIDE + OP_NAMES
                          + PREDICATES + tuple(f"REF_{k}" for k in range(MAX_REF_TOKENS)))
INDEX = {name: i for i, name in enumerate(VOCAB)}
VOCAB_SIZE = len(VOCAB)

PAD, BOS, SEP, EOS, OUT, NEG, REF_WIDE = (INDEX[s] for s in SPECIALS)
W_FIRST = INDEX["W2"]                       # W_k = W_FIRST + k - 2
OP_FIRST = INDEX[OP_NAMES[0]]
OP_TOKEN = {name: INDEX[name] for name in OP_NAMES}
TOKEN_OP = {v: k for k, v in OP_TOKEN.items()}
PRED_TOKEN = {p: INDEX[p] for p in PREDICATES}
TOKEN_PRED = {v: k for k, v in PRED_TOKEN.items()}
REF_FIRST = INDEX["REF_0"]


# ---- ints -------------------------------------------------------------------------------------------
def int_tokens(v: int) -> list[int]:
    """Tokens of one int (see the module doc)."""
    out = []
    if v < 0:
        out.append(NEG)
        v = -v
    if v < BYTE_VALUES:
        return out + [v]
    digits = []
    while v:
        digits.append(v % BYTE_VALUES)
        v //= BYTE_VALUES
    if len(digits) > MAX_WIDE_DIGITS:
        raise ProgramError(f"an int of {len(digits)} base-256 digits has no tokens "
                           f"(at most {MAX_WIDE_DIGITS})")
    return out + [W_FIRST + len(digits) - 2] + digits[::-1]


def read_int(toks: list[int], i: int) -> tuple[int, int]:
    """(value, next position) of the int starting at toks[i]; ProgramError if there is none."""
    sign = 1
    if i < len(toks) and toks[i] == NEG:
        sign, i = -1, i + 1
    if i >= len(toks):
        raise ProgramError("token stream ends inside an int")
    t = toks[i]
    if t < BYTE_VALUES:
        return sign * t, i + 1
    k = t - W_FIRST + 2
    if not 2 <= k <= MAX_WIDE_DIGITS or i + 1 + k > len(toks):
        raise ProgramError(f"expected an int, got token {VOCAB[t] if 0 <= t < VOCAB_SIZE else t}")
    v = 0
    for d in toks[i + 1:i + 1 + k]:
        if d >= BYTE_VALUES:
            raise ProgramError("a wide int's digit is not a byte token")
        v = v * BYTE_VALUES + d
    return sign * v, i + 1 + k


def ref_tokens(k: int) -> list[int]:
    return [REF_FIRST + k] if k < MAX_REF_TOKENS else [REF_WIDE] + int_tokens(k)


def is_op(t: int) -> bool:
    return t in TOKEN_OP


# ---- sequences and programs ------------------------------------------------------------------------
def sequence_tokens(seq) -> list[int]:
    """The prompt: BOS, the target's values, SEP."""
    out = [BOS]
    for v in seq:
        out += int_tokens(int(v))
    return out + [SEP]


def program_tokens(program: Program) -> list[int]:
    """The completion: lines, the output line when it is not the last, EOS."""
    out = []
    for line in program.lines:
        out.append(OP_TOKEN[line.op])
        for a in line.args:
            if isinstance(a, Ref):
                out += ref_tokens(a.index)
            elif isinstance(a, tuple):
                for v in a:
                    out += int_tokens(v)
            elif isinstance(a, str):
                out.append(PRED_TOKEN[a])
            else:
                out += int_tokens(a)
    if program.output != len(program.lines) - 1:
        out += [OUT] + ref_tokens(program.output)
    return out + [EOS]


def example_tokens(seq, program: Program) -> tuple[list[int], int]:
    """(prompt + completion tokens, length of the prompt)."""
    prompt = sequence_tokens(seq)
    return prompt + program_tokens(program), len(prompt)


def _read_ref(toks, i):
    if i < len(toks) and REF_FIRST <= toks[i] < REF_FIRST + MAX_REF_TOKENS:
        return toks[i] - REF_FIRST, i + 1
    if i < len(toks) and toks[i] == REF_WIDE:
        return read_int(toks, i + 1)
    raise ProgramError("expected a reference")


def _is_int_start(t: int) -> bool:
    return t < BYTE_VALUES or t == NEG or W_FIRST <= t < W_FIRST + len(WIDE)


def _is_ref_start(t: int) -> bool:
    return REF_FIRST <= t < REF_FIRST + MAX_REF_TOKENS or t == REF_WIDE


def parse_tokens(toks) -> Program:
    """The Program of completion tokens (EOS optional at the very end); ProgramError when they do
    not form one. Inverse of program_tokens."""
    toks = list(toks)
    if toks and toks[-1] == EOS:
        toks = toks[:-1]
    lines: list[Line] = []
    output = None
    i = 0
    while i < len(toks):
        t = toks[i]
        if t == OUT:
            output, i = _read_ref(toks, i + 1)
            if i != len(toks):
                raise ProgramError("tokens follow the output line")
            break
        if t not in TOKEN_OP:
            raise ProgramError(f"expected a function, got token {VOCAB[t] if 0 <= t < VOCAB_SIZE else t}")
        spec = OPS[TOKEN_OP[t]]
        i += 1
        args = []
        for kind in spec.args:
            if kind is ArgKind.REF:
                k, i = _read_ref(toks, i)
                args.append(Ref(k))
            elif kind is ArgKind.REFS:
                while i < len(toks) and _is_ref_start(toks[i]):
                    k, i = _read_ref(toks, i)
                    args.append(Ref(k))
            elif kind is ArgKind.INTS:
                vals = []
                while i < len(toks) and _is_int_start(toks[i]):
                    v, i = read_int(toks, i)
                    vals.append(v)
                args.append(tuple(vals))
            elif kind is ArgKind.PRED:
                if i >= len(toks) or toks[i] not in TOKEN_PRED:
                    raise ProgramError("expected a predicate")
                args.append(TOKEN_PRED[toks[i]])
                i += 1
            else:
                v, i = read_int(toks, i)
                args.append(v)
        lines.append(Line(spec.name, tuple(args)))
    return Program.build(lines, output)


# ---- grammar: which tokens may come next -------------------------------------------------------------
@dataclass(frozen=True)
class GrammarState:
    """Where a partial completion stands.

    lines: lines begun so far (the current line's index is lines - 1); need: argument kinds still
    to read on it; open: a variadic list (set_list's values, concatenate's refs) has one item;
    wide: digits left of a wide int; neg: a NEG was just read; refint: a REF_WIDE was just read;
    out: reading the output line's ref; closed: the output line is read; done: EOS emitted."""

    lines: int = 0
    need: tuple = ()
    open: bool = False
    wide: int = 0
    neg: bool = False
    refint: bool = False
    out: bool = False
    closed: bool = False
    done: bool = False


def allowed(s: GrammarState) -> tuple[tuple[str, int], ...]:
    """The token classes that may follow (class, referable lines); see `class_ids`."""
    if s.done:
        return (("pad", 0),)
    if s.wide:
        return (("byte", 0),)
    if s.neg:
        return (("byte", 0), ("wide", 0))
    if s.refint:
        return (("byte", 0), ("wide", 0))
    if s.closed:
        return (("eos", 0),)
    if s.out:
        return (("ref", s.lines),)
    ends = (("op", 0), ("out", 0), ("eos", 0))
    if not s.need:
        return (("initiator", 0),) if s.lines == 0 else ends
    kind = s.need[0]
    if kind is ArgKind.REF:
        return (("ref", s.lines - 1),)
    if kind is ArgKind.REFS:
        return (("ref", s.lines - 1),) + (ends if s.open else ())
    if kind is ArgKind.INTS:
        return (("int", 0),) + ends                # an empty literal is valid
    if kind is ArgKind.PRED:
        return (("pred", 0),)
    return (("int", 0),)


def advance(s: GrammarState, t: int) -> GrammarState:
    """The state after token t, which must be one `allowed(s)` admits."""
    if s.wide:
        return _item_done(replace(s, wide=0)) if s.wide == 1 else replace(s, wide=s.wide - 1)
    if t in (EOS, PAD):
        return replace(s, done=True)
    if t in TOKEN_OP:
        return replace(s, lines=s.lines + 1, need=OPS[TOKEN_OP[t]].args, open=False)
    if t == OUT:
        return replace(s, need=(), open=False, out=True)
    if t == NEG:
        return replace(s, neg=True)
    if W_FIRST <= t < W_FIRST + len(WIDE):
        return replace(s, neg=False, refint=False, wide=t - W_FIRST + 2)
    if t == REF_WIDE:
        return replace(s, refint=True)
    if t < BYTE_VALUES or REF_FIRST <= t < REF_FIRST + MAX_REF_TOKENS or t in TOKEN_PRED:
        return _item_done(replace(s, neg=False, refint=False))
    raise ProgramError(f"token {t} is not a program token")


def _item_done(s: GrammarState) -> GrammarState:
    """One argument (or one item of a variadic list) has been read."""
    if s.out:
        return replace(s, out=False, closed=True)
    if s.need[0] in (ArgKind.REFS, ArgKind.INTS):
        return replace(s, open=True)               # open until the next op / OUT / EOS
    return replace(s, need=s.need[1:])


_INT_IDS = tuple(range(BYTE_VALUES)) + (NEG,) + tuple(range(W_FIRST, W_FIRST + len(WIDE)))
_CLASS_IDS = {
    "byte": tuple(range(BYTE_VALUES)),
    "wide": tuple(range(W_FIRST, W_FIRST + len(WIDE))),
    "int": _INT_IDS,
    "op": tuple(sorted(TOKEN_OP)),
    "initiator": tuple(sorted(t for t, name in TOKEN_OP.items() if OPS[name].is_initiator)),
    "pred": tuple(sorted(TOKEN_PRED)),
    "out": (OUT,), "eos": (EOS,), "pad": (PAD,),
}


def class_ids(name: str, lines: int = 0) -> tuple[int, ...]:
    """Token ids of one class; "ref" may name lines 0..lines-1."""
    if name == "ref":
        return tuple(REF_FIRST + k for k in range(min(lines, MAX_REF_TOKENS))) + \
            ((REF_WIDE,) if lines > MAX_REF_TOKENS else ())
    return _CLASS_IDS[name]


def allowed_ids(s: GrammarState) -> tuple[int, ...]:
    """Every token id that may follow state s."""
    out = ()
    for name, lines in allowed(s):
        out += class_ids(name, lines)
    return out
