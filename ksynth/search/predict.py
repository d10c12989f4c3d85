"""The `predict` strategy: model-coded programs for real data (the `ksynth` dialect, bits objective).

A 128-byte chunk of audio, DNA or MFCC features is rarely a composition of KT functions; what
explains it is a predictor plus small residuals, or a skewed symbol distribution. This strategy
reads the target in a few ways and writes the cheapest as a 1-3 line program:

    sequence_1 = modeled_list(model, param, [residuals])     # arithmetic-coded (dsl/models.py)
    sequence_2 = lpc(sequence_1, [shift, c1, c2, ...])        # y[n] = r[n] + (sum c_k y[n-k]) >> shift
    sequence_3 = bytes_le(sequence_2, 1)                      # int8 samples -> bytes
             or  bytes_le(sequence_2, 2)                      # int16 samples -> little-endian bytes
             or  modulo_item_list(sequence_2, 255)            # ones' complement int8 -> bytes
    output = sequence_3

Readings: int8 samples (any length), the same unwrapped (no step beyond +-128: bytes_le keeps the
low byte), int16 little-endian samples (even length), ones' complement int8 samples (no byte 255;
unwrapped mod 255 too); symbols 0..7 under the DNA model, bytes under
the text model, and a reading of at most 4 distinct neighbouring values under the small model (no
predictor). Predictors: none, every entry of the shared codebook (FLAC's fixed polynomials of
orders 1..3 and the trained ones) and least-squares fits of orders 1..MAX_LS_ORDER with
coefficients quantised to `shift` fractional bits (written out). Every candidate is priced with
the residual models' exact code lengths plus its form's overhead (encode.form_overhead_bits: the
form symbol, the parameter, the codebook index or the explicit predictor), the best few are
assembled and priced exactly by encode.bits; the portfolio verifies the winner. Under the kt
objective the ops are not allowed and the strategy proposes nothing.
"""
from __future__ import annotations

import time

import numpy as np

from ksynth.dsl import models
from ksynth.dsl.program import Program, Ref

MAX_LS_ORDER = 8                 # least-squares predictor orders tried: 1..8
LS_SHIFTS = (4, 5, 6, 7, 8, 9)   # fractional bits of the quantised coefficients
MAX_TARGET = 8192               # longer targets are left to the others (pure-Python model costs)
EXACT_TOP = 3                    # candidates priced exactly (encode.bits) after the estimate
RESIDUAL_MODELS = tuple(k for k, m in enumerate(models.MODELS) if m.kind == "residual")
DNA_MODEL = models.MODEL_INDEX["dna"]
TEXT_MODEL = models.MODEL_INDEX["text"]
SMALL_MODEL = models.MODEL_INDEX["small"]


ONES_MODULUS = models.ONES8[1]   # ones' complement bytes: v mod 255


