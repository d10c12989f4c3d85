"""The `ksynth` command: a thin layer from flags to the API. User mistakes become one line, exit 2.

Commands live beside their surface (cli_dsl.py, ...) so each stays a short page; this file only
assembles the group and owns the error convention.
"""
from __future__ import annotations

import sys

import click

from ksynth.errors import KsynthError


class _Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KsynthError as e:
            click.echo(f"ksynth: error: {e}", err=True)
            sys.exit(e.exit_code)
        except BrokenPipeError:
            sys.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ksynth")
def main():
    """ksynth: find the shortest KT-DSL program that reproduces a byte sequence."""


def _register():
    from ksynth import cli_dsl

    for cmd in cli_dsl.COMMANDS:
        main.add_command(cmd)
    from ksynth import cli_bench
    for cmd in cli_bench.COMMANDS:
        main.add_command(cmd)
    from ksynth import cli_search
    for cmd in cli_search.COMMANDS:
        main.add_command(cmd)
    from ksynth import cli_demo
    for cmd in cli_demo.COMMANDS:
        main.add_command(cmd)


_register()
