"""The text model's byte GRU in integer arithmetic: the same frequencies on every machine.

A decoder must rebuild each byte's frequency row exactly as the encoder did, so the net runs in
integers only: weights are signed levels with one integer multiplier per row, activations are
Q12 fixed point (4096 = 1.0), products are int64 (numpy integer matmuls are exact, unlike BLAS
float sums whose order varies by machine), and sigmoid / tanh / exp are tables built with the
`decimal` module (correctly rounded, so no libm differences). experiments/train_text_net.py
trains the float net on dev text and writes the prior with `quantise` / `write_prior`.

The net (PyTorch's GRU cell, gates r, z, n): x = E[previous byte];
r, z = sigmoid(W_i x + b_i + W_h h + b_h) (their rows), n = tanh(W_in x + b_in + r (W_hn h + b_hn)),
h = n + z (h - n); logits = E (P h + p) + b (the output tied to the input embedding E); the row is
exp((logit - max) s) scaled to FREQ_TOTAL with every byte >= 1, s a logit scale: 1 as trained,
below 1 a flatter row (models.TEXT_VARIANTS holds the scales the text model offers). The first
byte reads a newline (models.TEXT_START) from the zero state.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

PRIOR_FILE = "text_net.prior"
MAGIC = b"KTN1"
Q = 12                            # activations in Q12: 4096 = 1.0
ONE = 1 << Q
MULT_BITS = 16                    # row multipliers are uint16
ACT_RANGE = 8                     # sigmoid / tanh inputs clamped to +-8 ...
ACT_SHIFT = 4                     # ... in steps of 2^-8 (Q12 >> 4): 4,097 entries
EXP_SHIFT = 6                     # exp table step: 2^-6 of a unit logit
EXP_SPAN = 24                     # logits more than 24 below the top share the last entry
EXP_ONE_BITS = 30                 # exp table values in units of 2^-30
FREQ_TOTAL = 1 << 16              # every row sums to this
LOGIT_SCALE_ONE = 20              # a logit scale's unit: scales are integers in 1/20
MATRICES = ("embed", "w_ih", "w_hh", "proj")
BIASES = ("b_ih", "b_hh", "proj_b", "bias")


@lru_cache(maxsize=None)
def _tables():
    """(sigmoid, tanh, exp) as int64 arrays, correctly rounded from decimal arithmetic."""
    from decimal import ROUND_HALF_EVEN, Decimal, localcontext

    def rounded(d):
        return int(d.to_integral_value(ROUND_HALF_EVEN))

    with localcontext() as ctx:                  # 40 digits here only, not the process's context
        ctx.prec = 40
        one, step = Decimal(ONE), Decimal(1 << ACT_SHIFT) / Decimal(ONE)
        xs = [k * step - ACT_RANGE for k in range((2 * ACT_RANGE * ONE >> ACT_SHIFT) + 1)]
        sig = [rounded(one / (1 + (-x).exp())) for x in xs]
        tanh = [rounded(one * (1 - (-2 * x).exp()) / (1 + (-2 * x).exp())) for x in xs]
        top, unit = Decimal(1 << EXP_ONE_BITS), Decimal(1 << EXP_SHIFT)
        exp = [rounded(top * (-Decimal(k) / unit).exp()) for k in range(EXP_SPAN << EXP_SHIFT)]
    return np.array(sig, np.int64), np.array(tanh, np.int64), np.array(exp, np.int64)


def _act(table, a):
    lim = ACT_RANGE * ONE
    return table[(np.clip(a, -lim, lim) + lim) >> ACT_SHIFT]


class Matrix:
    """W ~ levels * mult[:, None] / 2^shift: signed levels, a uint16 multiplier per row."""

    def __init__(self, levels: np.ndarray, mult: np.ndarray, shift: int):
        self.levels, self.mult, self.shift = levels.astype(np.int64), mult.astype(np.int64), shift

    def __matmul__(self, x: np.ndarray) -> np.ndarray:
        """W x for x in Q12 (int64): Q12."""
        return (self.mult * (self.levels @ x)) >> self.shift

    def dequantised(self) -> np.ndarray:
        return self.levels * self.mult[:, None] / float(1 << self.shift)


def top_level(bits: int) -> int:
    """The largest level of `bits`-bit signed levels (symmetric: -top..top)."""
    return (1 << (bits - 1)) - 1


SCALE_FLOOR = 1e-12               # a zero row's scale (its levels are all 0 whatever it is)


def quantise_matrix(w: np.ndarray, bits: int) -> Matrix:
    levels_max = top_level(bits)
    scale = np.maximum(np.abs(w).max(1), SCALE_FLOOR) / levels_max
    shift = int(np.floor(np.log2(((1 << MULT_BITS) - 1) / scale.max())))
    mult = np.maximum(np.round(scale * 2.0 ** shift), 1).astype(np.int64)
    levels = np.clip(np.round(w / (mult[:, None] / 2.0 ** shift)), -levels_max, levels_max)
    return Matrix(levels.astype(np.int64), mult, shift)


def quantise(weights: dict, bits: int) -> dict:
    """Float arrays (embed 256 x E, w_ih 3H x E, w_hh 3H x H, proj E x H, biases) -> the integer
    net's parts: Matrix per weight matrix, Q12 int64 per bias."""
    out = {"bits": bits}
    for k in MATRICES:
        out[k] = quantise_matrix(np.asarray(weights[k], np.float64), bits)
    for k in BIASES:
        out[k] = np.round(np.asarray(weights[k], np.float64) * ONE).astype(np.int64)
    return out


