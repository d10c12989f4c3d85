"""Train the policy LM on KT synthetic pairs (issue 14): one seeded run, learning-curve points on the way.

    python experiments/train_policy.py --examples 200000 --minutes 45 --seed 0 --out runs/policy
        [--d-model 128 --layers 4 --heads 4 --family gpt2] [--batch 32] [--lr 1e-3]
        [--curve 10000,30000,100000,300000] [--init FOLDER] [--train-jsonl FILE] [--ship]
        [--data-cache DIR]

One pass over `--examples` distinct pairs from ksynth.lm.data.make (evaluation seeds excluded,
rare ops oversampled), each example seen once, so the held-out loss after k examples is the
learning curve over k training examples of this one schedule (cosine learning rate over the
planned pass or the --minutes cap, whichever is shorter; a run cut by the cap says so). The loss is on the program tokens
only (the prompt is the condition). Held-out: 2,000 natural draws of a separate stream; reported
as nats per program token and as bits per program, i.e. -log2 policy(program | sequence).

Writes into --out: the model (save_pretrained), model_card.json (command, data, seed, steps,
held-out loss, time), curve.json (train loss per step, held-out points) and curve.png.
--ship also copies the model and card into ksynth/lm/checkpoint (the package's default policy).
--train-jsonl trains on a file of {"sequence", "program"} rows instead (expert iteration: the
verified programs a search found), mixed with as many generator pairs as --examples asks.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
VALID_N = 2000
BUCKET = 64                 # batches sorted together by length (less padding, same shuffle)
WARMUP_STEPS = 100
LOG2E = 1.0 / math.log(2.0)


def batches(examples, batch: int, rng: random.Random):
    """Token batches in a shuffled order; within BUCKET batches, examples of similar length."""
    order = list(range(len(examples)))
    rng.shuffle(order)
    span = batch * BUCKET
    out = []
    for a in range(0, len(order), span):
        group = sorted(order[a:a + span], key=lambda i: len(examples[i][0]))
        chunk = [group[b:b + batch] for b in range(0, len(group), batch)]
        rng.shuffle(chunk)
        out += chunk
    return out


def program_nats(model, items, dev, batch: int = 64):
    """Per item: summed -ln p over its program tokens (EOS included), and the token count."""
    import torch

    from ksynth.lm.model import collate

    out = []
    with torch.no_grad():
        for a in range(0, len(items), batch):
            ids, mask, labels = collate(items[a:a + batch])
            ids, mask, labels = ids.to(dev), mask.to(dev), labels.to(dev)
            logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
            tgt = labels[:, 1:]
            lp = torch.log_softmax(logits, -1)
            tok = -lp.gather(-1, tgt.clamp(min=0).unsqueeze(-1)).squeeze(-1) * (tgt >= 0)
            for r in range(ids.shape[0]):
                out.append((float(tok[r].sum()), int((tgt[r] >= 0).sum())))
    return out


def held_out(model, items, dev) -> dict:
    nats = program_nats(model, items, dev)
    total, count = sum(a for a, _ in nats), sum(b for _, b in nats)
    return {"nats_per_token": total / count, "bits_per_program": total * LOG2E / len(nats)}


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, cwd=REPO).stdout.strip()
    except OSError:
        return "unknown"


def plot(curve: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    steps = [p["examples"] for p in curve["train"]]
    ax[0].plot(steps, [p["loss"] for p in curve["train"]], lw=0.8, label="train (program tokens)")
    points = [p for p in curve["held_out"] if p["examples"] > 0]     # a log axis has no 0
    ax[0].plot([p["examples"] for p in points], [p["nats_per_token"] for p in points], "o-",
               label="held-out")
    ax[0].set_xlabel("training examples seen")
    ax[0].set_ylabel("nats / program token")
    ax[0].set_xscale("log")
    ax[0].legend()
    ax[1].plot([p["examples"] for p in points], [p["bits_per_program"] for p in points], "o-",
               label="policy")
    ax[1].axhline(curve["kt_bits_per_program"], color="gray", ls="--", label="KT prior (uniform)")
    ax[1].set_xlabel("training examples seen")
    ax[1].set_ylabel("held-out -log2 policy(program | sequence), bits")
    ax[1].set_xscale("log")
    ax[1].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=200_000)
    ap.add_argument("--minutes", type=float, default=45.0, help="wall cap on training")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="runs/policy")
    ap.add_argument("--family", default="gpt2", choices=["gpt2", "llama"])
    ap.add_argument("--d-model", type=int, default=128)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--curve", default="10000,30000,100000,300000")
    ap.add_argument("--init", default=None, help="start from this saved model")
    ap.add_argument("--train-jsonl", default=None, help="extra training rows (expert iteration)")
    ap.add_argument("--data-cache", default=None, help="folder: reuse / keep the generated pairs")
    ap.add_argument("--workers", type=int, default=1, help="data generation workers (Ray above 1)")
    ap.add_argument("--ship", action="store_true", help="copy the result to ksynth/lm/checkpoint")
    args = ap.parse_args(argv)

    import torch

    from ksynth.dsl.score import kt_bits
    from ksynth.lm import data
    from ksynth.lm.model import ModelSpec, build, collate, device, load, n_params, save

    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    dev = device()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    command = " ".join(["python"] + sys.argv)
    commit = git_commit()                     # the code that trains, not HEAD when it ends

    t0 = time.time()
    cache = Path(args.data_cache) if args.data_cache else None
    if cache and (cache / f"train-{args.examples}.jsonl").is_file():
        train = data.read(cache / f"train-{args.examples}.jsonl")
        valid = data.read(cache / "valid.jsonl")
    else:
        exclude = data.eval_sequences()
        train = data.make(args.examples, "train", workers=args.workers, exclude=exclude)
        valid = data.make(VALID_N, "valid", boost=1, exclude=exclude)
        if cache:
            cache.mkdir(parents=True, exist_ok=True)
            data.write(train, cache / f"train-{args.examples}.jsonl")
            data.write(valid, cache / "valid.jsonl")
    extra = data.read(args.train_jsonl) if args.train_jsonl else []
    seen_train = {ex.sequence for ex in train}
    valid = [ex for ex in valid if ex.sequence not in seen_train]
    print(f"data: {len(train)} train + {len(extra)} extra, {len(valid)} held-out "
          f"({time.time() - t0:.0f} s)", file=sys.stderr)
    train_items = [ex.tokens() for ex in train + extra]
    valid_items = [ex.tokens() for ex in valid]
    kt_per_program = sum(kt_bits(ex.program) for ex in valid) / len(valid)

    spec = ModelSpec(family=args.family, d_model=args.d_model, layers=args.layers, heads=args.heads)
    model = load(args.init, dev) if args.init else build(spec, args.seed).to(dev)
    model.train()
    print(f"model: {args.family} {n_params(model):,} parameters", file=sys.stderr)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01, betas=(0.9, 0.98))
    plan = batches(train_items, args.batch, rng)
    total_steps = len(plan)
    t_train = time.time()
    deadline = t_train + 60 * args.minutes

    def progress(s: int) -> float:
        # the cosine runs over the planned pass or the time cap, whichever ends first, so a run
        # cut by --minutes still ends at the low learning rate
        return min(1.0, max(s / total_steps, (time.time() - t_train) / (deadline - t_train)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / WARMUP_STEPS) * (
        0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress(s)))))
    points = sorted({int(p) for p in args.curve.split(",") if int(p) <= len(train_items)}
                    | {len(train_items)})
    curve = {"train": [], "held_out": [], "kt_bits_per_program": kt_per_program}
    seen, step, stopped_early = 0, 0, False
    ho = held_out(model, valid_items, dev)
    curve["held_out"].append({"examples": 0, "step": 0, **ho})
    for idx in plan:
        ids, mask, labels = collate([train_items[i] for i in idx])
        loss = model(input_ids=ids.to(dev), attention_mask=mask.to(dev), labels=labels.to(dev)).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        step += 1
        seen += len(idx)
        if step % 20 == 0:
            curve["train"].append({"examples": seen, "step": step, "loss": loss.item()})
        if step % 200 == 0:
            rate = seen / (time.time() - t_train)
            print(f"step {step}/{total_steps} examples {seen} loss {loss.item():.4f} "
                  f"{rate:.1f} ex/s", file=sys.stderr)
        late = time.time() > deadline
        if points and (seen >= points[0] or late):
            while points and seen >= points[0]:
                points.pop(0)
            model.eval()
            ho = held_out(model, valid_items, dev)
            model.train()
            curve["held_out"].append({"examples": seen, "step": step,
                                      "minutes": (time.time() - t_train) / 60, **ho})
            print(f"held-out at {seen}: {ho}", file=sys.stderr)
            (out / "curve.json").write_text(json.dumps(curve) + "\n")
        if late:
            stopped_early = step < total_steps
            break
    minutes = (time.time() - t_train) / 60
    model.eval()
    final = curve["held_out"][-1]
    card = {
        "what": "ksynth policy LM: KT synthetic (sequence -> program), ksynth/lm/tokens.py format",
        "command": command, "commit": commit, "seed": args.seed,
        "model": {"family": args.family, "d_model": args.d_model, "layers": args.layers,
                  "heads": args.heads, "parameters": n_params(model),
                  "init": args.init},
        "data": {"generator": "ksynth.dsl.sample (KT synthetic distribution)",
                 "train_examples": len(train_items), "extra_rows": len(extra),
                 "rare_ops_boost": data.RARE_BOOST, "max_tokens": data.MAX_TOKENS,
                 "excluded_eval_seeds": list(data.EVAL_SEEDS),
                 "held_out": f"{len(valid)} natural draws, stream 'valid'"},
        "training": {"steps": step, "planned_steps": total_steps, "examples_seen": seen,
                     "batch": args.batch, "lr": args.lr, "minutes": round(minutes, 1),
                     "stopped_by_time_cap": stopped_early, "device": dev, "torch_threads": 1},
        "held_out": {"nats_per_program_token": round(final["nats_per_token"], 4),
                     "bits_per_program": round(final["bits_per_program"], 2),
                     "kt_bits_per_program": round(kt_per_program, 2)},
        "benchmark": "see experiments/README.md (issue 14) for the numbers measured with it",
    }
    save(model, out, card)
    (out / "curve.json").write_text(json.dumps(curve) + "\n")
    plot(curve, out / "curve.png")
    print(json.dumps(card["held_out"]), f"{minutes:.1f} min, {step} steps", file=sys.stderr)
    if args.ship:
        dest = REPO / "ksynth" / "lm" / "checkpoint"
        dest.mkdir(parents=True, exist_ok=True)
        for name in ("config.json", "generation_config.json", "model.safetensors", "model_card.json"):
            if (out / name).is_file():
                shutil.copy(out / name, dest / name)
        print(f"shipped to {dest}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
