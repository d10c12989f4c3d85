"""Grammar-constrained decoding and scoring with the policy LM (torch imported by the caller's use).

    enc = encode_target(model, target)                    # one forward pass over the prompt: KV cache
    samples = decode(model, enc, k=16, greedy=False)      # [(Program | None, log2 p)] per sample
    bits = score(model, enc, [tokens, ...])               # -log2 p of completions, batched

Every sampled token is drawn from the tokens that `ksynth.lm.tokens.allowed` admits after the
prefix, so every finished sample parses into a Program (a sample that runs out of tokens is None).
All rows of a batch share the one cached prompt (`batch_repeat_interleave`), so rows stay aligned
and need no padding; finished rows are dropped from the batch as they end.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ksynth.errors import ProgramError
from ksynth.lm import tokens as T

MAX_PROGRAM_TOKENS = 256        # a longer completion is abandoned (KT programs: ~34 tokens mean)
LN2 = math.log(2.0)


@dataclass
class Encoded:
    """A target's prompt run once: the cache after it and the next-token log-probs (1, V)."""

    prompt: list
    cache: object
    logp: object


def encode_target(model, target) -> Encoded | None:
    """The prompt's KV cache; None when the prompt does not fit the model's context."""
    import torch

    prompt = T.sequence_tokens(target)
    ctx = _context(model)
    if len(prompt) + 8 > ctx:
        return None
    dev = next(model.parameters()).device
    with torch.no_grad():
        out = model(input_ids=torch.tensor([prompt], device=dev), use_cache=True)
    return Encoded(prompt, _cache_of(out), torch.log_softmax(out.logits[:, -1].float(), -1))


def _cache_of(out):
    # transformers 5.x names the cache `cache` (`past_key_values` before, now deprecated)
    return out.cache if "cache" in out else out.past_key_values


def _context(model) -> int:
    cfg = model.config
    return getattr(cfg, "n_positions", None) or getattr(cfg, "max_position_embeddings", 512)


class _Masks:
    """Additive masks (0 / -inf) per grammar class tuple, cached."""

    def __init__(self, vocab: int, device):
        self.vocab, self.device, self.cache = vocab, device, {}

    def get(self, state):
        import torch

        key = T.allowed(state)
        m = self.cache.get(key)
        if m is None:
            m = torch.full((self.vocab,), -math.inf, device=self.device)
            ids = [i for name, n in key for i in T.class_ids(name, n)]
            m[ids] = 0.0
            self.cache[key] = m
        return m


def decode(model, enc: Encoded, k: int = 1, greedy: bool = True, temperature: float = 1.0,
           seed: int = 0, max_tokens: int | None = None,
           deadline: float | None = None) -> list[tuple]:
    """k completions of the cached prompt: [(Program or None, log2 p of its tokens)]. Greedy rows
    are identical, so greedy decoding always runs one row. Past `deadline` (time.monotonic())
    decoding stops and unfinished rows are None."""
    import copy
    import time

    import torch

    if greedy:
        k = 1
    dev = enc.logp.device
    budget = min(max_tokens or MAX_PROGRAM_TOKENS, _context(model) - len(enc.prompt) - 1)
    gen = torch.Generator(device=dev).manual_seed(seed)
    masks = _Masks(enc.logp.shape[-1], dev)
    cache = copy.deepcopy(enc.cache)
    if k > 1:
        cache.batch_repeat_interleave(k)
    logp = enc.logp.expand(k, -1)
    rows = list(range(k))                     # original row of each live batch row
    states = [T.GrammarState() for _ in range(k)]
    toks: list[list[int]] = [[] for _ in range(k)]
    total = [0.0] * k
    finished = [False] * k
    with torch.no_grad():
        for _ in range(budget):
            if deadline is not None and time.monotonic() > deadline:
                break
            live = list(rows)
            masked = logp + torch.stack([masks.get(states[r]) for r in live])
            if greedy:
                nxt = masked.argmax(-1)
            else:
                probs = torch.softmax(masked / temperature, -1)
                nxt = torch.multinomial(probs, 1, generator=gen).squeeze(-1)
            chosen = torch.log_softmax(masked, -1).gather(-1, nxt[:, None]).squeeze(-1)
            keep = []
            for j, r in enumerate(live):
                t = int(nxt[j])
                toks[r].append(t)
                total[r] += float(chosen[j]) / LN2
                states[r] = T.advance(states[r], t)
                if states[r].done:
                    finished[r] = True
                else:
                    keep.append(j)
            if not keep:
                break
            if len(keep) < len(live):
                cache.batch_select_indices(torch.tensor(keep, device=dev))
                nxt = nxt[keep]
                rows = [live[j] for j in keep]
            out = model(input_ids=nxt[:, None], cache=cache, use_cache=True)
            cache = _cache_of(out)
            logp = torch.log_softmax(out.logits[:, -1].float(), -1)
    results = []
    for r in range(k):
        prog = None
        if finished[r]:
            try:
                prog = T.parse_tokens(toks[r])
            except ProgramError:           # grammar admits it, so this is a bug; keep going
                prog = None
        results.append((prog, total[r]))
    return results