def unwrap(y: np.ndarray, m: int) -> np.ndarray:
    """y with multiples of m added so that no step between neighbours exceeds half of m: the
    last line keeps only y mod m (the low bytes), so a signal that wraps around (a loud int8
    stream whose samples overflow) is predicted as the smooth signal it was."""
    steps = (np.diff(y) + m // 2) % m - m // 2
    return np.concatenate([y[:1], y[0] + np.cumsum(steps)])


def readings(t: np.ndarray) -> list[tuple[tuple, np.ndarray]]:
    """(chain's last line, samples) readings of a byte target: int8, int16 little-endian (even
    length), and ones' complement int8 when no byte is 255 (its "-0"; dev audio_mfcc never has
    one: its -1 is 254); the int8 readings also unwrapped when that changes them (dev
    audio_mfcc: 1.3% of steps wrap)."""
    out = []
    if t.min() >= 0 and t.max() < 256:
        out.append((models.INT8, ((t + 128) % 256) - 128))
        if len(t) % 2 == 0:
            v = t[0::2] + 256 * t[1::2]
            out.append((models.INT16, np.where(v >= 32768, v - 65536, v)))
        if 128 <= t.max() < ONES_MODULUS:       # (below 128 it is the int8 reading)
            out.append((models.ONES8, np.where(t >= 128, t - ONES_MODULUS, t)))
    for last, y in list(out):                    # int16 does not wrap on the KT files
        if last == models.INT16:
            continue
        u = unwrap(y, 256 if last == models.INT8 else ONES_MODULUS)
        if not np.array_equal(u, y):
            out.append((last, u))
    return out


def residuals(y: np.ndarray, predictor) -> np.ndarray:
    """r with lpc(r, predictor) == y (exact integer arithmetic, the op's floor shift)."""
    shift, coeffs = predictor[0], predictor[1:]
    acc = np.zeros(len(y), np.int64)
    for k, c in enumerate(coeffs):
        if k + 1 < len(y):
            acc[k + 1:] += c * y[:len(y) - k - 1]
    guess = acc >> shift
    for n in range(min(len(coeffs), len(y))):     # the warm-up (ops._lpc)
        guess[n] = 0 if n == 0 else y[0] if n == 1 else 2 * y[n - 1] - y[n - 2]
    return y - guess


def ls_coeffs(y: np.ndarray, order: int, shift: int) -> tuple[int, ...] | None:
    """Least-squares predictor of `order` on y's own history, quantised to 2^-shift."""
    n = len(y)
    if n <= 2 * order:
        return None
    rows = np.stack([y[order - k - 1:n - k - 1] for k in range(order)], axis=1).astype(float)
    a, *_ = np.linalg.lstsq(rows, y[order:].astype(float), rcond=None)
    q = np.round(a * (1 << shift)).astype(np.int64)
    lim = 1 << (shift + 2)               # the coefficient code's window (encode.py)
    return tuple(int(c) for c in np.clip(q, -lim, lim - 1))


def candidates(y: np.ndarray, book: bool = True) -> list[tuple[int, ...]]:
    """Every predictor [shift, c1, ...] tried on y, without repeats: the codebook's (FLAC's fixed
    ones first), then least-squares fits. `()` stands for no predictor (no lpc line)."""
    preds = [()] + list(models.predictor_book().entries if book else models.FIXED_PREDICTORS)
    for order in range(1, MAX_LS_ORDER + 1):
        for s in LS_SHIFTS:
            c = ls_coeffs(y, order, s)
            if c is not None:
                preds.append((s,) + c)
    return list(dict.fromkeys(preds))


def _bucket_mean(res) -> int:
    """A starting param for the residual models: the mean bucket of the first values."""
    head = np.abs(np.asarray(res[:8], np.int64))
    if len(head) == 0:
        return 0
    b = np.array([int(v).bit_length() for v in head])
    return int(min(models.RESIDUAL_PARAMS - 1, round(b.mean())))


def chain_of(predictor, last) -> int:
    """The form chain (models.CHAINS) of a list, its predictor (or none) and its last line."""
    return models.CHAINS.index((bool(predictor), last))


def best_residual_code(res: tuple, model_ids=RESIDUAL_MODELS, predictor=(), last=models.INT8,
                       n_out: int | None = None) -> tuple[float, int, int]:
    """(bits, model, param) of the cheapest residual model for this list: the values' code plus
    the form's overhead (encode.form_overhead_bits: the form symbol, the parameter, the length,
    the predictor), so a model or a parameter that is rarely used pays for it."""
    from ksynth.dsl import encode

    best = (float("inf"), 0, 0)
    p0 = _bucket_mean(res)
    chain = chain_of(predictor, last)
    n = None if len(res) == models.STD_OUTPUT // models.byte_width(last) else len(res)
    for m in model_ids:
        model = models.MODELS[m]
        try:
            model.rows
        except (OSError, ValueError):      # a trained prior that is not built: skip it
            continue
        for p in sorted({max(0, p0 - 1), p0, min(models.RESIDUAL_PARAMS - 1, p0 + 1)}):
            bits = model.cost(res, p) + encode.form_overhead_bits(m, chain, p, predictor, n)
            if bits < best[0]:
                best = (bits, m, p)
    return best


class PredictStrategy:
    name = "predict"

    def search(self, target, config, deadline, bound=None):
        from ksynth.search.base import SearchResult
        from ksynth.search.objective import program_cost

        if config.objective != "bits" or not target or len(target) > MAX_TARGET:
            return None
        t0 = time.monotonic()
        t = np.asarray(target, np.int64)
        cands = []                                        # (estimated bits, program)
        if t.min() >= 0 and t.max() < 256 and len(target) <= models.MODELS[TEXT_MODEL].max_len:
            for param in range(models.MODELS[TEXT_MODEL].param_radix):   # the variants share the net's pass
                cands.append((0.0, Program.build([("modeled_list", (TEXT_MODEL, param, tuple(target)))])))
        if t.min() >= 0 and t.max() < 8:
            cands.append((0.0, Program.build([("modeled_list", (DNA_MODEL, 0, tuple(target)))])))
        nodes = 0
        found = readings(t)
        for last, y in found[:2]:                        # a few values only: near-silent audio
            lo, hi = int(y.min()), int(y.max())
            param = models.SmallModel.param_of(lo, hi - lo + 1)
            if param is not None and (False, last) in models.CHAINS:
                cands.append((0.0, Program.build([("modeled_list", (SMALL_MODEL, param, tuple(int(v) for v in y))),
                                                  (last[0], (Ref(0), last[1]))])))
        # the readings take turns, predictor by predictor (the fixed ones first), so that a short
        # budget still tries every reading: read in turn, the one a chunk needs (ones' complement,
        # listed last) could get no time at all
        queues = [iter(candidates(y)) for _, y in found]
        scores: list[list] = [[] for _ in found]
        live = set(range(len(found)))
        while live and time.monotonic() <= deadline:
            for k in sorted(live):
                pred = next(queues[k], None)
                if pred is None:
                    live.discard(k)
                    continue
                last, y = found[k]
                if (bool(pred), last) not in models.CHAINS:   # ones' complement: after lpc only
                    continue
                res = tuple(int(v) for v in residuals(y, pred)) if pred else tuple(int(v) for v in y)
                bits, m, p = best_residual_code(res, predictor=pred, last=last)
                nodes += 1
                scores[k].append((bits, pred, m, p, res))
        for (last, y), scored in zip(found, scores):
            scored.sort(key=lambda x: x[0])
            for est, pred, m, p, res in scored[:EXACT_TOP]:
                lines = [("modeled_list", (m, p, res))]
                if pred:
                    lines.append(("lpc", (Ref(0), pred)))
                lines.append((last[0], (Ref(len(lines) - 1), last[1])))
                cands.append((est, Program.build(lines)))
        if not cands:
            return None
        best, best_bits = None, float("inf")
        for _, prog in cands:
            try:
                bits = program_cost(prog, "bits")
            except Exception:                             # a value a coder cannot hold
                continue
            if bits < best_bits:
                best, best_bits = prog, bits
        if best is None:
            return None
        return SearchResult(best, best_bits, float("nan"), False, time.monotonic() - t0, nodes,
                            self.name, {})
