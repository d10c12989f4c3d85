"""Grammar-constrained decoding and scoring with the policy LM, batched across targets (torch
imported by the caller's use).

    enc = encode_target(model, target)                    # one forward pass over the prompt: KV cache
    encs = encode_many(model, targets)                    # the same for many: one right-padded pass
    samples = decode(model, enc, k=16, greedy=False)      # [(Program | None, log2 p)] per sample
    progs = decode_beam(model, enc, width=8)              # [(Program, log2 p)], most probable first
    bits = score(model, enc, [tokens, ...])               # -log2 p of completions, batched
    run(model, [Draw(model, enc1), Draw(model, enc2, k=15, greedy=False), Beam(model, enc3, 8)])
    score_many(model, [(enc1, [tokens, ...]), (enc2, [...])])

Every sampled token is drawn from the tokens that `ksynth.lm.tokens.allowed` admits after the
prefix, so every finished sample parses into a Program (a sample that runs out of tokens is None).

One engine. `run` advances any number of jobs (Draw: greedy or sampled rows; Beam: a token-level
beam) in shared step loops (jobs sorted by prompt length, at most DECODE_ROWS rows a loop): each
step is one forward pass over the live rows of every job of the loop, and each job then chooses
its own rows' next tokens; finished rows leave the batch as they end. `decode`
and `decode_beam` are `run` with one job, so a job's answer is the same alone or batched, up to
float rounding. Rows of different targets have prompts of different lengths: their caches are
right-padded to the longest (zero keys and values that the attention mask hides) and every row
carries its own position ids (its prompt length + tokens so far), which keeps its logits equal to
the unbatched ones within ~1e-6 (measured). A sampling job draws from its own seeded generator in
the same shapes as alone (one multinomial over its live rows per step), so its samples do not
depend on its batch mates. With one prompt length in the batch (one job) no mask is passed at all.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ksynth.errors import ProgramError
from ksynth.lm import tokens as T

MAX_PROGRAM_TOKENS = 256        # a longer completion is abandoned (KT programs: ~34 tokens mean)
PROMPT_SLACK = 8                # tokens a prompt leaves free in the context, at least
PROMPT_ROWS = 64                # prompts per forward pass of encode_many
SCORE_ROWS = 64                 # completions per forward pass of score / score_many
# rows per step loop of `run`, by device: on CPU a step costs ~rows x cached length (the cache
# grows by concatenation), and 32 greedy rows of prompts sorted by length ran 2.9x faster per
# target than one at a time, 64 rows only 2.4x (63 draws, shipped model, one thread); a GPU's
# fixed cost per forward pass dominates far further (256: a guess, unmeasured here)
DECODE_ROWS = {"cpu": 32, "cuda": 256}
LN2 = math.log(2.0)


@dataclass
class Encoded:
    """A target's prompt run once: per layer (keys, values), each (1, heads, len(prompt), head
    size), and the next-token log-probs (1, V). Never changed by decoding (steps make new tensors)."""

    prompt: list
    cache: tuple
    logp: object


def encode_target(model, target) -> Encoded | None:
    """The prompt's KV cache; None when the prompt does not fit the model's context."""
    return encode_many(model, [target])[0]


def encode_many(model, targets, rows: int = PROMPT_ROWS) -> list[Encoded | None]:
    """encode_target of every target, `rows` prompts per forward pass (sorted by length, so that
    a pass pads little)."""
    import torch

    prompts = [T.sequence_tokens(t) for t in targets]
    ctx = _context(model)
    out: list[Encoded | None] = [None] * len(prompts)
    fit = sorted((i for i, p in enumerate(prompts) if len(p) + PROMPT_SLACK <= ctx),
                 key=lambda i: len(prompts[i]))
    dev = next(model.parameters()).device
    with torch.no_grad():
        for a in range(0, len(fit), rows):
            idx = fit[a:a + rows]
            lens = [len(prompts[i]) for i in idx]
            ids = torch.full((len(idx), max(lens)), T.PAD, dtype=torch.long, device=dev)
            for r, i in enumerate(idx):
                ids[r, :lens[r]] = torch.tensor(prompts[i], device=dev)
            extra = {}
            if len(set(lens)) > 1:          # right padding: causal attention keeps it after the prompt
                extra["attention_mask"] = (torch.arange(max(lens), device=dev)[None, :]
                                           < torch.tensor(lens, device=dev)[:, None]).long()
            res = model(input_ids=ids, use_cache=True, **extra)
            layers = _cache_of(res).layers
            for r, (i, n) in enumerate(zip(idx, lens)):
                kv = tuple((layer.keys[r:r + 1, :, :n].clone(), layer.values[r:r + 1, :, :n].clone())
                           for layer in layers)
                out[i] = Encoded(prompts[i], kv, torch.log_softmax(res.logits[r:r + 1, n - 1].float(), -1))
    return out


def _cache_of(out):
    # transformers 5.x names the cache `cache` (`past_key_values` before, now deprecated)
    return out.cache if "cache" in out else out.past_key_values


def _context(model) -> int:
    cfg = model.config
    return getattr(cfg, "n_positions", None) or getattr(cfg, "max_position_embeddings", 512)


def _merge(items: list[tuple[Encoded, int]]):
    """One batch of rows from (prompt, rows) items: the KV cache (a transformers DynamicCache),
    the padding mask over the cached positions (None when every prompt has the same length) and
    each row's next position (its prompt length)."""
    import torch
    import torch.nn.functional as F
    from transformers import DynamicCache

    lens = [len(e.prompt) for e, _ in items]
    width = max(lens)
    dev = items[0][0].logp.device
    layers = []
    for layer in range(len(items[0][0].cache)):
        ks, vs = [], []
        for (e, n), m in zip(items, lens):
            k, v = e.cache[layer]
            if m < width:                        # zero keys / values, hidden by the mask
                k, v = F.pad(k, (0, 0, 0, width - m)), F.pad(v, (0, 0, 0, width - m))
            ks.append(k.expand(n, -1, -1, -1))
            vs.append(v.expand(n, -1, -1, -1))
        layers.append((torch.cat(ks), torch.cat(vs)))
    per_row = torch.tensor([m for (_, n), m in zip(items, lens) for _ in range(n)], device=dev)
    mask = None
    if len(set(lens)) > 1:
        mask = (torch.arange(width, device=dev)[None, :] < per_row[:, None]).long()
    return DynamicCache(layers), mask, per_row


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


