"""`ksynth solve`: the shortest verified program for every sequence of a JSONL file.

Rows in: {"sequence": [...], ...} (other keys are passed through). Rows out add `index` (0-based
input row), `program` (KT text), `kt_bits`, `bits`, `verified`, `seconds`, `strategy`. Rows are
appended and flushed as they finish, so a crash loses nothing already solved; `--resume` skips the
input rows whose index is already in OUT.
"""
from __future__ import annotations

import json
import os

import click

from ksynth.config import STRATEGIES, Budget, SearchConfig
from ksynth.errors import UsageError
from ksynth.cli.rows import read_sequence_rows


def read_rows(path: str) -> list[dict]:
    """Validate every row before any search starts: one clear error naming the line."""
    return [row for _, row in read_sequence_rows(path)]


def done_indices(path: str) -> set[int]:
    """Input indices already present in an output file (a torn last line is ignored)."""
    done = set()
    if not os.path.exists(path):
        return done
    with open(path, encoding="utf-8") as f:
        for text in f:
            try:
                row = json.loads(text)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict) and isinstance(row.get("index"), int):
                done.add(row["index"])
    return done


def solve_row(item) -> dict:
    """Worker body (module level, picklable): (index, row, config dict) -> output row."""
    from ksynth.search.portfolio import Portfolio

    index, row, cfg, strict = item
    res = Portfolio(SearchConfig.from_dict(cfg), strict=strict).search(row["sequence"])
    out = dict(row)
    out.update(index=index, program=res.program.format(), kt_bits=round(res.kt_bits, 4),
               bits=res.bits, verified=res.verified, seconds=round(res.seconds, 4),
               strategy=res.strategy)
    return out


@click.command("solve")
@click.option("--input", "input_path", required=True, help="JSONL rows with a \"sequence\" key.")
@click.option("--output", "output_path", required=True, help="JSONL rows out (appended).")
@click.option("--budget", type=click.FloatRange(min=0, min_open=True), default=None,
              help=f"Wall seconds per sequence [default: {Budget().seconds}].")
@click.option("--strategies", default=None,
              help=f"Comma-separated subset of {','.join(STRATEGIES)} [default: all].")
@click.option("--objective", type=click.Choice(["kt", "bits"]), default="kt", show_default=True,
              help="kt: KT prior bits (comparable with the paper); bits: ksynth's real code length.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Parallel workers (> 1 uses Ray through ksynth.parallel).")
@click.option("--resume", is_flag=True, help="Skip input rows already present in OUTPUT.")
def solve_cmd(input_path, output_path, budget, strategies, objective, workers, resume):
    """Find the shortest verified program for each sequence of INPUT."""
    from tqdm import tqdm

    from ksynth.parallel import Parallel

    rows = read_rows(input_path)
    kwargs = {"objective": objective}
    strict = False
    if strategies is not None:
        kwargs["strategies"] = tuple(s.strip() for s in strategies.split(",") if s.strip())
        strict = True
    if budget is not None:
        kwargs["budget"] = Budget(seconds=budget)
    cfg = SearchConfig(**kwargs)                     # validates names before any search
    if strict:
        from ksynth.search.portfolio import Portfolio

        Portfolio(cfg, strict=True)                  # a missing strategy fails here, not per row
    skip = done_indices(output_path) if resume else set()
    if not resume and os.path.exists(output_path) and os.path.getsize(output_path) > 0:
        raise UsageError(f"{output_path} exists; pass --resume to continue it or remove it")
    items = [(i, row, cfg.to_dict(), strict) for i, row in enumerate(rows) if i not in skip]
    backend = "ray" if workers > 1 and len(items) > 1 else "serial"
    with open(output_path, "a", encoding="utf-8") as out, \
            tqdm(total=len(items), desc="solve", unit="seq", disable=None) as bar, \
            Parallel(backend, workers) as par:
        for _, row in par.imap(solve_row, items):
            out.write(json.dumps(row) + "\n")
            out.flush()
            bar.update(1)


COMMANDS = [solve_cmd]
