"""LMiC: "language model in compression": an adaptive byte predictor driving an arithmetic coder.

Blob layout (a bitstream, MSB first, zero-padded to whole bytes):
    Elias delta code of n + 1 (n = number of bytes), then the arithmetic-coded bytes (arith.py).
`bits(data)` is that bitstream's exact length before padding.

The predictor is a small protocol, `Predictor.predict(history) -> 256 probabilities`: the coder
asks it for the distribution of the next byte given every byte before it. A fresh predictor is
built for every item (`predictor_factory()`), so each blob decodes alone with no shared state.
A learned model (e.g. a transformer over bytes) could plug in through the same protocol; none
exists in ksynth yet, so the only predictor here is the adaptive context model below, which
learns from the item itself as it goes and starts from scratch for every item.

The default predictor, `ContextMixer`, is a Bayesian mixture of three experts. Each expert is an
adaptive hierarchical context model over a *code* of the next byte:
  - "bytes":   code = the byte itself; contexts of order 0, 1, 2, 3 (the previous k bytes).
  - "delta1":  code = zigzag(byte - previous byte), contexts: order 0 and the previous byte.
  - "delta2":  code = zigzag(byte - byte two back), contexts: order 0, the position's parity,
               then (parity, the byte two back).
The delta experts let the model assign similar probabilities to numerically close values (audio,
smooth signals); "two back" and the parity follow the byte lanes of 16-bit samples.

Inside an expert (PPM-style blending, "interpolated absolute discounting", as in Kneser-Ney):
  p_base(code)   = a binary-tree order-0 model: the 8 bits of the code, MSB first, each from an
                   adaptive count at its tree node, (n1 + A) / (n + 2A). Unseen codes near seen
                   ones (sharing high bits) get more mass than far ones, and a small alphabet (DNA)
                   is learned after a few bytes.
  p_k(code)      = (max(c_k(code) - D, 0) + (B + D * t_k) * p_{k-1}(code)) / (n_k + B)
                   for each order k whose context has been seen, lowest order first; c_k are the
                   counts in the current order-k context, n_k their sum, t_k the distinct codes.
Updates use update exclusion: a count is added at the highest order and lower orders only while
the code was new there (the KN/PPM rule); the binary base is updated when every order saw it new.

Mixing: weights w_m start uniform, are multiplied by each expert's probability of the byte that
occurred (Bayesian model averaging), then shared a little (fixed share, ALPHA) so the mixture can
switch expert mid-item. Code length <= that of the best single expert + log2(3) bits
+ n * log2(1 / (1 - ALPHA)) bits (0.03 bits per byte), before quantisation.

Probabilities become integer frequencies freq = 1 + floor(p * (2^16 - 256)) (every byte stays
codable, quantisation costs < 0.006 bits/byte). The same float64 numpy computation runs in the
encoder and decoder, so they agree bit for bit on one platform (numpy's IEEE float64 ops are
deterministic; a blob moved between platforms with different numpy builds could in principle
decode differently; baselines are measured, not archived, so this is accepted).

Constants A, D, D_DELTA, B, ALPHA and the parity context were picked on 16-24 chunks per modality
of the KT dev split (first half) from a small grid (gains of 0.01-0.03 in rate; the surface is
flat); nothing else is fitted to the data: every count starts at zero for every item.
"""
from __future__ import annotations

from typing import Callable, Protocol

import numpy as np

from ksynth.baselines.arith import (BitReader, BitWriter, Decoder, Encoder, elias_delta_bits,
                                    read_elias_delta, write_elias_delta)
from ksynth.errors import CorruptInput

FREQ_TOTAL = 1 << 16             # frequency scale of the quantised distribution
# Every byte costs at least -log2((FREQ_TOTAL - 255) / FREQ_TOTAL) ~ 0.0056 bits (less ~1e-4 of
# rounding), so b bits of arithmetic code hold at most ~182 * b bytes. Decoding refuses lengths
# above 200 * b: corrupt input is rejected, never decoded for an unbounded time.
MAX_BYTES_PER_BIT = 200

A = 0.6          # binary-tree node prior pseudo-count
D = 0.75         # absolute discount per distinct code in a context (bytes expert)
D_DELTA = 0.9    # the same for the delta experts (their contexts are sparser)
B = 1.0          # concentration (strength of the lower order) per context
ALPHA = 0.02     # fixed-share weight redistribution per byte