class _Job:
    """What `run` needs of a job: its prompt, its first rows, a token budget and a deadline."""

    rows0 = 1                                     # rows at the first step
    width = 1                                     # most rows at any step

    def __init__(self, model, enc: Encoded, max_tokens: int | None, deadline: float | None):
        self.enc, self.deadline, self.steps = enc, deadline, 0
        self.budget = min(max_tokens or MAX_PROGRAM_TOKENS, _context(model) - len(enc.prompt) - 1)

    def open(self) -> bool:
        """It may choose another token (within its budget and before its deadline)."""
        import time

        return self.steps < self.budget and (self.deadline is None or time.monotonic() <= self.deadline)


class Draw(_Job):
    """k completions of one prompt: greedy (argmax; greedy rows are identical, so one row) or
    sampled at `temperature` from the job's own generator seeded with `seed` (a CPU generator, so
    the samples do not depend on the device, up to float rounding). Given `op_ids` (the op tokens)
    it keeps the distribution over ops (`op_probs`) at the first step and at every later step that
    chose an op: the distributions at the line starts of its answer (recognition, service.py)."""

    def __init__(self, model, enc: Encoded, k: int = 1, greedy: bool = True, temperature: float = 1.0,
                 seed: int = 0, max_tokens: int | None = None, deadline: float | None = None,
                 op_ids=None):
        super().__init__(model, enc, max_tokens, deadline)
        self.k = self.rows0 = self.width = 1 if greedy else k
        self.greedy, self.temperature, self.seed = greedy, temperature, seed
        self.gen = None
        self.live = list(range(self.k))           # original row of each live batch row
        self.states = [T.GrammarState() for _ in range(self.k)]
        self.toks: list[list[int]] = [[] for _ in range(self.k)]
        self.total = [0.0] * self.k
        self.finished = [False] * self.k
        self.op_ids, self.op_probs = op_ids, []

    def step(self, logp, masks) -> list[tuple[int, int]]:
        """(live row, token) of every row that goes on; logp (live rows, V)."""
        import torch

        masked = logp + torch.stack([masks.get(self.states[r]) for r in self.live])
        if self.greedy:
            nxt = masked.argmax(-1)
        else:
            if self.gen is None:
                # on the CPU whatever the model's device: a seed draws the same samples from a
                # model served on a GPU as from one in a search worker's process
                self.gen = torch.Generator().manual_seed(self.seed)
            probs = torch.softmax(masked / self.temperature, -1)
            nxt = torch.multinomial(probs.cpu(), 1, generator=self.gen).squeeze(-1).to(logp.device)
        chosen = torch.log_softmax(masked, -1).gather(-1, nxt[:, None]).squeeze(-1).tolist()
        nxt = nxt.tolist()                        # one transfer per step, not one per row (GPU)
        if self.op_ids is not None and (self.steps == 0 or nxt[0] in T.TOKEN_OP):
            self.op_probs.append(torch.softmax(logp[0, self.op_ids], -1))
        self.steps += 1
        going = []
        for j, r in enumerate(self.live):
            t = nxt[j]
            self.toks[r].append(t)
            self.total[r] += chosen[j] / LN2
            self.states[r] = T.advance(self.states[r], t)
            if self.states[r].done:
                self.finished[r] = True
            else:
                going.append((j, t))
        self.live = [self.live[j] for j, _ in going]
        return going

    def results(self) -> list[tuple]:
        """[(Program or None, log2 p of its tokens)], one per row."""
        out = []
        for r in range(self.k):
            prog = None
            if self.finished[r]:
                try:
                    prog = T.parse_tokens(self.toks[r])
                except ProgramError:       # grammar admits it, so this is a bug; keep going
                    prog = None
            out.append((prog, self.total[r]))
        return out


