"""Train the text model's byte GRU (ksynth/dsl/textnet.py) on the DEV split of text only.

    python experiments/train_text_net.py [--minutes 14 | --steps N] [--hidden 64] [--embed 32] [--bits 6]
                                         [--seed 0] [--data DIR] [--out ksynth/priors/text_net.prior]

The net reads one 128-byte chunk from a newline (models.TEXT_START) and a zero state, as the
decoder does. Training windows are 128 bytes at random offsets in the first 90% of the dev chunks
(the chunk grid is arbitrary in running text); the last 10% of dev chunks are held out and scored
as chunks, by the float net and by the integer net the prior file holds (the decoder's numbers).
The test split is never read. Prints the held-out bits per byte and the prior's size. The shipped
ksynth/priors/text_net.prior: the defaults (seed 0, H 64, E 32, 6-bit levels, 14 minutes: 9,380
steps on 2 shared cores; a time-bound run stops elsewhere on another machine, `--steps` does not).
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


def build(torch, hidden: int, embed: int):
    nn = torch.nn

    class ByteGRU(nn.Module):
        """logits = E (W_o h + b_o) + b: the output tied to the input embedding E."""

        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(256, embed)
            self.gru = nn.GRU(embed, hidden, batch_first=True)
            self.proj = nn.Linear(hidden, embed)
            self.bias = nn.Parameter(torch.zeros(256))

        def forward(self, x):
            h, _ = self.gru(self.embed(x))
            return self.proj(h) @ self.embed.weight.T + self.bias

    return ByteGRU()


def weights(net) -> dict:
    """The float arrays textnet.quantise takes, in PyTorch's GRU gate order (r, z, n)."""
    g = net.gru
    return {k: v.detach().numpy().astype(np.float64) for k, v in {
        "embed": net.embed.weight, "w_ih": g.weight_ih_l0, "w_hh": g.weight_hh_l0,
        "b_ih": g.bias_ih_l0, "b_hh": g.bias_hh_l0, "proj": net.proj.weight,
        "proj_b": net.proj.bias, "bias": net.bias}.items()}


def float_bits(torch, net, chunks) -> float:
    """Held-out bits per byte of the float net, chunk by chunk."""
    x, y = inputs(torch, chunks)
    with torch.no_grad():
        logp = torch.log_softmax(net(x), -1).gather(-1, y[..., None])
    return float(-logp.sum() / math.log(2) / sum(len(c) for c in chunks))


def inputs(torch, chunks):
    arr = np.array([list(c) for c in chunks], np.int64)
    x = np.concatenate([np.full((len(arr), 1), models.TEXT_START), arr[:, :-1]], 1)
    return torch.from_numpy(x), torch.from_numpy(arr)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=14.0, help="train this long (wall time) ...")
    ap.add_argument("--steps", type=int, default=None, help="... or exactly this many steps (reproducible)")
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--embed", type=int, default=32)
    ap.add_argument("--bits", type=int, default=6, help="weight levels: signed, this many bits")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", default=None)
    ap.add_argument("--out", default=str(models.PRIOR_DIR / textnet.PRIOR_FILE))
    ap.add_argument("--save-float", default=None, help="also save the float state dict here (.pt)")
    args = ap.parse_args(argv)

    import torch

    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    rng = np.random.default_rng(args.seed)
    chunks = [it.data for it in datasets.load("text", "dev", None, directory=args.data)]
    chunks = [c for c in chunks if len(c) == WINDOW]
    cut = int(len(chunks) * (1 - HELD_OUT))
    train, held = b"".join(chunks[:cut]), chunks[cut:]
    stream = np.frombuffer(train, np.uint8).astype(np.int64)
    print(f"dev text: {cut} chunks to train on, {len(held)} held out", flush=True)

    net = build(torch, args.hidden, args.embed)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    deadline = time.monotonic() + 60 * args.minutes
    start, step = time.monotonic(), 0
    while (step < args.steps) if args.steps else (time.monotonic() < deadline):
        frac = step / args.steps if args.steps else (time.monotonic() - start) / (60 * args.minutes)
        for g in opt.param_groups:
            g["lr"] = args.lr * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0)))
        offs = rng.integers(0, len(stream) - WINDOW, BATCH)
        y = torch.from_numpy(np.stack([stream[o:o + WINDOW] for o in offs]))
        x = torch.cat([torch.full((BATCH, 1), models.TEXT_START), y[:, :-1]], 1)
        loss = torch.nn.functional.cross_entropy(net(x).reshape(-1, 256), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        step += 1
        if step % 200 == 0:
            print(f"step {step}: train {loss.item() / math.log(2):.3f} "
                  f"held-out {float_bits(torch, net, held):.3f} bits/byte", flush=True)
    if args.save_float:
        torch.save(net.state_dict(), args.save_float)
    fbits = float_bits(torch, net, held)
    raw = textnet.quantise(weights(net), args.bits)
    size = textnet.write_prior(Path(args.out), raw)
    inet = textnet.read_prior(Path(args.out))
    ibits = sum(inet.cost(list(c)) for c in held) / sum(len(c) for c in held)
    print(f"{step} steps; held-out float {fbits:.4f}, integer {ibits:.4f} bits/byte; "
          f"{args.out}: {size} bytes ({size * 8 / len(chunks) / WINDOW:.4f} bits/byte charged over dev)",
          flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
