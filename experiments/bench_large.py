"""The size bounds on one large generated file, streamed (issue 12: solid streams at any size).

    PYTHONPATH=. python experiments/bench_large.py [--mib 64] [--levels 1,6] [--out runs/bench-large]

Writes a seeded server log of --mib MiB to a temporary file in 1 MiB pieces (never held whole),
compresses it with gzip -9, xz -9 and zstd -19 (each streamed, as their command-line tools
would: zstd with the file's size as content size) and with ksynth at each level (from the file
to a file, the file's size as the size hint, as `ksynth compress FILE` does), then decompresses
each .ksz to /dev/null. ksynth runs in a subprocess per direction, which reports its CPU time
(process_time), wall time and peak RSS above what it held just before, warmed up (Linux: the
high-water mark is reset through /proc/self/clear_refs), and the absolute peak (the warm-up's
freed memory is reused, so the increase alone can undercount). Prints sizes against the bounds
(<= gzip -9 + 32 B; -4..-9 also <= best(gzip -9, zstd -19, xz -9) + 64 B) and against the memory
target for decompression (<= 4 x block + 64 MiB); writes one JSON row per level to --out.
"""
from __future__ import annotations

import argparse
import json
import lzma
import os
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from experiments.bench_files import RSS_PEAK  # noqa: E402

MIB = 1 << 20
MB = 1e6
PIECE = MIB                       # bytes generated / read / written at a time
GZIP_SLACK, BEST_SLACK = 32, 64   # bytes: the bounds
BLOCK = MIB                       # ksynth's default block size (the memory target's unit)


def write_log(path: Path, size: int, seed: int = 0) -> None:
    """`size` bytes of log lines (timestamps, levels, paths, status, latency), seeded, written in
    PIECE-byte pieces; the last line is cut at `size`."""
    rng = np.random.default_rng(seed)
    levels = ("INFO", "INFO", "INFO", "WARN", "ERROR")
    paths = ("/api/users", "/api/items", "/health", "/login", "/api/orders", "/static/app.js")
    t, j, left = 1_764_547_200, 0, size
    with open(path, "wb") as f:
        while left:
            lines = []
            n = 0
            while n < PIECE:
                t += int(rng.integers(0, 3))
                stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
                line = (f"{stamp} {levels[j % 5]} GET {paths[int(rng.integers(0, 6))]}"
                        f"?id={int(rng.integers(0, 100_000))} status={200 if j % 17 else 500} "
                        f"ms={int(rng.integers(1, 400))}\n")
                lines.append(line)
                n += len(line)
                j += 1
            piece = "".join(lines).encode()[:left]
            f.write(piece)
            left -= len(piece)


def baselines(path: Path) -> dict[str, dict]:
    """gzip -9, xz -9, zstd -19 of the file, each streamed: size (bytes) and CPU seconds."""
    import zstandard

    size = path.stat().st_size
    makers = {
        "gzip-9": lambda: zlib.compressobj(9, zlib.DEFLATED, 31, 8),   # wbits 31: gzip's 10-byte
                                                                       # header, 8-byte trailer
        "xz-9": lambda: lzma.LZMACompressor(preset=9),
        "zstd-19": lambda: zstandard.ZstdCompressor(level=19).compressobj(size=size),
    }
    out = {}
    for name, make in makers.items():
        c0 = time.process_time()
        enc, n = make(), 0
        with open(path, "rb") as f:
            while piece := f.read(PIECE):
                n += len(enc.compress(piece))
        n += len(enc.flush())
        out[name] = {"size": n, "c_cpu_s": time.process_time() - c0}
    return out