class Beam(_Job):
    """Token-level beam search under the grammar: each step keeps the `width` best (hypothesis,
    token) extensions; it stops once the best finished program beats every live hypothesis
    (log-probabilities only fall), once `width` have finished, at the deadline, or after the
    token budget."""

    def __init__(self, model, enc: Encoded, width: int = 16, max_tokens: int | None = None,
                 deadline: float | None = None):
        super().__init__(model, enc, max_tokens, deadline)
        self.width = width                             # also its most rows at once
        self.hyps = [([], T.GrammarState(), 0.0)]        # (tokens, grammar state, ln p)
        self.finished: list[tuple[list, float]] = []

    def step(self, logp, masks) -> list[tuple[int, int]]:
        import torch

        self.steps += 1
        masked = torch.log_softmax(logp + torch.stack([masks.get(h[1]) for h in self.hyps]), -1)
        total = masked + torch.tensor([h[2] for h in self.hyps], device=logp.device)[:, None]
        top = torch.topk(total.flatten(), min(self.width, int(torch.isfinite(total).sum())))
        vocab = total.shape[-1]
        live, going = [], []
        for v, idx in zip(top.values.tolist(), top.indices.tolist()):
            h, t = divmod(idx, vocab)
            toks, state = self.hyps[h][0] + [t], T.advance(self.hyps[h][1], t)
            if state.done:
                self.finished.append((toks, v))
            else:
                live.append((toks, state, v))
                going.append((h, t))
        best_done = max((f[1] for f in self.finished), default=-math.inf)
        if not live or len(self.finished) >= self.width or best_done >= max(h[2] for h in live):
            live, going = [], []
        self.hyps = live
        return going

    def results(self) -> list[tuple]:
        out = []
        for toks, v in sorted(self.finished, key=lambda f: -f[1])[:self.width]:
            try:
                out.append((T.parse_tokens(toks), v / LN2))
            except ProgramError:
                continue
        return out


def run(model, jobs: list, rows: int | None = None) -> None:
    """Advance every job to its end (module doc); read each job's `results()`. Jobs are sorted by
    prompt length (little padding) and run in step loops of at most `rows` rows (DECODE_ROWS of
    the model's device); a job wider than that runs alone."""
    if not jobs:
        return
    dev = jobs[0].enc.logp.device
    rows = rows or DECODE_ROWS.get(dev.type, DECODE_ROWS["cpu"])
    group: list = []
    for job in sorted(jobs, key=lambda j: len(j.enc.prompt)):
        if group and sum(j.width for j in group) + job.width > rows:
            _loop(model, group)
            group = []
        group.append(job)
    _loop(model, group)


