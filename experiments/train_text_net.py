"""Train the text model's byte GRU (ksynth/dsl/textnet.py) on the DEV split of text only.

    python experiments/train_text_net.py [--minutes 14 | --steps N] [--hidden 48] [--embed 24] [--bits 6]
                                         [--qat 0.2] [--keep-absent] [--dropout 0] [--weight-decay 0]
                                         [--ema 0] [--teacher PT [--distil 0.5]] [--train-share 1]
                                         [--seed 0] [--data DIR]
                                         [--out ksynth/priors/text_net.prior] [--save-float PT]
    python experiments/train_text_net.py --score PRIOR [PRIOR ...]    # the comparison below

The net reads one 128-byte chunk from a newline (models.TEXT_START) and a zero state, as the
decoder does. Training windows are 128 bytes at random offsets in the first 90% of the dev chunks
(the chunk grid is arbitrary in running text); the last 10% of dev chunks are held out and scored
as chunks, by the float net and by the integer net the prior file holds (the decoder's numbers).
The test split is never read. Embedding rows of bytes the training text lacks stay zero, and the
last `--qat` share of training sees the matrices rounded to the prior's levels (straight-through).
Prints the held-out bits per byte, the prior's size and their sum a chunk. The shipped
ksynth/priors/text_net.prior: the defaults (seed 0, H 48, E 24, 6-bit levels, QAT the last 20%,
14 minutes: 8,282 steps on 2 cores shared with a second training; a time-bound run stops
elsewhere on another machine, `--steps` does not).

`--score` reads prior files and prints, on every second held-out dev chunk, bits a chunk: the
full text model (the net mixed with in-chunk counts, each chunk under its cheapest variant of
models.TEXT_VARIANTS, plus log2 of their number for the param) plus the prior charged over the
test split's 3,923 chunks; the shipped prior reads 356.6 + 28.4 = 385.0. 14-minute runs two at a
time, scored before the variants, with the counts of orders 3 and 2 alone (before
models.TEXT_ADAPT added orders 4 and 1): H 64 E 32 (the earlier prior, absent rows trained)
350.4 + 47.9 = 398.2; H 48 E 24 366.4 + 28.4 = 394.8, with QAT 0.2 364.6 + 28.4 = 393.0
(shipped); H 56 E 28 with QAT 360.3 + 36.0 = 396.2; H 40 E 20 with QAT 372.8 + 21.7 = 394.4;
H 32 E 16 395.4 + 16.0 = 411.4; H 48 E 24 at 5-bit levels, QAT 0.3, 375.5 + 24.5 = 400.0.
Coarser levels lose more than they save (H 64 E 32, QAT 0.5, the net alone, all held-out
chunks): 4-bit 3.052 bits a byte at 14,945 B, 3-bit 3.566 at 12,129 B, where the 6-bit H 64
prior read 2.834 (every second chunk) at 23,472 B. Dropout on the GRU's output does not help the
held-out articles (14 minutes, two at a time, integer net alone, all held-out chunks): 0.1 2.986,
0.25 2.996, against the shipped net's 2.959 without. Nor do a weight average or distillation
(`--score`, the full model under today's variants, against the shipped prior's 356.6): `--ema 0.999`
(14 minutes, two at a time) 357.3; distilled at `--steps 5000` from an H 128 E 48 teacher (no QAT)
held out at 2.719 bits a byte (2,500 steps), `--distil 0.5`, 357.3 (its net alone 376.7 against
378.5; with four variants chosen for it as TEXT_VARIANTS' were, the other half 357.1 against
356.6), and from a teacher at 2.676 (4,000 steps, `--dropout 0.25`), `--distil 0.8`, 359.3. An
H 128 teacher trained 35 minutes overfits dev: held out 2.776 at 2,600 steps, 2.914 at 5,600.
More data helps little: `--steps 8000` (two at a time) reads 356.7 on all the training chunks
and 359.2 with `--train-share 0.75`, so the tenth of dev held out here would buy about a bit a
chunk (log-linear in the data) if the net trained on it too. Weight decay helps a little (the
same 8,000 steps, both halves of the held-out chunks, the second half the one TEXT_VARIANTS were
chosen on): none 356.7 / 353.9, `--weight-decay 0.01` 354.8 / 352.9, 0.1 356.6 / 352.2; not
shipped yet (a new net needs forms.prior retrained and a test-split run).
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from ksynth.bench import datasets  # noqa: E402
from ksynth.dsl import models, textnet  # noqa: E402

HELD_OUT = 0.10                  # the last tenth of dev chunks
WINDOW = datasets.CHUNK_BYTES    # bytes a training window holds, as a chunk
BATCH = 128


def build(torch, hidden: int, embed: int, present: np.ndarray, dropout: float = 0.0):
    """The float net; `present` (256 bools) marks the bytes training text holds: the embedding rows
    of the others stay zero (a zero row costs the packed prior next to nothing, and such a byte's
    logit is its bias alone, which training drives low)."""
    nn = torch.nn

    class ByteGRU(nn.Module):
        """logits = E (W_o h + b_o) + b: the output tied to the input embedding E."""

        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(256, embed)
            self.gru = nn.GRU(embed, hidden, batch_first=True)
            self.proj = nn.Linear(hidden, embed)
            self.bias = nn.Parameter(torch.zeros(256))
            self.register_buffer("present", torch.from_numpy(present.astype(np.float32))[:, None])
            self.levels = 0              # > 0: matrices fake-quantised to this many bits (QAT)

        def forward(self, x):
            f, g = nn.functional, self.gru
            mats = [self.embed.weight * self.present, g.weight_ih_l0, g.weight_hh_l0, self.proj.weight]
            if self.levels:
                mats = [fake_quantised(torch, w, self.levels) for w in mats]
            emb, w_ih, w_hh, proj = mats
            gru_params = {"weight_ih_l0": w_ih, "weight_hh_l0": w_hh, "bias_ih_l0": g.bias_ih_l0,
                          "bias_hh_l0": g.bias_hh_l0}
            h, _ = torch.func.functional_call(g, gru_params, (f.embedding(x, emb),))
            h = f.dropout(h, dropout, self.training)     # the decoder runs without (eval mode)
            return f.linear(h, proj, self.proj.bias) @ emb.T + self.bias

    return ByteGRU()


def load_float(torch, path):
    """A net saved by --save-float, its sizes read from the state dict; in eval mode, frozen."""
    state = torch.load(path, map_location="cpu")
    hidden, embed = state["gru.weight_hh_l0"].shape[1], state["embed.weight"].shape[1]
    net = build(torch, hidden, embed, state["present"][:, 0].numpy() > 0)
    net.load_state_dict(state)
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


def fake_quantised(torch, w, bits: int):
    """w rounded to textnet.quantise_matrix's grid (signed levels, one scale per row) on the forward
    pass, the identity on the backward one (straight-through), so training sees the shipped net."""
    top = textnet.top_level(bits)
    scale = w.detach().abs().amax(1, keepdim=True).clamp_min(textnet.SCALE_FLOOR) / top
    return w + (torch.clamp(torch.round(w / scale), -top, top) * scale - w).detach()


def weights(net) -> dict:
    """The float arrays textnet.quantise takes, in PyTorch's GRU gate order (r, z, n)."""
    g = net.gru
    return {k: v.detach().numpy().astype(np.float64) for k, v in {
        "embed": net.embed.weight * net.present, "w_ih": g.weight_ih_l0, "w_hh": g.weight_hh_l0,
        "b_ih": g.bias_ih_l0, "b_hh": g.bias_hh_l0, "proj": net.proj.weight,
        "proj_b": net.proj.bias, "bias": net.bias}.items()}


