"""Flags several commands share, declared once: their types check values before any work starts."""
from __future__ import annotations

import math

import click

from ksynth.dsl.interp import DEFAULT_MAX_LEN, DEFAULT_MAX_WORK

DEFAULT_TIMEOUT_S = 10.0       # wall seconds one program may run in `run` / `score`


class Seconds(click.ParamType):
    """A finite, positive number of seconds: nan and inf would silently remove a time limit."""

    name = "seconds"

    def convert(self, value, param, ctx):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            seconds = float(value)
        else:
            try:
                seconds = float(str(value).strip())
            except ValueError:
                self.fail(f"{value!r} is not a number of seconds", param, ctx)
        if not math.isfinite(seconds) or seconds <= 0:
            self.fail(f"must be a finite number of seconds > 0, got {value}", param, ctx)
        return seconds


SECONDS = Seconds()


RUN_MAX_LEN_HELP = ("Reject a program as soon as one of its lists would pass N elements (checked "
                    "before the list is built).")


def max_len_option(f, help: str = RUN_MAX_LEN_HELP):
    return click.option("--max-len", default=DEFAULT_MAX_LEN, show_default=True,
                        type=click.IntRange(min=0), metavar="N", help=help)(f)


def limit_options(f):
    """--max-len, --max-work and --timeout: the limits a program runs under in `run` / `score`."""
    f = click.option("--timeout", default=DEFAULT_TIMEOUT_S, show_default=True, type=SECONDS,
                     metavar="S", help="Reject a program still running after S wall seconds "
                                       "(checked between its lines).")(f)
    f = click.option("--max-work", default=DEFAULT_MAX_WORK, show_default=True,
                     type=click.IntRange(min=0), metavar="N",
                     help="Reject a program that would read + write more than N list elements "
                          "in all (checked before each line runs).")(f)
    return max_len_option(f)


def force_option(f):
    return click.option("-f", "--force", is_flag=True,
                        help="Replace an existing output file.")(f)