class Predictor(Protocol):
    """Next-byte distribution from the bytes so far (one instance per item, calls in order)."""

    def predict(self, history: bytes) -> np.ndarray:
        """256 non-negative probabilities summing to 1 for the byte after `history`."""
        ...


# ---- tables for the binary-tree base model ---------------------------------------------------
_CODES = np.arange(256)
# NODE[l, v]: tree node (1..255) deciding bit l (MSB first) of code v; BIT[l, v]: that bit.
_NODE = np.array([[(1 << l) | (v >> (8 - l)) for v in range(256)] for l in range(8)])
_BIT = np.array([[(v >> (7 - l)) & 1 for v in range(256)] for l in range(8)], dtype=bool)
# zigzag of a byte difference taken mod 256 as a signed value: 0, -1, 1, -2, ... -> 0, 1, 2, 3, ...
_SIGNED = np.where(_CODES < 128, _CODES, _CODES - 256)
_ZIGZAG = np.where(_SIGNED >= 0, 2 * _SIGNED, -2 * _SIGNED - 1)


def _order(k: int) -> Callable[[bytes], object]:
    """Context function: the last k bytes (None until there are k)."""
    if k == 0:
        return lambda h: 0
    return lambda h: h[-k:] if len(h) >= k else None


def _lag(j: int) -> Callable[[bytes], object]:
    """Context function: the byte j positions back (None until there is one)."""
    return lambda h: h[-j] if len(h) >= j else None


class ContextExpert:
    """One adaptive hierarchical context model (see the module doc) over a code of the next byte.

    `contexts` are functions history -> hashable key (None = not available), lowest order first.
    `lag` = 0 codes the byte itself; lag j > 0 codes zigzag(byte - byte j back) (0 when too short).
    """

    def __init__(self, contexts: list[Callable[[bytes], object]], lag: int = 0,
                 a: float = A, d: float = D, b: float = B) -> None:
        self.contexts = contexts
        self.lag = lag
        if not (a > 0 and 0 <= d < 1 and b > 0):
            raise ValueError(f"need a > 0, 0 <= d < 1, b > 0; got a={a}, d={d}, b={b}")
        self.a, self.d, self.b = a, d, b
        # key -> [max(counts - d, 0) as float64[256], n = sum of counts, distinct codes]
        self.tables: list[dict] = [{} for _ in contexts]
        self.node_n = np.zeros(256)
        self.node_n1 = np.zeros(256)
        self._keys: list = []
        self._code_of: np.ndarray | None = None
        self._base: np.ndarray | None = None        # cached base distribution (None = stale)

    def _base_distribution(self) -> np.ndarray:
        if self._base is None:
            p1 = (self.node_n1 + self.a) / (self.node_n + 2 * self.a)
            pn = p1[_NODE]
            self._base = np.prod(np.where(_BIT, pn, 1.0 - pn), axis=0)
        return self._base

    def predict(self, history: bytes) -> np.ndarray:
        p = self._base_distribution()                        # distribution over codes
        self._keys = [f(history) for f in self.contexts]
        for key, table in zip(self._keys, self.tables):
            entry = table.get(key) if key is not None else None
            if entry is not None:
                discounted, n, distinct = entry
                p = (discounted + (self.b + self.d * distinct) * p) * (1.0 / (n + self.b))
        if self.lag:
            ref = history[-self.lag] if len(history) >= self.lag else 0
            self._code_of = _ZIGZAG[(_CODES - ref) & 255]     # byte -> code
            return p[self._code_of]
        self._code_of = None
        return p

    def update(self, byte: int) -> None:
        """Count `byte` (the one that followed the history of the last predict call)."""
        code = byte if self._code_of is None else int(self._code_of[byte])
        for key, table in zip(reversed(self._keys), reversed(self.tables)):
            if key is None:
                continue
            entry = table.get(key)
            if entry is None:
                entry = table[key] = [np.zeros(256), 0, 0]
            seen = entry[0][code] > 0               # discounted count of a seen code is >= 1 - d > 0
            entry[0][code] += 1.0 if seen else 1.0 - self.d
            entry[1] += 1
            if seen:
                return                  # update exclusion: lower orders already know this code
            entry[2] += 1
        nodes = _NODE[:, code]
        self.node_n[nodes] += 1
        self.node_n1[nodes[_BIT[:, code]]] += 1
        self._base = None


