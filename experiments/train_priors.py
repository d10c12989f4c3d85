"""Build the trained priors in ksynth/priors/ from the DEV split only (chunk index < half).

    python experiments/train_priors.py [--data DIR] [--n 500] [--rounds 2] [--book 125] [--forms-n 500]
                                       [--workers 2] [--only audio|dna|text|forms]

- residual_a8.prior / residual_a16.prior / residual_mfcc.prior: the residual coders' shape tables,
  P(bucket | running-mean context) and P(top mantissa bit | cell), counted over the residuals of the predictor the `predict`
  strategy picks on each dev chunk. Round 1 picks under the formula table, each later round under
  the table the previous round built (the pick depends on the table).
- predictors.prior: the shared lpc codebook (after FLAC's fixed predictors): per order, k-means
  centres of the dev chunks' least-squares coefficients (round 1's picks), 6 fractional bits.
- text_net.prior: the text model's integer byte GRU (experiments/train_text_net.py, its defaults).
- dna.prior: P(base | 6 previous bases), -log2 p quantised to 1/3 bit, over every dev chunk (contexts restart at each chunk, as
  the decoder sees them), then P(first symbol's case) and P(case switches in a chunk).
- forms.prior (last: it prices what the others made): P(form), P(param | model) and
  P(codebook index | model) over the programs `predict` writes on dev chunks of every modality.
Each file is packed with raw LZMA2 (models.pack); its size is what the benchmark charges. Prints every file's size in bytes.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from ksynth.bench import datasets  # noqa: E402
from ksynth.dsl import models  # noqa: E402
from ksynth.search import predict  # noqa: E402

BOOK_SIZE = 125                  # trained codebook entries (+ 3 fixed + explicit = radix 129; dev: 125 > 61)
BOOK_SHIFT = 6                   # their coefficients' fractional bits
RESIDUAL_PRIORS = {"audio_8bit": "residual_a8", "audio_16bit": "residual_a16",
                   "audio_mfcc": "residual_mfcc"}


def dev_chunks(modality: str, n: int | None, directory=None) -> list[bytes]:
    return [item.data for item in datasets.load(modality, "dev", n, seed=0, directory=directory)]


def readings(data: bytes) -> list[tuple[tuple, np.ndarray]]:
    """The sample readings `predict` tries, with their chain's last line (predict.readings)."""
    return predict.readings(np.frombuffer(data, np.uint8).astype(np.int64))


def _best_code(args):
    data, slot = args
    best = (float("inf"),)
    for last, y in readings(data):
        for pred in predict.candidates(y):
            if (bool(pred), last) not in models.CHAINS:
                continue
            res = tuple(int(r) for r in (predict.residuals(y, pred) if pred else y))
            bits, _, p = predict.best_residual_code(res, (slot,), pred, last)
            if bits < best[0]:
                best = (bits, res, p, pred, y)
    return best[1:]


def best_codes(chunks, slot: int, workers: int = 2):
    """Per chunk: (residuals, param, predictor, samples) of the cheapest `predict` candidate under
    models.MODELS[slot] (worker processes forked with the current tables)."""
    from multiprocessing import Pool

    with Pool(workers) as pool:
        return pool.map(_best_code, [(data, slot) for data in chunks], chunksize=8)


