"""Input files as `ksynth` reads them: program text and JSONL rows of sequences, validated up front.

Every error names the file and the 1-based line, so a user can fix the row and rerun. What a
hostile or mistaken file can hold is refused as such: a folder or a device instead of a file,
bytes that are not UTF-8, integers past Python's 4,300-digit limit, JSON nested past the parser's
recursion limit.
"""
from __future__ import annotations

import json
import os
import stat
import sys

from ksynth.errors import DataError, UsageError, clip


def _decode(data: bytes, path: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise DataError(f"{path} line {line}: not UTF-8 text (byte 0x{data[e.start]:02x} at offset "
                        f"{e.start:,})") from None


def read_text(path: str) -> str:
    """A file's text, or stdin for "-"; a folder or a device (/dev/zero never ends) is refused."""
    if path == "-":
        return _decode(sys.stdin.buffer.read(), "stdin")
    try:
        st = os.stat(path)
        if stat.S_ISDIR(st.st_mode):
            raise UsageError(f"cannot read {path}: it is a folder")
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISFIFO(st.st_mode)):
            raise UsageError(f"cannot read {path}: not a regular file (a device or socket)")
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}") from None
    return _decode(data, path)


def parse_json_line(raw: str, path: str, k: int):
    """One JSONL line's value, or a DataError naming the line."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError as e:
        raise DataError(f"{path} line {k}: not valid JSON ({e.msg} at column {e.colno})") from None
    except RecursionError:
        raise DataError(f"{path} line {k}: JSON nested too deeply") from None
    except ValueError:                           # the only other ValueError json.loads raises
        raise DataError(f"{path} line {k}: a number too long to read (Python reads integers of "
                        f"at most 4,300 digits)") from None


def read_sequence_rows(path: str) -> list[tuple[int, dict]]:
    """(line number, row) per non-blank line; each row is an object whose "sequence" holds bytes."""
    rows = []
    for k, raw in enumerate(read_text(path).splitlines(), 1):
        if not raw.strip():
            continue
        row = parse_json_line(raw, path, k)
        if not isinstance(row, dict):
            raise DataError(f"{path} line {k}: expected a JSON object, got {type(row).__name__}")
        seq = row.get("sequence")
        if not isinstance(seq, list):
            raise DataError(f"{path} line {k}: 'sequence' must be a list of integers 0..255")
        for pos, v in enumerate(seq):
            if type(v) is not int or not 0 <= v <= 255:
                shown = f"a {type(v).__name__}" if isinstance(v, (list, dict)) else clip(json.dumps(v))
                raise DataError(f"{path} line {k}: sequence value {shown} at position {pos} "
                                f"is not a byte (0..255)")
        rows.append((k, row))
    return rows
