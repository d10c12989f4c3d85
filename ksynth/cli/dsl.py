"""DSL commands: `ksynth run` (execute a program), `ksynth sample` (KT synthetic pairs as JSONL),
`ksynth score` (official KT scores of a JSONL of sequences and optional programs).

`run` and `score` execute programs a user hands them, so both run under declared limits checked
before the work (params.limit_options): a list's length, the program's total work and its wall time.
"""
from __future__ import annotations

import json
import sys

import click

from ksynth.cli.output import atomic_text, check_target, echo, io_errors
from ksynth.cli.params import force_option, limit_options
from ksynth.cli.rows import read_sequence_rows, read_text
from ksynth.dsl.interp import run as run_program
from ksynth.dsl.program import Program
from ksynth.errors import DataError, ProgramError

PROGRESS_MIN = 1000          # show a progress bar (stderr, TTY only) from this many samples


@click.command("run")
@click.argument("program_file")
@limit_options
def run_cmd(program_file, max_len, max_work, timeout):
    """Execute a KT program (a file, or - for stdin) and print its output as a JSON list."""
    program = Program.parse(read_text(program_file))
    echo(json.dumps(run_program(program, max_len, max_work=max_work, seconds=timeout)))


@click.command("sample")
@click.option("--n", "n", required=True, type=click.IntRange(min=1, max=10**7), help="Number of samples.")
@click.option("--seed", default=0, show_default=True, type=int, help="Random seed.")
@click.option("--output", required=True, metavar="FILE",
              help="JSONL file to write, atomically (- = stdout).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Draw blocks of 16,384 on a local Ray instance when N is large enough to pay for "
                   "it; the file is the same for any number of workers.")
@click.option("--ray-address", default=None, metavar="ADDR", help="Join this running Ray cluster instead.")
@force_option
def sample_cmd(n, seed, output, workers, ray_address, force):
    """Draw N (sequence, program) pairs from the KT synthetic distribution."""
    import math

    from tqdm import tqdm

    from ksynth.dsl.sample import OVERSAMPLE, sample
    from ksynth.parallel import Parallel, log_stderr

    check_target(output, "--output", force)          # before the sampling, not after
    bar = tqdm(total=math.ceil(OVERSAMPLE * n), unit="draw", file=sys.stderr,
               disable=True if n < PROGRESS_MIN else None)    # None: only on a TTY
    backend = "ray" if workers > 1 or ray_address else "serial"
    with bar, Parallel(backend, workers, ray_address, log=log_stderr) as par:
        samples = sample(n, seed, progress=bar.update, parallel=par if backend == "ray" else None)
    with atomic_text(output, "--output") as f, io_errors(output):
        for s in samples:
            row = {"sequence": s.sequence, "program": s.program.format(), "kt_bits": s.kt_bits}
            f.write(json.dumps(row) + "\n")


def _read_rows(path: str):
    """(jsonl line number, sequence, program text or None) per non-blank line."""
    rows = []
    for k, row in read_sequence_rows(path):
        program = row.get("program")
        if program is not None and not isinstance(program, str):
            raise DataError(f"{path} line {k}: 'program' must be KT program text or null")
        rows.append((k, row["sequence"], program))
    if not rows:
        raise DataError(f"{path}: no rows to score")
    return rows


@click.command("score")
@click.option("--input", "input_path", required=True, help="JSONL rows: sequence, optional program (- = stdin).")
@limit_options
def score_cmd(input_path, max_len, max_work, timeout):
    """Official KT scores (accuracy, precision, pooled compression rates) as one JSON object.

    A program counts as correct only if the interpreter reproduces its sequence exactly, under
    the limits below (each program on its own). A program that does not parse or is rejected by
    the interpreter is an input error (exit 2).
    """
    from ksynth.bench.metrics import score

    pairs, correct = [], []
    for k, seq, text in _read_rows(input_path):
        program = None
        if text is not None and text.strip():
            try:
                program = Program.parse(text)
                out = run_program(program, max_len, max_work=max_work, seconds=timeout)
            except ProgramError as e:       # ExecError included; e names the program line
                where = "program " if e.line is not None else "program: "
                raise type(e)(f"{input_path} line {k}: {where}{e}") from None
            if out != seq:
                program = None
        pairs.append((seq, program))
        correct.append(program is not None)
    result = score(pairs, correct=correct, max_len=max_len).to_dict()
    keys = ("n", "accuracy", "precision", "compression_rate", "compression_rate_raw", "gzip_rate",
            "correct", "compression_rate_choice", "gzip_rate_raw", "input_bits")
    echo(json.dumps({key: result[key] for key in keys}))


COMMANDS = [run_cmd, sample_cmd, score_cmd]
