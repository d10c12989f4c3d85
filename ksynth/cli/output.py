"""Every output path a command writes, under one policy (gzip's habits):

- "-" means stdout;
- an existing file is replaced only with --force; a folder, a device, a FIFO, a socket, or a link
  to one of those is refused (writing "to" /dev/sda or a FIFO is never what a typo meant);
- the folder must already exist (a typo should not grow a tree of folders);
- a whole file is written to a temporary sibling and renamed over the target once complete, so a
  reader sees the old file or the new one, never half of one; it gets the mode any new file gets
  under the user's umask (mkstemp's 0600 would hide results from the group);
- row-by-row logs (solve's and bench's JSONL) are appended instead, one write per row with
  SIGINT / SIGTERM held back until the line is whole (`write_row`); resume repairs a torn tail
  all the same (a SIGKILL or a power cut).

A path of the wrong kind is a UsageError (exit 2); the system refusing a write (no permission,
a full disk) an IOFailure (exit 1). Both name the flag and the path.
"""
from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile

from ksynth.errors import IOFailure, UsageError

STDOUT = "-"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def io_errors(path: str, verb: str = "write"):
    """OSError inside -> IOFailure naming the path (exit 1)."""
    try:
        yield
    except OSError as e:
        where = "to stdout" if path == STDOUT else path
        raise IOFailure(f"cannot {verb} {where}: {e.strerror or e}") from None


def check_target(path: str, flag: str, force: bool = False, existing_ok: bool = False,
                 exists_hint: str = "pass --force to replace it") -> None:
    """Refuse, before any work, an output path that cannot or should not be written."""
    if path == STDOUT:
        return
    if os.path.lexists(path):
        try:
            st = os.stat(path)                   # follows a link: what would be written
        except FileNotFoundError:
            raise UsageError(f"{flag} {path} is a link to nothing; remove it or name another file") from None
        except OSError as e:
            raise IOFailure(f"cannot use {flag} {path}: {e.strerror}") from None
        if stat.S_ISDIR(st.st_mode):
            raise UsageError(f"{flag} {path} is a folder; name a file")
        if not stat.S_ISREG(st.st_mode):
            raise UsageError(f"{flag} {path} is not a regular file (a device, FIFO or socket); "
                             f"refusing to write to it")
        if not (force or existing_ok):
            raise UsageError(f"{flag} {path} exists; {exists_hint}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"{flag} {path}: folder {folder} does not exist")


@contextlib.contextmanager
def atomic_text(path: str, flag: str):
    """A text file to write whole: stdout for "-", else a temporary sibling renamed over `path`
    when the block ends without error (call check_target first)."""
    if path == STDOUT:
        yield sys.stdout
        sys.stdout.flush()
        return
    folder = os.path.dirname(os.path.abspath(path))
    with io_errors(path):
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with io_errors(path):
            os.fchmod(fd, 0o666 & ~_umask())
            f = os.fdopen(fd, "w", encoding="utf-8")
        with f:
            yield f
            with io_errors(path):
                f.flush()
                os.fsync(f.fileno())
        with io_errors(path):
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def echo(text: str) -> None:
    """One line to stdout, flushed; a full disk or closed stdout as an IOFailure (exit 1)."""
    with io_errors(STDOUT):
        sys.stdout.write(text + "\n")
        sys.stdout.flush()


def write_row(f, line: str, path: str) -> None:
    """One whole JSONL line, written and flushed with SIGINT / SIGTERM held back: a signal that
    arrives meanwhile is delivered after the line is complete, so a stop never tears a row."""
    import signal
    import threading

    held = {signal.SIGINT, signal.SIGTERM}
    main = threading.current_thread() is threading.main_thread()
    if main:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        with io_errors(path):
            f.write(line + "\n")
            f.flush()
    finally:
        if main:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