def write_prior(path: Path, parts: dict) -> int:
    """MAGIC, H and E (uint16), level bits (uint8); per matrix its shift (uint8), row multipliers
    (uint16) and levels (int8); the biases (int32), all big-endian, then packed (models.pack).
    Returns the file's size in bytes: the charged prior."""
    from ksynth.dsl.models import pack

    hidden, embed = parts["w_hh"].levels.shape[1], parts["embed"].levels.shape[1]
    raw = bytearray(MAGIC + hidden.to_bytes(2, "big") + embed.to_bytes(2, "big") + bytes([parts["bits"]]))
    for k in MATRICES:
        m = parts[k]
        raw += bytes([m.shift]) + m.mult.astype(">u2").tobytes() + m.levels.astype(np.int8).tobytes()
    for k in BIASES:
        raw += parts[k].astype(">i4").tobytes()
    blob = pack(bytes(raw))
    Path(path).write_bytes(blob)
    return len(blob)


def _shapes(hidden: int, embed: int) -> dict:
    return {"embed": (256, embed), "w_ih": (3 * hidden, embed), "w_hh": (3 * hidden, hidden),
            "proj": (embed, hidden), "b_ih": 3 * hidden, "b_hh": 3 * hidden, "proj_b": embed, "bias": 256}


def read_prior(path: Path) -> "TextNet":
    """The integer net of a prior file; ValueError (one line) when the file is malformed."""
    from ksynth.dsl.models import unpack

    name = Path(path).name
    try:
        raw = unpack(Path(path).read_bytes())
    except Exception as exc:  # lzma.LZMAError and friends: a damaged file
        raise ValueError(f"prior {name}: not a packed prior ({exc})") from None
    if raw[:4] != MAGIC or len(raw) < 9:
        raise ValueError(f"prior {name}: not a text net prior")
    hidden, embed, bits = int.from_bytes(raw[4:6], "big"), int.from_bytes(raw[6:8], "big"), raw[8]
    shapes, k, parts = _shapes(hidden, embed), 9, {"bits": bits}
    try:
        for key in MATRICES:
            rows, cols = shapes[key]
            shift = raw[k]
            mult = np.frombuffer(raw, ">u2", rows, k + 1)
            k += 1 + 2 * rows
            levels = np.frombuffer(raw, np.int8, rows * cols, k).reshape(rows, cols)
            k += rows * cols
            parts[key] = Matrix(levels, mult, shift)
        for key in BIASES:
            parts[key] = np.frombuffer(raw, ">i4", shapes[key], k).astype(np.int64)
            k += 4 * shapes[key]
    except ValueError:
        raise ValueError(f"prior {name}: truncated") from None
    if k != len(raw):
        raise ValueError(f"prior {name}: {len(raw) - k} bytes left over")
    return TextNet(parts)