class ContextMixer:
    """The default Predictor: a fixed-share Bayesian mixture of ContextExperts (module doc)."""

    def __init__(self, experts: list[ContextExpert] | None = None) -> None:
        self.experts = experts if experts is not None else default_experts()
        self.weights = np.full(len(self.experts), 1.0 / len(self.experts))
        self._seen = 0
        self._preds: list[np.ndarray] = []

    def predict(self, history: bytes) -> np.ndarray:
        if len(history) != self._seen + (1 if self._preds else 0):
            raise ValueError("ContextMixer.predict must be called once per byte, in order")
        if self._preds:                          # learn the byte that followed the last call
            self._learn(history[-1])
        self._preds = [e.predict(history) for e in self.experts]
        return sum(w * p for w, p in zip(self.weights, self._preds))

    def _learn(self, byte: int) -> None:
        for e in self.experts:
            e.update(byte)
        w = self.weights * np.array([p[byte] for p in self._preds])
        w /= w.sum()
        self.weights = (1.0 - ALPHA) * w + ALPHA / len(w)
        self._seen += 1


def _parity(history: bytes) -> int:
    return len(history) & 1


def _parity_lag(j: int) -> Callable[[bytes], object]:
    """Context function: (position parity, byte j back): the byte lane of 16-bit samples."""
    return lambda h: (len(h) & 1, h[-j]) if len(h) >= j else None


def default_experts() -> list[ContextExpert]:
    return [ContextExpert([_order(0), _order(1), _order(2), _order(3)]),
            ContextExpert([_order(0), _lag(1)], lag=1, d=D_DELTA),
            ContextExpert([_order(0), _parity, _parity_lag(2)], lag=2, d=D_DELTA)]


def quantise(p: np.ndarray) -> np.ndarray:
    """Cumulative integer frequencies (length 257, starting at 0) for a 256-way distribution."""
    freq = 1 + np.floor(np.clip(p, 0.0, 1.0) * (FREQ_TOTAL - 256)).astype(np.int64)
    cum = np.zeros(257, dtype=np.int64)
    np.cumsum(freq, out=cum[1:])
    return cum


class LMiC:
    """Arithmetic coding under an adaptive predictor (module doc). Baseline name `lmic`."""

    name = "lmic"

    def __init__(self, predictor_factory: Callable[[], Predictor] = ContextMixer) -> None:
        self.predictor_factory = predictor_factory
        self._last: tuple[bytes, BitWriter] | None = None   # callers often ask encode then bits

    def _encode(self, data: bytes) -> BitWriter:
        data = bytes(data)
        if self._last is not None and self._last[0] == data:
            return self._last[1]
        w = BitWriter()
        write_elias_delta(w, len(data) + 1)
        enc = Encoder(w)
        model = self.predictor_factory()
        for i, byte in enumerate(data):
            cum = quantise(model.predict(data[:i]))
            enc.encode(int(cum[byte]), int(cum[byte + 1]), int(cum[256]))
        enc.finish()
        self._last = (data, w)
        return w

    def encode(self, data: bytes) -> bytes:
        return self._encode(data).to_bytes()

    def bits(self, data: bytes) -> int:
        """Exact bitstream length (length prefix + arithmetic code), before byte padding."""
        return len(self._encode(data))

    def decode(self, blob: bytes) -> bytes:
        blob = bytes(blob)
        if not blob:
            raise CorruptInput("lmic blob is empty")
        r = BitReader(blob)
        n = read_elias_delta(r, MAX_BYTES_PER_BIT * 8 * len(blob) + 1) - 1
        dec = Decoder(r)
        model = self.predictor_factory()
        out = bytearray()
        for _ in range(n):
            cum = quantise(model.predict(bytes(out)))
            total = int(cum[256])
            target = dec.decode_target(total)
            byte = int(np.searchsorted(cum, target, side="right")) - 1
            dec.consume(int(cum[byte]), int(cum[byte + 1]), total)
            out.append(byte)
        dec.finish()
        return bytes(out)


def length_prefix_bits(n: int) -> int:
    """Bits the blob spends on the length n (Elias delta of n + 1)."""
    return elias_delta_bits(n + 1)
