"""The only exceptions that escape ksynth's API; the CLI turns each into one line and an exit code."""
from __future__ import annotations

QUOTE_CHARS = 80          # an error message quotes at most this much of a bad token


def clip(text, limit: int = QUOTE_CHARS) -> str:
    """`text` quoted for an error message: repr-style, cut to `limit` characters with its length.

    Megabyte tokens (a hostile program, a binary file) must not become megabyte error lines.
    """
    text = str(text)
    if len(text) <= limit:
        return repr(text)
    return repr(text[:limit]) + f"... ({len(text):,} characters)"


class KsynthError(Exception):
    """Base class. `exit_code` is what the CLI exits with (2 = bad user input, 1 = failure)."""

    exit_code = 1


class UsageError(KsynthError):
    """A bad argument, option or config value given by the user."""

    exit_code = 2


class ProgramError(KsynthError):
    """A program that does not parse or is not well formed (unknown op, arity, forward reference).

    `line` is the 1-based line number in the source text when known.
    """

    exit_code = 2

    def __init__(self, message: str, line: int | None = None):
        self.line = line
        super().__init__(f"line {line}: {message}" if line is not None else message)


class ExecError(ProgramError):
    """A well-formed program whose execution is rejected (bad value for an op, output over the cap)."""


class DataError(KsynthError):
    """Malformed input data (JSONL rows, sequences outside 0..255, missing data files)."""

    exit_code = 2


class IOFailure(KsynthError):
    """A file the user named correctly that the system would not read or write (no permission,
    a full disk, an I/O error): exit 1, since rerunning elsewhere can succeed."""

    exit_code = 1


class CorruptInput(KsynthError):
    """A compressed stream that fails to decode or fails its checksum."""

    exit_code = 1


class BudgetExceeded(KsynthError):
    """A search that had to stop before producing anything (never raised when a fallback exists)."""