def float_bits(torch, net, chunks) -> float:
    """Held-out bits per byte of the float net, chunk by chunk."""
    x, y = inputs(torch, chunks)
    was, _ = net.training, net.eval()
    with torch.no_grad():
        logp = torch.log_softmax(net(x), -1).gather(-1, y[..., None])
    net.train(was)
    return float(-logp.sum() / math.log(2) / sum(len(c) for c in chunks))


def inputs(torch, chunks):
    arr = np.array([list(c) for c in chunks], np.int64)
    x = np.concatenate([np.full((len(arr), 1), models.TEXT_START), arr[:, :-1]], 1)
    return torch.from_numpy(x), torch.from_numpy(arr)


def score(paths, held, directory=None) -> None:
    """Each prior's bits a chunk on `held`: the net alone, the full text model and its charge."""
    from ksynth.bench import charges

    tests = charges.split_chunks("text", "test", directory)
    for path in map(Path, paths):
        net = textnet.read_prior(path)
        model, charge = models.TextModel("text", net=net), 8 * path.stat().st_size / tests
        alone = np.mean([net.cost(list(c)) for c in held])
        full = np.mean([min(model.cost(list(c), k) for k in range(model.param_radix)) for c in held])
        full += math.log2(model.param_radix)     # the param, a uniform digit: predict's choice
        print(f"{path}: {path.stat().st_size} B; net alone {alone:.1f}, the text model {full:.1f} "
              f"+ charge {charge:.1f} = {full + charge:.1f} bits a chunk", flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=14.0, help="train this long (wall time) ...")
    ap.add_argument("--steps", type=int, default=None, help="... or exactly this many steps (reproducible)")
    ap.add_argument("--hidden", type=int, default=48)
    ap.add_argument("--embed", type=int, default=24)
    ap.add_argument("--bits", type=int, default=6, help="weight levels: signed, this many bits")
    ap.add_argument("--qat", type=float, default=0.2,
                    help="the last this share of training runs the matrices fake-quantised to --bits")
    ap.add_argument("--keep-absent", action="store_true",
                    help="train embedding rows for bytes the training text lacks (default: kept zero)")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--dropout", type=float, default=0.0, help="dropout on the GRU's output in training")
    ap.add_argument("--weight-decay", type=float, default=0.0, help="AdamW's decoupled weight decay")
    ap.add_argument("--ema", type=float, default=0.0,
                    help="keep an exponential moving average of the weights at this decay a step; "
                         "the prior is written from it (0: the last weights)")
    ap.add_argument("--teacher", default=None, help="a float state dict (.pt, --save-float) to distil from")
    ap.add_argument("--distil", type=float, default=0.5,
                    help="with --teacher, the loss's share that is KL(teacher || net), the rest cross-entropy")
    ap.add_argument("--train-share", type=float, default=1.0,
                    help="train on only the last this share of the training chunks (a data-scaling check)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", default=None)
    ap.add_argument("--out", default=str(models.PRIOR_DIR / textnet.PRIOR_FILE))
    ap.add_argument("--save-float", default=None, help="also save the float state dict here (.pt)")
    ap.add_argument("--score", nargs="+", metavar="PRIOR", help="only score these prior files (no training)")
    args = ap.parse_args(argv)
    if not 0 <= args.qat <= 1:
        ap.error(f"--qat is a share of training, 0..1, got {args.qat}")
    if not 0 < args.train_share <= 1:
        ap.error(f"--train-share is a share of the training chunks, in (0, 1], got {args.train_share}")
    if not 0 <= args.distil <= 1:
        ap.error(f"--distil is a share of the loss, 0..1, got {args.distil}")
    if not 0 <= args.ema < 1:
        ap.error(f"--ema is a decay a step, in [0, 1), got {args.ema}")
    if args.teacher and not Path(args.teacher).is_file():
        ap.error(f"--teacher {args.teacher}: no such file")

    import torch

    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    rng = np.random.default_rng(args.seed)
    chunks = [it.data for it in datasets.load("text", "dev", None, directory=args.data)]
    chunks = [c for c in chunks if len(c) == WINDOW]
    cut = int(len(chunks) * (1 - HELD_OUT))
    train, held = b"".join(chunks[cut - round(cut * args.train_share):cut]), chunks[cut:]
    stream = np.frombuffer(train, np.uint8).astype(np.int64)
    print(f"dev text: {len(train) // WINDOW} chunks to train on, {len(held)} held out", flush=True)
    if args.score:
        try:
            score(args.score, held[::2], args.data)
        except (OSError, ValueError) as exc:     # a missing or malformed prior: one line
            print(f"train_text_net: {exc}", file=sys.stderr)
            return 1
        return 0

    present = np.ones(256, bool) if args.keep_absent else np.bincount(stream, minlength=256) > 0
    print(f"{int(present.sum())} byte values in the training text", flush=True)
    net = build(torch, args.hidden, args.embed, present, args.dropout)
    teacher = load_float(torch, args.teacher) if args.teacher else None
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    ema = {k: v.detach().clone() for k, v in net.state_dict().items()} if args.ema else None
    deadline = time.monotonic() + 60 * args.minutes
    start, step = time.monotonic(), 0
    while (step < args.steps) if args.steps else (time.monotonic() < deadline):
        frac = step / args.steps if args.steps else (time.monotonic() - start) / (60 * args.minutes)
        net.levels = args.bits if frac >= 1 - args.qat else 0
        for g in opt.param_groups:
            g["lr"] = args.lr * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0)))
        offs = rng.integers(0, len(stream) - WINDOW, BATCH)
        y = torch.from_numpy(np.stack([stream[o:o + WINDOW] for o in offs]))
        x = torch.cat([torch.full((BATCH, 1), models.TEXT_START), y[:, :-1]], 1)
        logits = net(x).reshape(-1, 256)
        loss = ce = torch.nn.functional.cross_entropy(logits, y.reshape(-1))
        if teacher is not None:
            with torch.no_grad():
                target = torch.log_softmax(teacher(x).reshape(-1, 256), -1)
            kl = torch.nn.functional.kl_div(torch.log_softmax(logits, -1), target, reduction="batchmean",
                                            log_target=True)
            loss = (1 - args.distil) * loss + args.distil * kl
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        if ema is not None:
            with torch.no_grad():
                for k, v in net.state_dict().items():
                    ema[k].mul_(args.ema).add_(v, alpha=1 - args.ema)
        step += 1
        if step % 200 == 0:
            print(f"step {step}: train {ce.item() / math.log(2):.3f} "
                  f"held-out {float_bits(torch, net, held):.3f} bits/byte", flush=True)
    net.levels = 0
    if ema is not None:
        net.load_state_dict(ema)
    if args.save_float:
        torch.save(net.state_dict(), args.save_float)
    fbits = float_bits(torch, net, held)
    raw = textnet.quantise(weights(net), args.bits)
    size = textnet.write_prior(Path(args.out), raw)
    inet = textnet.read_prior(Path(args.out))
    ibits = sum(inet.cost(list(c)) for c in held) / sum(len(c) for c in held)
    charged = size * 8 / len(chunks)
    print(f"{step} steps; held-out float {fbits:.4f}, integer {ibits:.4f} bits/byte; "
          f"{args.out}: {size} bytes ({charged / WINDOW:.4f} bits/byte charged over dev); "
          f"{ibits * WINDOW + charged:.1f} bits a chunk, the net with its charge", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
