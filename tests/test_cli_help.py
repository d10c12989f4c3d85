"""Every command's --help pinned as a golden file, and `ksynth demo` as a new user first runs it.

A flag change shows up here as a diff; after a deliberate one, rewrite the files with
    KSYNTH_UPDATE_GOLDEN=1 python -m pytest tests/test_cli_help.py
and review `git diff tests/golden/`.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from ksynth.cli import main

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("KSYNTH_UPDATE_GOLDEN") == "1"
HELP_WIDTH = 100                       # fixed, so the terminal running the tests does not matter


@pytest.mark.parametrize("command", [None, *main.commands])
def test_help_is_pinned(command):
    args = ([command] if command else []) + ["--help"]
    result = CliRunner().invoke(main, args, terminal_width=HELP_WIDTH, prog_name="ksynth")
    assert result.exit_code == 0, result.output
    path = GOLDEN / f"help_{command or 'ksynth'}.txt"
    if UPDATE:
        path.write_text(result.output)
    assert path.exists(), f"{path} missing: run with KSYNTH_UPDATE_GOLDEN=1"
    assert result.output == path.read_text(), f"--help of {command or 'ksynth'} changed; see the module doc"


def test_demo_prints_programs_and_the_pooled_scores():
    result = CliRunner().invoke(main, ["demo", "--n", "1", "--budget", "0.2"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"== sequence 0 \(\d+ bytes\): \[[\d, ]+\]", lines[0])
    assert lines[1].startswith("sequence_1 = ") and "output = sequence_" in result.stdout
    found = next(line for line in lines if line.startswith("-- found"))
    assert re.search(r"KT bits \([\d.]+ real bits, \w+, [\d.]+ s, verified=True\); ground truth [\d.]+ KT "
                     r"bits; gzip \d+ bits; raw \d+ bits", found), found
    summary = json.loads(lines[-1])
    assert summary["n"] == 1 and summary["config"]["budget"]["seconds"] == 0.2
    assert 0 < summary["compression_rate"] and 0 < summary["ground_truth_rate"] and 0 < summary["gzip_rate"]