class TextNet:
    """The integer GRU: `rows(values, n)` gives each position's frequency row (FREQ_TOTAL) from the
    values before it; a decoder steps it with `start`, `row`, `push`."""

    def __init__(self, parts: dict):
        self.parts = parts
        self.hidden = parts["w_hh"].levels.shape[1]
        emb = parts["embed"]
        x = (emb.levels * emb.mult[:, None]) >> (emb.shift - Q) if emb.shift >= Q else \
            (emb.levels * emb.mult[:, None]) << (Q - emb.shift)
        # the input half of every gate for every byte: W_i E[v] + b_i, (256, 3H) in Q12
        self._gi = np.stack([parts["w_ih"] @ x[v] for v in range(256)]) + parts["b_ih"]
        self._sig, self._tanh, self._exp = _tables()

    def start(self) -> np.ndarray:
        return self.push(np.zeros(self.hidden, np.int64), None)

    def push(self, h: np.ndarray, byte: int | None) -> np.ndarray:
        """The state after reading `byte` (None: the newline before the chunk)."""
        from ksynth.dsl.models import TEXT_START

        p, hid = self.parts, self.hidden
        gi = self._gi[TEXT_START if byte is None else byte]
        gh = (p["w_hh"] @ h) + p["b_hh"]
        r = _act(self._sig, gi[:hid] + gh[:hid])
        z = _act(self._sig, gi[hid:2 * hid] + gh[hid:2 * hid])
        n = _act(self._tanh, gi[2 * hid:] + ((r * gh[2 * hid:]) >> Q))
        return n + ((z * (h - n)) >> Q)

    def logits(self, h: np.ndarray) -> np.ndarray:
        """The next byte's logits (int64, Q12) from state h."""
        p = self.parts
        u = (p["proj"] @ h) + p["proj_b"]
        return (p["embed"] @ u) + p["bias"]

    def freqs(self, logit: np.ndarray, scale: int = LOGIT_SCALE_ONE) -> np.ndarray:
        """Frequencies (int64, sum FREQ_TOTAL, each >= 1) of exp(logit * scale / LOGIT_SCALE_ONE):
        a scale below LOGIT_SCALE_ONE flattens the row (a temperature above 1)."""
        d = ((logit.max() - logit) * scale) // (LOGIT_SCALE_ONE << (Q - EXP_SHIFT))
        e = self._exp[np.minimum(d, len(self._exp) - 1)]
        free = FREQ_TOTAL - 256
        f = 1 + (e * free) // e.sum()
        f[int(np.argmax(f))] += FREQ_TOTAL - int(f.sum())
        return f

    def row(self, h: np.ndarray, scale: int = LOGIT_SCALE_ONE) -> np.ndarray:
        return self.freqs(self.logits(h), scale)

    def all_logits(self, values) -> list[np.ndarray]:
        """Each position's logits from the values before it."""
        out, h = [], self.start()
        for i, v in enumerate(values):
            out.append(self.logits(h))
            if i + 1 < len(values):
                h = self.push(h, v)
        return out

    def rows(self, values, scale: int = LOGIT_SCALE_ONE) -> list[np.ndarray]:
        return [self.freqs(z, scale) for z in self.all_logits(values)]

    def cost(self, values) -> float:
        """Bits of the values under the net alone (no in-chunk counts)."""
        rows = self.rows(values)
        return float(sum(np.log2(FREQ_TOTAL / r[v]) for r, v in zip(rows, values)))
