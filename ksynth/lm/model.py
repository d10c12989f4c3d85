"""The policy model: a small causal LM built from a `transformers` config (no download, ever).

    model = build(ModelSpec())                       # GPT-2 style, ~0.9 M parameters
    save(model, folder, card={...})                  # save_pretrained + model_card.json
    model = load(folder)                             # from_pretrained(local_files_only=True)
    model = load_default()                           # the checkpoint shipped in ksynth/lm/checkpoint

torch and transformers are imported inside the functions: `import ksynth.lm.model` is cheap.
`device()` picks CUDA when present, else CPU, and says which on stderr once. On CPU the thread
count is left to the caller (OMP_NUM_THREADS / torch.set_num_threads: ENV-NOTES measured two
torch threads on a busy core running 5-40x slower than one).
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from ksynth.lm.tokens import EOS, PAD, VOCAB_SIZE, BOS

DEFAULT_CHECKPOINT = Path(__file__).resolve().parent / "checkpoint"
CARD_FILE = "model_card.json"


@dataclass(frozen=True)
class ModelSpec:
    """Architecture. The defaults give ~0.9 M parameters: at ~5-10 k tokens/s on one contended
    CPU thread (ENV-NOTES) an hour of training sees ~150-300 k examples of ~114 tokens."""

    family: str = "gpt2"          # "gpt2" | "llama"
    d_model: int = 128
    layers: int = 4
    heads: int = 4
    context: int = 512            # tokens; prompts longer than this are refused by the policy
    dropout: float = 0.0


def _config(spec: ModelSpec):
    import transformers

    common = dict(vocab_size=VOCAB_SIZE, bos_token_id=BOS, eos_token_id=EOS, pad_token_id=PAD)
    if spec.family == "gpt2":
        return transformers.GPT2Config(n_embd=spec.d_model, n_layer=spec.layers, n_head=spec.heads,
                                       n_positions=spec.context, resid_pdrop=spec.dropout,
                                       embd_pdrop=spec.dropout, attn_pdrop=spec.dropout,
                                       tie_word_embeddings=True, **common)
    if spec.family == "llama":
        return transformers.LlamaConfig(hidden_size=spec.d_model, num_hidden_layers=spec.layers,
                                        num_attention_heads=spec.heads,
                                        num_key_value_heads=spec.heads,
                                        intermediate_size=4 * spec.d_model,
                                        max_position_embeddings=spec.context,
                                        tie_word_embeddings=True, **common)
    raise ValueError(f"unknown model family {spec.family!r}; choose gpt2 or llama")


def build(spec: ModelSpec = ModelSpec(), seed: int = 0):
    """A freshly initialised causal LM (seeded)."""
    import torch
    import transformers

    torch.manual_seed(seed)
    model = transformers.AutoModelForCausalLM.from_config(_config(spec))
    return model


_ANNOUNCED = set()


def device() -> str:
    """"cuda" when a GPU is visible, else "cpu"; printed to stderr the first time."""
    import torch

    name = "cuda" if torch.cuda.is_available() else "cpu"
    if name not in _ANNOUNCED:
        _ANNOUNCED.add(name)
        print(f"ksynth.lm: model device {name}", file=sys.stderr)
    return name


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def save(model, folder, card: dict | None = None) -> Path:
    """save_pretrained (safetensors) into folder, plus the model card as JSON when given."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    if card is not None:
        (folder / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return folder


def check_folder(folder) -> Path:
    """The folder, when it holds a saved model (UsageError naming it otherwise)."""
    from ksynth.errors import UsageError

    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise UsageError(f"no model in {folder} (expected config.json and model.safetensors "
                         f"written by save_pretrained)")
    return folder


def load(folder, on: str | None = None):
    """The model saved in a local folder, in eval mode, on `on` (default: device())."""
    from ksynth.errors import UsageError

    folder = check_folder(folder)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import transformers

    model = transformers.AutoModelForCausalLM.from_pretrained(str(folder), local_files_only=True)
    if model.config.vocab_size != VOCAB_SIZE:
        raise UsageError(f"the model in {folder} has a vocabulary of {model.config.vocab_size} "
                         f"tokens; ksynth's prompt format has {VOCAB_SIZE} (ksynth/lm/tokens.py)")
    model.eval()
    return model.to(on or device())


def card(folder) -> dict:
    path = Path(folder) / CARD_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def has_default() -> bool:
    return (DEFAULT_CHECKPOINT / "config.json").is_file()


def load_default(on: str | None = None):
    return load(DEFAULT_CHECKPOINT, on)


def spec_dict(spec: ModelSpec) -> dict:
    return asdict(spec)


def collate(items):
    """(input_ids, attention_mask, labels) of (tokens, prompt length) items: right-padded, labels
    -100 on the prompt and the padding (the loss is on program tokens only)."""
    import torch

    width = max(len(t) for t, _ in items)
    ids = torch.full((len(items), width), PAD, dtype=torch.long)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    labels = torch.full((len(items), width), -100, dtype=torch.long)
    for r, (t, n) in enumerate(items):
        ids[r, :len(t)] = torch.tensor(t)
        mask[r, :len(t)] = 1
        labels[r, n:len(t)] = torch.tensor(t[n:])
    return ids, mask, labels


def train_steps(model, items, steps: int, lr: float = 3e-3, batch: int = 16, seed: int = 0):
    """A plain AdamW loop over random batches of items (tests and quick fits; the real run is
    experiments/train_policy.py). Returns the last loss."""
    import random

    import torch

    rng = random.Random(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    loss = None
    for _ in range(steps):
        ids, mask, labels = collate(rng.sample(items, min(batch, len(items))))
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    model.eval()
    return float(loss.detach())
