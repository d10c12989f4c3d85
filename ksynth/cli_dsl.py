"""DSL commands: `ksynth run` (execute a program)."""
from __future__ import annotations

import json
import sys

import click

from ksynth.dsl.interp import DEFAULT_MAX_LEN, run as run_program
from ksynth.dsl.program import Program
from ksynth.errors import UsageError


def _read_text(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}") from None


@click.command("run")
@click.argument("program_file")
@click.option("--max-len", default=DEFAULT_MAX_LEN, show_default=True, type=click.IntRange(min=0),
              help="Reject programs whose lists grow past this many elements.")
def run_cmd(program_file, max_len):
    """Execute a KT program (a file, or - for stdin) and print its output as a JSON list."""
    program = Program.parse(_read_text(program_file))
    click.echo(json.dumps(run_program(program, max_len)))


COMMANDS = [run_cmd]