def _loop(model, jobs: list) -> None:
    """One step loop: one forward pass per token step over the live rows of every job."""
    import torch

    dev = jobs[0].enc.logp.device
    masks = _Masks(jobs[0].enc.logp.shape[-1], dev)
    cache, mask, pos = _merge([(j.enc, j.rows0) for j in jobs])
    logp = torch.cat([j.enc.logp.expand(j.rows0, -1) for j in jobs])
    count = [j.rows0 for j in jobs]               # live rows per job, contiguous in job order
    with torch.no_grad():
        while True:
            parents, tokens, a = [], [], 0
            for i, job in enumerate(jobs):
                n = count[i]
                going = job.step(logp[a:a + n], masks) if n and job.open() else []
                parents += [a + j for j, _ in going]
                tokens += [t for _, t in going]
                count[i] = len(going)
                a += n
            if not parents:
                break
            if parents != list(range(len(logp))):
                idx = torch.tensor(parents, device=dev)
                cache.batch_select_indices(idx)
                pos = pos[idx]
                mask = mask[idx] if mask is not None else None
            extra = {}
            if mask is not None:
                mask = torch.cat([mask, mask.new_ones((len(parents), 1))], 1)
                extra = {"attention_mask": mask, "position_ids": pos[:, None]}
            out = model(input_ids=torch.tensor(tokens, device=dev)[:, None], cache=cache,
                        use_cache=True, **extra)
            cache = _cache_of(out)
            pos = pos + 1
            logp = torch.log_softmax(out.logits[:, -1].float(), -1)


def decode(model, enc: Encoded, k: int = 1, greedy: bool = True, temperature: float = 1.0,
           seed: int = 0, max_tokens: int | None = None,
           deadline: float | None = None) -> list[tuple]:
    """k completions of the cached prompt: [(Program or None, log2 p of its tokens)]. Greedy rows
    are identical, so greedy decoding always runs one row. Past `deadline` (time.monotonic())
    decoding stops and unfinished rows are None."""
    job = Draw(model, enc, k, greedy, temperature, seed, max_tokens, deadline)
    run(model, [job])
    return job.results()


def decode_beam(model, enc: Encoded, width: int = 16, max_tokens: int | None = None,
                deadline: float | None = None) -> list[tuple]:
    """Token-level beam search (Beam): up to `width` finished programs, most probable first,
    [(Program, log2 p)]."""
    job = Beam(model, enc, width, max_tokens, deadline)
    run(model, [job])
    return job.results()


def score(model, enc: Encoded, completions: list[list[int]], batch: int = SCORE_ROWS) -> list[float]:
    """-log2 p(completion | prompt) for each token list, on top of the cached prompt."""
    return score_many(model, [(enc, completions)], batch)[0]


def score_many(model, pairs: list[tuple[Encoded, list[list[int]]]],
               rows: int = SCORE_ROWS) -> list[list[float]]:
    """score() of every (prompt, completions) pair, `rows` completions per forward pass whatever
    their prompts. Completions are right-padded: causal attention keeps padding from touching the
    real tokens before it."""
    import torch

    flat = [(e, c) for e, comps in pairs for c in comps]
    ctx = _context(model)
    bits: list[float] = []
    for a in range(0, len(flat), rows):
        group = flat[a:a + rows]
        if any(len(e.prompt) + len(c) > ctx for e, c in group):
            raise ValueError("a completion runs past the model's context")
        items: list[list] = []                  # runs of one prompt: [Encoded, rows]
        for e, _ in group:
            if items and items[-1][0] is e:
                items[-1][1] += 1
            else:
                items.append([e, 1])
        cache, mask, pos = _merge(items)
        dev = pos.device
        width = max(len(c) for _, c in group)
        ids = torch.full((len(group), width), T.PAD, dtype=torch.long, device=dev)
        for r, (_, c) in enumerate(group):
            ids[r, :len(c)] = torch.tensor(c, device=dev)
        ones = torch.ones((len(group), width), dtype=torch.long, device=dev)
        if mask is None:
            mask = torch.ones((len(group), cache.get_seq_length()), dtype=torch.long, device=dev)
        positions = pos[:, None] + torch.arange(width, device=dev)[None, :]
        with torch.no_grad():
            logits = model(input_ids=ids, cache=cache, attention_mask=torch.cat([mask, ones], 1),
                           position_ids=positions).logits.float()
        lp = torch.log_softmax(logits, -1)
        # ln p of each completion's tokens: the first from its prompt's cached distribution, the
        # rest from the pass; read back in one transfer
        first = torch.cat([e.logp[:, c[0]] for e, c in group])
        later = lp[:, :-1].gather(-1, ids[:, 1:, None]).squeeze(-1)
        real = torch.arange(width - 1, device=dev)[None, :] < \
            torch.tensor([len(c) - 1 for _, c in group], device=dev)[:, None]
        total = first + torch.where(real, later, torch.zeros_like(later)).sum(-1)
        bits += [-v / LN2 for v in total.tolist()]
    out, k = [], 0
    for _, comps in pairs:
        out.append(bits[k:k + len(comps)])
        k += len(comps)
    return out
