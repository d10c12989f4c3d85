"""Training pairs (sequence, program) from the KT generator (ksynth.dsl.sample), at scale.

    examples = make(300_000, workers=2)          # list[Example], deterministic for (n, stream)
    write(examples, "train.jsonl"); read("train.jsonl")

- Streams are named: chunk c of stream "train" draws from random.Random("ksynth-lm-train-c"),
  a string seed, so no chunk can ever coincide with an integer seed used for evaluation;
  on top of that every sequence of the evaluation sets (`EVAL_SEEDS`, 1,000 draws each through
  `sample(n, seed)`, the way every experiment draws them) is excluded outright.
- Deduplicated on the sequence, keeping the shortest program text (the generator's own rule).
- Dead lines pruned (the generator prunes; `Program.pruned` is applied again to be sure).
- Rare ops (two-list ops, scan_add, filter, max_n / min_n) oversampled: a draw without one is
  kept with probability 1 / RARE_BOOST, so their share rises about RARE_BOOST-fold (3.4% of
  natural draws use a two-list op or scan_add, ENV-NOTES).
- Canonicalisation by ksynth's own cheaper program is NOT done at this scale: a search costs
  ~0.5 s per sequence (README), i.e. ~40 CPU-hours for 300 k pairs. `canonicalise()` runs the
  cheap polish pass (line order / flattening / merged literals) where a caller can afford it.
- Examples longer than MAX_TOKENS tokens are dropped (about 3% of draws, mostly long literals):
  the model's context is 512 and long prompts dominate training cost.
Chunks run through ksynth.parallel: serial by default; Ray pays only when several cores are free
(a chunk of CHUNK draws is ~0.2 s of work, well above Ray's per-task overhead).
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from ksynth.dsl.program import Program
from ksynth.dsl.sample import sample, sample_one
from ksynth.lm.tokens import example_tokens

EVAL_SEEDS = (0, 1, 2024, 12345, 31337, 4242, 777)   # bench (0, 1), experiments, this fresh sets
EVAL_DRAWS = 1000                 # draws per evaluation seed excluded from training
RARE_OPS = frozenset({"add_two_lists", "subtract_two_lists", "modulo_two_lists", "scan_add",
                      "filter", "max_n", "min_n"})
RARE_BOOST = 4                    # a draw without a rare op is kept with p = 1 / RARE_BOOST
MAX_TOKENS = 320                  # prompt + completion
CHUNK = 1000                      # draws per work item


@dataclass(frozen=True)
class Example:
    sequence: tuple
    program: Program

    def tokens(self) -> tuple[list[int], int]:
        return example_tokens(self.sequence, self.program)


def eval_sequences(seeds=EVAL_SEEDS, n: int = EVAL_DRAWS) -> frozenset:
    """Every sequence of the evaluation sets, as tuples."""
    out = set()
    for seed in seeds:
        out.update(tuple(s.sequence) for s in sample(n, seed))
    return frozenset(out)


def _chunk(item) -> list[tuple[tuple, str]]:
    stream, c, boost = item
    rng = random.Random(f"ksynth-lm-{stream}-{c}")
    out = []
    for _ in range(CHUNK):
        s = sample_one(rng)
        rare = bool(s.program.ops_used() & RARE_OPS)
        if boost > 1 and not rare and rng.random() >= 1.0 / boost:
            continue
        out.append((tuple(s.sequence), s.program.pruned().format()))
    return out


def make(n: int, stream: str = "train", boost: int = RARE_BOOST, workers: int = 1,
         exclude: frozenset | None = None, max_tokens: int = MAX_TOKENS,
         progress=None) -> list[Example]:
    """n distinct examples (fewer only if the stream runs dry, which it does not at these sizes)."""
    from ksynth.parallel import pmap

    exclude = eval_sequences() if exclude is None else exclude
    best: dict[tuple, str] = {}
    c = 0
    while len(best) < n:
        # draw in rounds of chunks, enough for what is still missing (+10% for duplicates)
        per_chunk = CHUNK / (boost if boost > 1 else 1) * 1.5
        k = max(1, int((n - len(best)) * 1.1 / per_chunk) + 1)
        items = [(stream, c + j, boost) for j in range(k)]
        c += k
        chunks = pmap(_chunk, items, backend="ray" if workers > 1 else "serial",
                      workers=workers if workers > 1 else None)
        for chunk in chunks:
            for seq, text in chunk:
                if seq in exclude:
                    continue
                old = best.get(seq)
                if old is None or len(text) < len(old):
                    best[seq] = text
        if progress:
            progress(len(best))
    out = []
    for seq, text in best.items():
        ex = Example(seq, Program.parse(text))
        if len(ex.tokens()[0]) <= max_tokens:
            out.append(ex)
        if len(out) >= n:
            break
    return out


def canonicalise(ex: Example, objective: str = "kt") -> Example:
    """The example with ksynth's polish pass applied to its program when that is cheaper and still
    verified (ms per program: affordable for evaluation sets, not for a million pairs)."""
    from ksynth.dsl import executor
    from ksynth.search.objective import program_cost
    from ksynth.search.polish import polish

    better = polish(ex.program, list(ex.sequence), objective, 1 << 16)
    if program_cost(better, objective) < program_cost(ex.program, objective) - 1e-9 and \
            executor.matches([better], list(ex.sequence))[0]:
        return Example(ex.sequence, better)
    return ex


def write(examples, path) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for ex in examples:
            f.write(json.dumps({"sequence": list(ex.sequence), "program": ex.program.format()}) + "\n")


def read(path) -> list[Example]:
    out = []
    with open(Path(path), encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            out.append(Example(tuple(row["sequence"]), Program.parse(row["program"])))
    return out