def residual_counts(codes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(context, bucket) counts of the chosen residuals but each list's first, the first values'
    bucket counts, and (top-bit cell, bit) counts."""
    counts = np.zeros((models.N_CTX, models.N_BUCKETS), np.int64)
    first = np.zeros(models.N_BUCKETS, np.int64)
    top = np.zeros((models.N_TOP, 2), np.int64)
    for res, p, _, _ in codes:
        for i, ((ctx, b), r) in enumerate(zip(models.residual_contexts(res, p), res)):
            if i == 0:
                first[b] += 1
            else:
                counts[ctx, b] += 1
            if b >= 2:
                top[models.top_cell(ctx, b), (abs(r) >> (b - 2)) & 1] += 1
    return counts, first, top


def kmeans(x: np.ndarray, k: int, rounds: int = 20, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = x[rng.choice(len(x), size=min(k, len(x)), replace=False)]
    for _ in range(rounds):
        near = np.argmin(((x[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
        for j in range(len(centres)):
            if (near == j).any():
                centres[j] = x[near == j].mean(0)
    return centres


def train_book(codes, size: int) -> list[tuple[int, ...]]:
    """The trained codebook entries: per order p, k-means centres of the real least-squares
    coefficients of the dev chunks whose pick was an explicit order-p fit, k proportional to how
    often order p was picked, quantised to BOOK_SHIFT fractional bits."""
    by_order: dict[int, list] = {}
    for _, _, pred, y in codes:
        if pred and pred not in models.FIXED_PREDICTORS:
            p = len(pred) - 1
            n = len(y)
            rows = np.stack([y[p - k - 1:n - k - 1] for k in range(p)], axis=1).astype(float)
            a, *_ = np.linalg.lstsq(rows, y[p:].astype(float), rcond=None)
            by_order.setdefault(p, []).append(a)
    total = sum(len(v) for v in by_order.values()) or 1
    entries = []
    for p, vecs in sorted(by_order.items()):
        k = max(1, round(size * len(vecs) / total))
        for c in kmeans(np.array(vecs), k):
            entries.append((BOOK_SHIFT,) + tuple(int(v) for v in np.round(c * (1 << BOOK_SHIFT))))
    return entries[:size]


def fit_table(name: str, codes) -> models.ResidualModel:
    counts, first, top = residual_counts(codes)
    # a light floor from the formula keeps unseen (context, bucket) pairs codable and sane
    smooth = np.array(models._formula_counts(), float)
    smooth = smooth / smooth.sum(1, keepdims=True)
    rows = models._rows_from_counts((counts + 0.5 * smooth + 1e-3).tolist())
    first_row = models._rows_from_counts([(first + 0.2).tolist()])[0]
    t = models.ROW_TOTAL
    p0 = np.clip(np.round(t * (top[:, 0] + 1) / (top.sum(1) + 2)), 1, t - 1).astype(int)
    return models.ResidualModel(name, rows=rows, top=tuple(p0.tolist()), first=first_row)


def install(name: str, model) -> None:
    k = models.MODEL_INDEX[name]
    models.MODELS = models.MODELS[:k] + (model,) + models.MODELS[k + 1:]


def train_audio(n: int, rounds: int, book_size: int, directory=None, workers: int = 2) -> None:
    """Residual tables and the shared codebook, alternating: round 1 picks under the formula table
    and the fixed predictors only; the codebook is fitted to round 1's picks; later rounds pick
    under the previous round's tables and the codebook."""
    chunks = {m: dev_chunks(m, n, directory) for m in RESIDUAL_PRIORS}
    models.set_predictor_book(())
    models.set_program_prior(None)               # the picks price forms uniformly (reproducible)
    for name in RESIDUAL_PRIORS.values():
        install(name, models.ResidualModel(name, rows=models.MODELS[0].rows))
    for r in range(rounds):
        codes = {m: best_codes(chunks[m], models.MODEL_INDEX[name], workers)
                 for m, name in RESIDUAL_PRIORS.items()}
        for m, name in RESIDUAL_PRIORS.items():
            install(name, fit_table(name, codes[m]))
        if r == 0 and book_size:
            entries = train_book([c for m in codes for c in codes[m]], book_size)
            models.set_predictor_book(entries)
            size = models.write_book(models.PRIOR_DIR / models.BOOK_FILE, entries)
            print(f"{models.BOOK_FILE}: {len(entries)} trained entries, {size} bytes", flush=True)
        print(f"round {r + 1} done", flush=True)
    for name in RESIDUAL_PRIORS.values():
        model = models.MODELS[models.MODEL_INDEX[name]]
        size = models.write_residual(models.PRIOR_DIR / f"{name}.prior", model.rows, model.first,
                                     model.top)
        print(f"{name}.prior: {size} bytes", flush=True)


def train_dna(directory=None) -> int:
    chunks = dev_chunks("dna", None, directory)
    order = models.DNA_ORDER
    base = np.zeros((4 ** order, 4), np.int64)
    first = np.zeros(2, np.int64)
    switches = np.zeros(models.CASE_K_MAX + 2, np.int64)
    for data in chunks:
        sym = np.frombuffer(data, np.uint8).astype(np.int64)
        b = sym & 3
        ctx = np.zeros(len(b), np.int64)
        for j in range(order, 0, -1):                      # models.dna_context, vectorised
            shifted = np.concatenate([np.zeros(j, np.int64), b[:-j]])
            ctx = 4 * ctx + shifted
        np.add.at(base, (ctx, b), 1)
        c = sym >> 2
        first[c[0]] += 1
        switches[min(int((c[1:] != c[:-1]).sum()), models.CASE_K_MAX + 1)] += 1
    raw = b"".join(models.quantise_row(row) for row in (base + 0.5).tolist())
    raw += models.quantise_row((first + 0.5).tolist()) + models.quantise_row((switches + 0.5).tolist())
    blob = models.pack(raw)
    (models.PRIOR_DIR / "dna.prior").write_bytes(blob)
    return len(blob)


def _pick(args):
    """The program `predict` writes for one chunk (worker process)."""
    from ksynth.config import SearchConfig
    from ksynth.search.predict import PredictStrategy

    return PredictStrategy().search(list(args), SearchConfig(objective="bits"), float("inf")).program


def train_forms(n: int, rounds: int, directory=None, workers: int = 2) -> int:
    """forms.prior: P(form) over every natural modality's dev chunks (each modality weighted
    equally), P(param | model) and P(codebook index | model), counted over the programs `predict`
    writes on them. Round 1 picks under uniform rows, each later round under the last one's."""
    from multiprocessing import Pool

    from ksynth.dsl import encode

    models.set_program_prior(None)
    chunks = {m: dev_chunks(m, n, directory) for m in datasets.NATURAL}
    book = models.predictor_book()
    for r in range(rounds):
        forms = np.zeros(models.n_forms())
        params: dict[int, np.ndarray] = {}
        preds: dict[int, np.ndarray] = {}
        with Pool(workers) as pool:
            for modality, data in chunks.items():
                mine = np.zeros(models.n_forms())
                for prog in pool.map(_pick, data, chunksize=8):
                    form = encode.program_form(prog)
                    if form is None:
                        mine[-1] += 1
                        continue
                    m, chain = form
                    mine[encode._form_index(m, chain)] += 1
                    model = models.MODELS[m]
                    if model.param_radix > 1:
                        params.setdefault(m, np.zeros(model.param_radix))[prog.lines[0].args[1]] += 1
                    if models.CHAINS[chain][0]:
                        k = book.index.get(tuple(prog.lines[1].args[1]), len(book.entries))
                        preds.setdefault(m, np.zeros(len(book.entries) + 1))[k] += 1
                forms += mine / mine.sum()
        # every row smoothed so any choice stays codable: half a count per entry
        size = models.write_program_prior(
            models.PRIOR_DIR / models.FORMS_FILE, (forms / len(chunks) * 1000 + 0.5).tolist(),
            {m: (c + 0.5).tolist() for m, c in params.items()},
            {m: (c + 0.5).tolist() for m, c in preds.items()})
        models.set_program_prior(models.read_program_prior(models.PRIOR_DIR / models.FORMS_FILE))
        print(f"forms round {r + 1}: {models.FORMS_FILE} {size} bytes", flush=True)
    return size


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None, help="folder with the KT .bin files")
    ap.add_argument("--n", type=int, default=500, help="dev chunks per audio modality")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--book", type=int, default=BOOK_SIZE, help="trained codebook entries")
    ap.add_argument("--forms-n", type=int, default=500, help="dev chunks per modality for forms.prior")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--only", choices=("audio", "dna", "text", "forms"), default=None)
    args = ap.parse_args(argv)
    models.PRIOR_DIR.mkdir(exist_ok=True)
    if args.only in (None, "audio"):
        train_audio(args.n, args.rounds, args.book, args.data, args.workers)
    if args.only in (None, "dna"):
        print(f"dna.prior: {train_dna(args.data)} bytes", flush=True)
    if args.only in (None, "text"):
        import train_text_net    # the text net (torch): its own script, its defaults

        train_text_net.main(["--data", args.data] if args.data else [])
    if args.only in (None, "forms"):
        train_forms(args.forms_n, args.rounds, args.data, args.workers)


if __name__ == "__main__":
    main()
