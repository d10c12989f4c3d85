"""The `ksynth` command: a thin layer from flags to the API. User mistakes become one line, exit 2.

One module per command group (dsl.py: run/sample/score, solve.py, bench.py, demo.py), each with
its input parsing beside it (rows.py reads JSONL rows); this file owns the group, the error
convention and the one registration list below.
"""
from __future__ import annotations

import importlib
import sys

import click

from ksynth.errors import KsynthError

# command-group modules, each exporting COMMANDS; the order is the order of `ksynth --help`
COMMAND_MODULES = ("compress", "dsl", "solve", "bench", "demo")


class _Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KsynthError as e:
            click.echo(f"ksynth: error: {e}", err=True)
            sys.exit(e.exit_code)
        except BrokenPipeError:
            sys.exit(1)

    def parse_args(self, ctx, args):
        if args and args[0] in ("-d", "--decompress"):     # `ksynth -d FILE.ksz`, as gzip -d
            args = ["decompress", *args[1:]]
        return super().parse_args(ctx, args)

    def list_commands(self, ctx):
        return list(self.commands)          # registration order, not alphabetical


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ksynth")
def main():
    """ksynth: find the shortest KT-DSL program that reproduces a byte sequence."""


for _name in COMMAND_MODULES:
    for _cmd in importlib.import_module(f"ksynth.cli.{_name}").COMMANDS:
        main.add_command(_cmd)
