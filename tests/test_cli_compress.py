"""`ksynth compress / decompress / explain / list` as a user sees them: files, pipes, exit codes."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from ksynth.cli import main

DATA = bytes(range(256)) * 64 + b"some text after the ramp\n" * 20


@pytest.fixture
def work(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.bin").write_bytes(DATA)
    return tmp_path


def _run(*args, input=None):
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def test_compress_keeps_input_and_refuses_to_overwrite(work):
    r = _run("compress", "-q", "a.bin")
    assert r.exit_code == 0, r.output
    assert (work / "a.bin").read_bytes() == DATA and (work / "a.bin.ksz").exists()
    r = _run("compress", "a.bin")
    assert r.exit_code == 2 and "already exists" in r.output and "-f" in r.output
    assert _run("compress", "-f", "-k", "a.bin").exit_code == 0
    assert sorted(p.name for p in work.iterdir()) == ["a.bin", "a.bin.ksz"]   # no temp files


def test_decompress_and_dash_d(work):
    _run("compress", "a.bin", "-o", "x.ksz")
    assert _run("decompress", "x.ksz").exit_code == 0
    assert (work / "x").read_bytes() == DATA
    r = _run("-d", "x.ksz", "-o", "y")
    assert r.exit_code == 0 and (work / "y").read_bytes() == DATA
    r = _run("decompress", "a.bin")
    assert r.exit_code == 2 and "suffix" in r.output


def test_rm_removes_the_input_only_after_success(work):
    assert _run("compress", "--rm", "a.bin").exit_code == 0
    assert not (work / "a.bin").exists()
    assert _run("decompress", "--rm", "a.bin.ksz").exit_code == 0
    assert (work / "a.bin").read_bytes() == DATA and not (work / "a.bin.ksz").exists()


def test_stdin_to_stdout_through_a_pipe(work):
    env = dict(os.environ, PYTHONPATH=str(os.path.dirname(os.path.dirname(__file__))))
    cmd = [sys.executable, "-m", "ksynth"]
    packed = subprocess.run(cmd + ["compress", "-c", "-"], input=DATA, capture_output=True, env=env)
    assert packed.returncode == 0 and packed.stdout[:3] == b"KSZ"
    back = subprocess.run(cmd + ["-d"], input=packed.stdout, capture_output=True, env=env)
    assert back.returncode == 0 and back.stdout == DATA and back.stderr == b""


def test_corrupt_input_is_one_line_exit_1_and_leaves_nothing(work):
    _run("compress", "a.bin")
    blob = (work / "a.bin.ksz").read_bytes()
    (work / "bad.ksz").write_bytes(blob[:-3] + bytes([blob[-3] ^ 0x40]) + blob[-2:])
    r = _run("decompress", "bad.ksz")
    assert r.exit_code == 1 and r.output.count("\n") == 1 and r.output.startswith("ksynth: error:")
    assert not (work / "bad").exists()
    assert [p.name for p in work.iterdir() if p.name.startswith(".")] == []
    (work / "junk.ksz").write_bytes(b"not a ksz file at all")
    r = _run("decompress", "-c", "junk.ksz")
    assert r.exit_code == 1 and "not a .ksz stream" in r.output


def test_missing_input_and_max_output_size(work):
    r = _run("compress", "nope.bin")
    assert r.exit_code == 2 and "cannot read nope.bin" in r.output
    _run("compress", "a.bin")
    r = _run("decompress", "--max-output-size", "100", "a.bin.ksz", "-o", "out")
    assert r.exit_code == 2 and "max-output-size 100" in r.output and not (work / "out").exists()


def test_list_and_explain(work):
    ramp = bytes(range(256)) * 64
    (work / "r.bin").write_bytes(ramp)
    _run("compress", "-9", "r.bin")
    r = _run("list", "r.bin.ksz")
    assert r.exit_code == 0 and f"{len(ramp):>12}" in r.output and "program:1" in r.output
    r = _run("explain", "r.bin.ksz")
    assert r.exit_code == 0
    assert "repeat_list(64, sequence_1)" in r.output and "bits)" in r.output
    assert "program: 1 block(s), 16384 ->" in r.output and f"total: {len(ramp)} ->" in r.output


def test_compress_help_names_every_level():
    r = _run("compress", "--help")
    assert all(f"-{k}:" in r.output for k in range(1, 10)) and "--budget" in r.output
    assert "-4..-9: <= gzip -9 + 32 B and <= best(gzip -9, zstd -19, xz -9) + 64 B" in r.output
    assert "-1..-3: <= gzip -9 + 32 B only" in r.output


def _log_lines(n: int) -> bytes:
    import random

    rng = random.Random(4)
    lines = [b"2026-12-01 GET /api/%d status=%d\n" % (rng.randrange(10**6), rng.choice((200, 404)))
             for _ in range(16)]
    return b"".join(rng.choice(lines) for _ in range(n))


def test_solid_stream_compress_list_explain_and_back(work):
    data = _log_lines(70_000)                        # 2.4 MiB: 3 blocks, one deflate-solid stream
    (work / "big.log").write_bytes(data)
    assert _run("compress", "-1", "-q", "big.log").exit_code == 0
    r = _run("list", "big.log.ksz")
    assert r.exit_code == 0 and "deflate-solid:1" in r.output      # one record for 3 blocks
    r = _run("explain", "big.log.ksz")
    assert r.exit_code == 0 and r.output.startswith("one deflate-solid stream over the whole file")
    assert f"deflate-solid: 1 block(s), {len(data)} -> " in r.output
    assert _run("decompress", "big.log.ksz", "-o", "back.log").exit_code == 0
    assert (work / "back.log").read_bytes() == data


def test_solid_stream_cut_short_is_one_line_exit_1(work):
    from ksynth import container as C
    from ksynth.api import CompressConfig, Compressor

    data = _log_lines(700)
    blob = Compressor(CompressConfig(level=1, block_size=1024)).compress(data).blob
    h = C.read_header(blob)
    e = h.blocks[0]                      # the payload's last 8 bytes lost: no stream end
    cut = blob[:C.HEADER_SIZE] + C.solid_record_head(e.kind, e.raw_size, e.payload_size - 8) \
        + blob[e.offset:e.offset + e.payload_size - 8] + blob[e.offset + e.payload_size:]
    for bad, message in ((cut, "stream is truncated"), (blob[:len(blob) // 2], "truncated")):
        (work / "bad.ksz").write_bytes(bad)
        r = _run("decompress", "bad.ksz")
        assert r.exit_code == 1 and r.output.count("\n") == 1
        assert r.output.startswith("ksynth: error:") and message in r.output and not (work / "bad").exists()
