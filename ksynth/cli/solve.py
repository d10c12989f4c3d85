"""`ksynth solve`: the shortest verified program for every sequence of a JSONL file.

Rows in: {"sequence": [...], ...} (other keys are passed through). Rows out add `index` (0-based
input row), `program` (KT text), `kt_bits`, `bits`, `verified`, `seconds`, `strategy`, and two
fingerprints: `input_sha256` (of the row's sequence as bytes) and `config_sha256` (of the search
config), so a row always says which input and which settings made it.

Rows are appended and flushed one write each as they finish (SIGINT / SIGTERM wait for the line
to be whole), so a crash loses nothing already solved. `--resume` continues such a file: a torn last line (a crash mid-write) is cut off and
redone; a row whose fingerprints do not match this input and config is refused with one line
(the file is left as it is), so a resumed file never mixes inputs or settings. `--force` starts
the file over.

Parallel: `--workers N` (a local Ray instance) or `--ray-address ADDR` (a running cluster) go
through ksynth.parallel, which keeps a job in this process unless its work (rows x budget) pays
for Ray's start-up, and says which on stderr. On Ray a row also records `node` (the Ray node id)
and `pid` (the worker process) that made it; a worker that dies mid-row has its task rerun by Ray,
and the driver writes each row once, when it arrives. Programs are the same as serial whenever
every search finishes inside its budget (a search cut by its deadline depends on the load).
A job on Ray whose strategies use an LM policy (`--policy default|PATH` with beam / mcts, or
seqcoder / sketch) on a cluster with a GPU serves the model once for all workers (search/lm_policy.py
`serving_for`: a GPU actor batching their requests) and says so, and the batch sizes it reached;
in process, and on CPUs alone, each process loads its own copy.

A sequence longer than `--max-len` is refused before any search: no single program may build it
under the limit that `ksynth run` / `score` apply (the literal fallback included).
"""
from __future__ import annotations

import functools
import hashlib
import json
import os

import click

from ksynth.cli.output import STDOUT, check_target, io_errors, write_row
from ksynth.cli.params import SECONDS, force_option, max_len_option
from ksynth.cli.rows import parse_json_line, read_sequence_rows
from ksynth.config import STRATEGIES, Budget, SearchConfig
from ksynth.errors import DataError, UsageError
from ksynth.search import REGISTRY


def input_fingerprint(sequence: list[int]) -> str:
    return hashlib.sha256(bytes(sequence)).hexdigest()