def decode_beam(model, enc: Encoded, width: int = 16, max_tokens: int | None = None,
                deadline: float | None = None) -> list[tuple]:
    """Token-level beam search under the grammar: up to `width` finished programs, most probable
    first, [(Program, log2 p)]. Each step keeps the `width` best (hypothesis, token) extensions;
    it stops once the best finished program beats every live hypothesis (log-probabilities only
    fall), at the deadline, or after the token budget."""
    import copy
    import time

    import torch

    dev = enc.logp.device
    budget = min(max_tokens or MAX_PROGRAM_TOKENS, _context(model) - len(enc.prompt) - 1)
    masks = _Masks(enc.logp.shape[-1], dev)
    cache = copy.deepcopy(enc.cache)
    logp = enc.logp
    hyps = [([], T.GrammarState(), 0.0)]            # (tokens, grammar state, ln p)
    finished: list[tuple[list, float]] = []
    with torch.no_grad():
        for _ in range(budget):
            if deadline is not None and time.monotonic() > deadline:
                break
            masked = torch.log_softmax(logp + torch.stack([masks.get(h[1]) for h in hyps]), -1)
            total = masked + torch.tensor([h[2] for h in hyps], device=dev)[:, None]
            top = torch.topk(total.flatten(), min(width, int(torch.isfinite(total).sum())))
            vocab = total.shape[-1]
            live, parents, tokens = [], [], []
            for v, idx in zip(top.values.tolist(), top.indices.tolist()):
                h, t = divmod(idx, vocab)
                toks, state = hyps[h][0] + [t], T.advance(hyps[h][1], t)
                if state.done:
                    finished.append((toks, v))
                else:
                    live.append((toks, state, v))
                    parents.append(h)
                    tokens.append(t)
            best_done = max((f[1] for f in finished), default=-math.inf)
            if not live or len(finished) >= width or best_done >= max(h[2] for h in live):
                break
            cache.batch_select_indices(torch.tensor(parents, device=dev))
            out = model(input_ids=torch.tensor(tokens, device=dev)[:, None], cache=cache,
                        use_cache=True)
            cache = _cache_of(out)
            logp = out.logits[:, -1].float()
            hyps = live
    results = []
    for toks, v in sorted(finished, key=lambda f: -f[1])[:width]:
        try:
            results.append((T.parse_tokens(toks), v / LN2))
        except ProgramError:
            continue
    return results


def score(model, enc: Encoded, completions: list[list[int]], batch: int = 64) -> list[float]:
    """-log2 p(completion | prompt) for each token list, on top of the cached prompt. Rows are
    right-padded: causal attention keeps padding from touching the real tokens before it."""
    import copy

    import torch

    out_bits: list[float] = []
    dev = enc.logp.device
    n0 = len(enc.prompt)
    for a in range(0, len(completions), batch):
        group = completions[a:a + batch]
        width = max(len(c) for c in group)
        if n0 + width > _context(model):
            raise ValueError("a completion runs past the model's context")
        ids = torch.full((len(group), width), T.PAD, dtype=torch.long, device=dev)
        for r, c in enumerate(group):
            ids[r, :len(c)] = torch.tensor(c, device=dev)
        cache = copy.deepcopy(enc.cache)
        cache.batch_repeat_interleave(len(group))
        mask = torch.ones((len(group), n0 + width), dtype=torch.long, device=dev)
        pos = torch.arange(n0, n0 + width, device=dev).expand(len(group), -1)
        with torch.no_grad():
            logits = model(input_ids=ids, cache=cache, attention_mask=mask,
                           position_ids=pos).logits.float()
        lp = torch.log_softmax(logits, -1)
        first = enc.logp.expand(len(group), -1)
        for r, c in enumerate(group):
            bits = -float(first[r, c[0]]) / LN2
            if len(c) > 1:
                idx = torch.tensor(c[1:], device=dev)
                bits -= float(lp[r, :len(c) - 1].gather(-1, idx[:, None]).sum()) / LN2
            out_bits.append(bits)
    return out_bits
