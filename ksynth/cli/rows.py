"""JSONL rows of sequences, as `ksynth score` and `ksynth solve` read them: validated up front.

Every error names the file and the 1-based line, so a user can fix the row and rerun.
"""
from __future__ import annotations

import json
import sys

from ksynth.errors import DataError, UsageError


def read_text(path: str) -> str:
    """A file's text, or stdin for "-"."""
    if path == "-":
        return sys.stdin.read()
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}") from None


def read_sequence_rows(path: str) -> list[tuple[int, dict]]:
    """(line number, row) per non-blank line; each row is an object whose "sequence" holds bytes."""
    rows = []
    for k, raw in enumerate(read_text(path).splitlines(), 1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as e:
            raise DataError(f"{path} line {k}: not valid JSON ({e.msg} at column {e.colno})") from None
        if not isinstance(row, dict):
            raise DataError(f"{path} line {k}: expected a JSON object, got {type(row).__name__}")
        seq = row.get("sequence")
        if not isinstance(seq, list):
            raise DataError(f"{path} line {k}: 'sequence' must be a list of integers 0..255")
        for pos, v in enumerate(seq):
            if type(v) is not int or not 0 <= v <= 255:
                raise DataError(f"{path} line {k}: sequence value {json.dumps(v)} at position {pos} "
                                f"is not a byte (0..255)")
        rows.append((k, row))
    return rows