def config_fingerprint(cfg: SearchConfig, strict: bool) -> str:
    text = json.dumps({"config": cfg.to_dict(), "strict": strict}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def read_rows(path: str, max_len: int) -> list[dict]:
    """Validate every row before any search starts: one clear error naming the line."""
    rows = []
    for k, row in read_sequence_rows(path):
        if len(row["sequence"]) > max_len:
            raise DataError(f"{path} line {k}: the sequence has {len(row['sequence']):,} values, more "
                            f"than --max-len {max_len:,}; split it into rows of at most that many")
        rows.append(row)
    if not rows:
        raise DataError(f"{path}: no rows to solve (every line is blank)")
    return rows


def resume_point(path: str, rows: list[dict], config_sha: str) -> set[int]:
    """Input indices already solved in `path`, after cutting a torn last line off the file.

    Refuses (UsageError, file untouched) a row that is not JSON, names no input row of this input,
    or was made from another sequence or config.
    """
    with io_errors(path, "read"), open(path, "rb") as f:
        data = f.read()
    keep = data.rfind(b"\n") + 1                 # everything after the last newline is torn
    done = set()
    for k, raw in enumerate(data[:keep].decode("utf-8", errors="replace").splitlines(), 1):
        if not raw.strip():
            continue
        row = parse_json_line(raw, path, k)
        index = row.get("index") if isinstance(row, dict) else None
        if type(index) is not int or not 0 <= index < len(rows):
            raise UsageError(f"{path} line {k}: not a row of this input (index {index!r}, the input "
                             f"has {len(rows)} rows); use another --output, or --force to start over")
        if row.get("input_sha256") != input_fingerprint(rows[index]["sequence"]):
            raise UsageError(f"{path} line {k}: row {index} was solved for a different sequence than "
                             f"this input's; use another --output, or --force to start over")
        if row.get("config_sha256") != config_sha:
            raise UsageError(f"{path} line {k}: row {index} was solved under a different config "
                             f"(budget, strategies, objective or max-len); rerun with the same flags, "
                             f"use another --output, or --force to start over")
        done.add(index)
    if keep < len(data):
        with io_errors(path), open(path, "r+b") as f:
            f.truncate(keep)
    return done


def solve_row(item) -> dict:
    """Worker body (module level, picklable): (index, row, config dict, strict, sha) -> output row."""
    from ksynth.search.portfolio import Portfolio

    index, row, cfg, strict, config_sha = item
    res = Portfolio(SearchConfig.from_dict(cfg), strict=strict).search(row["sequence"])
    out = dict(row)
    out.update(index=index, program=res.program.format(), kt_bits=round(res.kt_bits, 4),
               bits=res.bits, verified=res.verified, seconds=round(res.seconds, 4),
               strategy=res.strategy, input_sha256=input_fingerprint(row["sequence"]),
               config_sha256=config_sha)
    return out


@click.command("solve")
@click.option("--input", "input_path", required=True, help="JSONL rows with a \"sequence\" key (- = stdin).")
@click.option("--output", "output_path", required=True,
              help="JSONL rows out, appended as they finish (- = stdout).")
@click.option("--budget", type=SECONDS, default=None,
              help=f"Wall seconds per sequence [default: {Budget().seconds}].")
@click.option("--strategies", default=None,
              help=f"Comma-separated strategies from {','.join(REGISTRY)} "
                   f"[default: {','.join(STRATEGIES)}].")
@click.option("--objective", type=click.Choice(["kt", "bits"]), default="kt", show_default=True,
              help="kt: KT prior bits (comparable with the paper); bits: ksynth's real code length.")
@click.option("--policy", default=SearchConfig().policy, show_default=True,
              help="Prior guiding the beam and mcts strategies: uniform (KT's prior, the unguided "
                   "order), pcfg (op bigram frequencies), default (the shipped LM), or a folder "
                   "holding a saved causal LM; seqcoder and sketch decode with it when it is an LM, "
                   "else with the shipped one.")
@functools.partial(max_len_option, help="Element cap of every list a program builds, the one `ksynth run` "
                  "applies: a longer sequence is refused (split it into rows of at most N).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Parallel workers (> 1: a local Ray instance, when the job pays for its start-up).")
@click.option("--ray-address", default=None, metavar="ADDR",
              help="Join this running Ray cluster (host:port) instead of starting one.")
@click.option("--resume", is_flag=True,
              help="Continue OUTPUT: skip rows already solved for this input and config.")
@force_option
def solve_cmd(input_path, output_path, budget, strategies, objective, policy, max_len, workers,
              ray_address, resume, force):
    """Find the shortest verified program for each sequence of INPUT."""
    from tqdm import tqdm

    from ksynth.parallel import Parallel, log_stderr
    from ksynth.search.lm_policy import serving_for

    if resume and force:
        raise UsageError("--resume continues OUTPUT and --force starts it over: pass one of them")
    if resume and output_path == STDOUT:
        raise UsageError("--resume needs an --output file, not stdout")
    check_target(output_path, "--output", force, existing_ok=resume,
                 exists_hint="pass --resume to continue it or --force to start over")
    rows = read_rows(input_path, max_len)
    kwargs = {"objective": objective, "max_len": max_len, "policy": policy}
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
    config_sha = config_fingerprint(cfg, strict)
    skip = resume_point(output_path, rows, config_sha) if resume and os.path.exists(output_path) else set()
    items = [(i, row, cfg.to_dict(), strict, config_sha) for i, row in enumerate(rows) if i not in skip]
    if not items:
        click.echo(f"ksynth: all {len(rows)} rows of {input_path} are already in {output_path}; "
                   f"nothing to do", err=True)
        return
    backend = "ray" if (workers > 1 or ray_address) and len(items) > 1 else "serial"
    item_s = cfg.budget.seconds or 1.0
    with _open_rows(output_path, resume) as out, \
            tqdm(total=len(items), desc="solve", unit="seq", disable=None) as bar, \
            Parallel(backend, workers, ray_address, log=log_stderr) as par:
        # the budget bounds each row's search: the rule decides from it, before any row runs;
        # on Ray with a GPU, an LM policy is served once (a GPU actor) for every worker
        par.decide(len(items), item_s)
        with serving_for(par, [cfg], log_stderr) as wrap:
            for _, row, where in par.imap_where(wrap(solve_row), items, item_seconds=item_s):
                if where is not None:
                    row.update(where)
                write_row(out, json.dumps(row), output_path)
                bar.update(1)


def _open_rows(path: str, resume: bool):
    """The row log: stdout for "-", else the file, appended (resume) or started over."""
    import contextlib
    import sys

    if path == STDOUT:
        return contextlib.nullcontext(sys.stdout)
    with io_errors(path):
        return open(path, "a" if resume else "w", encoding="utf-8")


COMMANDS = [solve_cmd]
