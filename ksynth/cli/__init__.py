"""The `ksynth` command: a thin layer from flags to the API, with one error policy.

Every error a user can cause ends as ONE line on stderr, `ksynth: error: ...`, naming the file,
line or flag, and an exit code: 2 for bad input (a flag, a program, a row, a path of the wrong
kind), 1 for a failure the system reports (permission, a full disk, out of memory), 130 for
Ctrl-C (SIGINT), 143 for SIGTERM. SIGTERM takes the same path as Ctrl-C: the command unwinds,
so files are closed between rows and a Ray instance it started is shut down. `ksynth --debug CMD` or KSYNTH_DEBUG=1 shows the traceback instead. Anything else is a
bug in ksynth and says so in one line, pointing at --debug.

One module per command group (compress.py: compress/decompress/explain/list, dsl.py:
run/sample/score, solve.py, bench.py, demo.py), each with
its input parsing beside it (rows.py reads JSONL rows, output.py owns every output path,
params.py the shared flags); this file owns the group, the error policy and the one
registration list below.
"""
from __future__ import annotations

import importlib
import os
import signal
import sys
import threading

import click

from ksynth.errors import IOFailure, KsynthError, clip

# command-group modules, each exporting COMMANDS; the order is the order of `ksynth --help`
COMMAND_MODULES = ("compress", "dsl", "solve", "bench", "demo")
EXIT_IO, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 1, 2, 130, 143


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so that it unwinds exactly as after Ctrl-C."""


_sigterm_seen = threading.Event()   # Ray's blocking calls (ray.wait, ray.get) turn whatever a signal
                                     # handler raised into a plain KeyboardInterrupt: remember the SIGTERM


def _on_sigterm(signum, frame):
    _sigterm_seen.set()
    raise Terminated()


def _interrupted(e: KeyboardInterrupt):
    if isinstance(e, Terminated) or _sigterm_seen.is_set():
        click.echo("\nksynth: terminated", err=True)
        sys.exit(EXIT_TERMINATED)
    click.echo("\nksynth: interrupted", err=True)
    sys.exit(EXIT_INTERRUPTED)


def _fail(message: str, code: int):
    click.echo(f"ksynth: error: {message}", err=True)
    sys.exit(code)


def _silence_stdout() -> None:
    """After stdout failed (a closed pipe, a full disk), point it at /dev/null so that the flush
    at interpreter exit cannot print a second error."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass                                     # not a real file (tests capture stdout)


class _Group(click.Group):
    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        """Command-line mistakes (a missing option, a bad value) as one line, like every other error."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name or "ksynth", complete_var, standalone_mode=False, **extra)
        except click.ClickException as e:
            ctx = getattr(e, "ctx", None)
            hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            _fail(f"{e.format_message()}{hint}", e.exit_code)
        except click.Abort:                       # Ctrl-C while click itself was reading input
            click.echo(err=True)
            sys.exit(EXIT_INTERRUPTED)
        sys.exit(code or 0)

    def invoke(self, ctx):
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, _on_sigterm)
        if ctx.params.get("debug") or os.environ.get("KSYNTH_DEBUG") == "1":
            return super().invoke(ctx)
        try:
            result = super().invoke(ctx)
            try:
                sys.stdout.flush()               # a full disk behind stdout fails here, in reach
            except OSError as e:
                if isinstance(e, BrokenPipeError):
                    raise
                _silence_stdout()
                _fail(f"cannot write to stdout: {e.strerror or e}", EXIT_IO)
            return result
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KsynthError as e:
            if isinstance(e, IOFailure):
                _silence_stdout()                # stdout may be what failed
            _fail(str(e), e.exit_code)
        except KeyboardInterrupt as e:
            _interrupted(e)
        except BrokenPipeError:                   # `ksynth ... | head`: the reader left, not an error to shout
            _silence_stdout()
            sys.exit(EXIT_IO)
        except MemoryError:
            _fail("out of memory (lower --max-len / --max-work, or give the process more memory)", EXIT_IO)
        except OSError as e:                      # stdout on a full disk, a vanished file, ...
            _silence_stdout()
            where = f"{e.filename}: " if e.filename else ""
            _fail(f"{where}{e.strerror or e}", EXIT_IO)
        except Exception as e:                    # a bug in ksynth: one line, and the way to see it
            _fail(f"internal error {type(e).__name__}: {clip(e)}; rerun with --debug (or "
                  f"KSYNTH_DEBUG=1) for the traceback and report it", EXIT_IO)

    def parse_args(self, ctx, args):
        if args and args[0] in ("-d", "--decompress"):     # `ksynth -d FILE.ksz`, as gzip -d
            args = ["decompress", *args[1:]]
        return super().parse_args(ctx, args)

    def list_commands(self, ctx):
        return list(self.commands)          # registration order, not alphabetical


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ksynth")
@click.option("--debug", is_flag=True, help="Show the traceback of an error (also KSYNTH_DEBUG=1).")
def main(debug):
    """ksynth: find the shortest KT-DSL program that reproduces a byte sequence."""


for _name in COMMAND_MODULES:
    for _cmd in importlib.import_module(f"ksynth.cli.{_name}").COMMANDS:
        main.add_command(_cmd)