_CHILD = """
import io, os, sys, time, tracemalloc
sys.path.insert(0, {repo!r})
from ksynth.api import CompressConfig, Compressor, Decompressor
Decompressor().decompress(Compressor(CompressConfig(level={level})).compress(
    bytes(range(256)) * 8192).blob)                 # every kernel loaded, a solid stream made

{rss}mode, src_path, dst_path = sys.argv[1:4]
t0, c0 = time.perf_counter(), time.process_time()
with open(src_path, "rb") as src, open(dst_path, "wb") as dst:
    if mode == "c":
        s = Compressor(CompressConfig(level={level})).compress_stream(
            src, dst, size_hint=os.path.getsize(src_path))
        extra = {{"streams": s.streams, "kinds": sorted({{b.kind for b in s.blocks}}),
                 "records": len(s.blocks)}}
    else:
        n = Decompressor().decompress_stream(src, dst)
        extra = {{"restored": n}}
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
import json
print(json.dumps(dict(extra, wall_s=wall, cpu_s=cpu, peak_mib=(status("VmHWM:") - base) / 1024,
                      base_mib=base / 1024, hwm_mib=status("VmHWM:") / 1024)))
"""


def child(mode: str, src: str, dst: str, level: int) -> dict:
    code = _CHILD.format(repo=str(REPO), level=level, rss=RSS_PEAK)
    out = subprocess.run([sys.executable, "-c", code, mode, src, dst], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mib", type=int, default=64, help="MiB of generated input")
    ap.add_argument("--levels", default="1,6")
    ap.add_argument("--out", default=str(REPO / "runs" / "bench-large"))
    args = ap.parse_args(argv)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows_path = out_dir / "rows.jsonl"
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        src = Path(tmp) / "input.log"
        write_log(src, args.mib * MIB)
        n = src.stat().st_size
        base = baselines(src)
        gz, best = base["gzip-9"]["size"], min(b["size"] for b in base.values())
        print(f"input {n} B ({args.mib} MiB of log lines); " + ", ".join(
            f"{k} {v['size']} B ({n / v['c_cpu_s'] / MB:.2f} MB/s CPU)" for k, v in base.items()),
            flush=True)
        for level in (int(v) for v in args.levels.split(",")):
            ksz, back = Path(tmp) / "input.ksz", Path(tmp) / "back"
            c = child("c", str(src), str(ksz), level)
            size = ksz.stat().st_size
            d = child("d", str(ksz), os.devnull, level)
            assert d["restored"] == n
            with open(src, "rb") as a, open(ksz, "rb") as k:        # the file round-trips
                from ksynth.api import Decompressor

                class Cmp:
                    def write(self, b):
                        assert a.read(len(b)) == b, "decoded bytes differ"

                Decompressor().decompress_stream(k, Cmp())
                assert a.read(1) == b""
            row = {"level": level, "bytes": n, "ksz": size, "baselines": base,
                   "vs_gzip": size - gz, "vs_best": size - best, "compress": c,
                   "decompress": d, "gzip_bound_met": size <= gz + GZIP_SLACK,
                   "best_bound_met": size <= best + BEST_SLACK if level >= 4 else None,
                   "decompress_memory_met": d["peak_mib"] <= 4 * BLOCK / MIB + 64,
                   "command": " ".join(sys.argv)}
            with open(rows_path, "a") as f:
                f.write(json.dumps(row) + "\n")
            print(f"-{level}: {size} B, gzip -9 {size - gz:+d} B, best {size - best:+d} B "
                  f"({'met' if row['gzip_bound_met'] else 'MISSED'} <= gzip + {GZIP_SLACK}; "
                  + (f"{'met' if row['best_bound_met'] else 'MISSED'} <= best + {BEST_SLACK}"
                     if level >= 4 else "best bound not promised") + "); streams "
                  f"{c['streams']} written {c['kinds']} in {c['records']} record(s); compress "
                  f"{n / c['cpu_s'] / MB:.2f} MB/s CPU, {n / c['wall_s'] / MB:.2f} wall, peak "
                  f"+{c['peak_mib']:.0f} MiB (absolute {c['hwm_mib']:.0f}, base {c['base_mib']:.0f}); decompress {n / d['cpu_s'] / MB:.1f} MB/s CPU, "
                  f"{n / d['wall_s'] / MB:.1f} wall, peak +{d['peak_mib']:.0f} MiB (absolute "
                  f"{d['hwm_mib']:.0f}, base {d['base_mib']:.0f}) "
                  f"({'met' if row['decompress_memory_met'] else 'MISSED'} <= "
                  f"{4 * BLOCK // MIB + 64} MiB)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
