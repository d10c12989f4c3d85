"""Whole-file benchmark (issue 12): ksynth at levels 1/6/9 against gzip -9, xz -9, zstd -19, brotli -q 11.

    python experiments/bench_files.py [--out runs/bench-files] [--levels 1,6,9] [--size 1048576]

Builds its own corpus (every file from a seeded formula or generator), adds the KT data files
when present (../shared/kt-data or KSYNTH_DATA_DIR), and prints per file: sizes, ratio
(compressed / original), compress and decompress MB/s (one core, in process, after a warm-up),
and ksynth's peak resident memory at the default level (a subprocess per direction, minus a
subprocess that only imports and warms the same modules). Then the issue's targets, each as
measured. Writes rows.jsonl and sizes.png into --out.
"""
from __future__ import annotations

import argparse
import gzip
import json
import lzma
import os
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ksynth import container as C  # noqa: E402
from ksynth.api import DEFAULT_LEVEL, CompressConfig, Compressor, Decompressor  # noqa: E402

MB = 1e6
GZIP_SLACK, BEST_SLACK = 32, 64          # bytes: the bounds


# ---- corpus -----------------------------------------------------------------------------------
def corpus(size: int, seed: int = 0) -> dict[str, tuple[str, bytes]]:
    """name -> (family, bytes). Families: formula (a short formula made it), text, noisy, image,
    random, kt (the KT data files)."""
    rng = np.random.default_rng(seed)
    n4 = size // 4
    files: dict[str, tuple[str, bytes]] = {}
    files["counter_u32le"] = ("formula", np.arange(n4, dtype="<u4").tobytes())
    files["counter_u16be"] = ("formula", (np.arange(size // 2) % 65536).astype(">u2").tobytes())
    files["arith_bytes"] = ("formula", ((3 + 7 * np.arange(size)) % 256).astype(np.uint8).tobytes())
    table = (np.arange(256)[:, None] * np.arange(256)[None, :]) % 256
    files["mult_table"] = ("formula", np.tile(table.astype(np.uint8).ravel(), size // 65536).tobytes())
    pattern = rng.integers(0, 256, 1000, dtype=np.uint8).tobytes()
    files["periodic_1000"] = ("formula", (pattern * (size // 1000 + 1))[:size])
    k = np.arange(size // 16)
    rec16 = np.zeros(len(k), dtype=[("id", "<u4"), ("ts", "<u4"), ("v", "<u2"), ("f", "<u2"),
                                    ("pad", "<u4")])
    rec16["id"], rec16["ts"], rec16["v"], rec16["f"] = k, 1_700_000_000 + 10 * k, (37 * k) % 1000, 7
    files["records_16b"] = ("formula", rec16.tobytes())
    k = np.arange(size // 12)
    rec12 = np.zeros(len(k), dtype=[("id", "<u4"), ("ts", "<u4"), ("v", "<u2"), ("f", "<u2")])
    rec12["id"], rec12["ts"], rec12["v"], rec12["f"] = k, 1_700_000_000 + 10 * k, (37 * k) % 1000, 7
    files["records_12b"] = ("formula", rec12.tobytes())
    lines, i = ["id,double,square_mod_97,label"], 0
    while sum(len(s) + 1 for s in lines) < size:
        lines.append(f"{i},{2 * i},{i * i % 97},item-{i % 13}")
        i += 1
    files["table.csv"] = ("text", ("\n".join(lines) + "\n").encode()[:size])
    t0, out = 1_764_547_200, []
    levels = ("INFO", "INFO", "INFO", "WARN", "ERROR")
    paths = ("/api/users", "/api/items", "/health", "/login")
    j = 0
    while sum(len(s) for s in out) < size:
        t = t0 + j * 3 + int(rng.integers(0, 3))
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
        out.append(f"{stamp} {levels[j % 5]} GET {paths[int(rng.integers(0, 4))]} "
                   f"status={200 if j % 17 else 500} ms={int(rng.integers(1, 400))}\n")
        j += 1
    files["server.log"] = ("text", "".join(out).encode()[:size])
    walk = np.cumsum(rng.integers(-3, 4, size // 2)) + 2000 + rng.integers(-2, 3, size // 2)
    files["sensor_i16"] = ("noisy", walk.astype("<i2").tobytes())
    y, x = np.mgrid[0:1024, 0:size // 1024]
    img = ((x // 4 + y // 4) % 256).astype(np.uint8)
    img[(x - 300) ** 2 + (y - 500) ** 2 < 150 ** 2] = 255
    img[100:300, 600:800] = 40
    files["bitmap_gray8"] = ("image", img.tobytes())
    files["random"] = ("random", rng.integers(0, 256, size, dtype=np.uint8).tobytes())
    data_dir = Path(os.environ.get("KSYNTH_DATA_DIR", REPO.parent / "shared" / "kt-data"))
    for p in sorted(data_dir.glob("*.bin")):
        files[f"kt/{p.name}"] = ("kt", p.read_bytes())
    return files


# ---- codecs -----------------------------------------------------------------------------------
def baselines():
    import brotli
    import zstandard

    return {
        "gzip-9": (lambda d: gzip.compress(d, 9, mtime=0), gzip.decompress),
        "xz-9": (lambda d: lzma.compress(d, preset=9 | lzma.PRESET_EXTREME), lzma.decompress),
        "zstd-19": (lambda d: zstandard.ZstdCompressor(level=19).compress(d),
                    lambda b: zstandard.ZstdDecompressor().decompress(b)),
        "brotli-11": (lambda d: brotli.compress(d, quality=11), brotli.decompress),
    }


def timed(fn, arg):
    t0 = time.perf_counter()
    out = fn(arg)
    return out, time.perf_counter() - t0


def program_decode_speed(blob: bytes) -> tuple[int, float]:
    """(bytes, seconds) spent decoding the program blocks alone."""
    from ksynth.blocks import decode_block

    total, secs, prev = 0, 0.0, b""
    r = C.Reader(blob)
    for entry, payload in r.blocks():
        t0 = time.perf_counter()
        data = decode_block(entry.kind, payload, entry.raw_size, prev, r.block_size)
        if entry.kind == C.PROGRAM:
            secs += time.perf_counter() - t0
            total += len(data)
        prev = data
    return total, secs


_PEAK = """
import resource, sys, io
sys.path.insert(0, {repo!r})
from ksynth.api import Compressor, CompressConfig, Decompressor
from ksynth.blocks import run_program
from ksynth.dsl.program import Program
run_program(Program.parse("s = range_func_up(0, 255)\\ns2 = repeat_list(1024, s)\\noutput = s2"), 262144)
mode = sys.argv[1]
if mode != "base":
    src = open(sys.argv[2], "rb")
    if mode == "c":
        Compressor(CompressConfig(level={level})).compress_stream(src, io.BytesIO())
    else:
        Decompressor().decompress_stream(src, open("/dev/null", "wb"))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def peak_mib(mode: str, path: str | None, level: int) -> float:
    code = _PEAK.format(repo=str(REPO), level=level)
    out = subprocess.run([sys.executable, "-c", code, mode] + ([path] if path else []),
                         capture_output=True, text=True, check=True)
    return int(out.stdout.split()[-1]) / 1024


# ---- main ------------------------------------------------------------------------------------
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(REPO / "runs" / "bench-files"))
    ap.add_argument("--levels", default="1,6,9")
    ap.add_argument("--size", type=int, default=1 << 21, help="bytes per generated file")
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    args = ap.parse_args(argv)
    levels = [int(v) for v in args.levels.split(",")]
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = corpus(args.size)
    codecs = baselines()
    Decompressor().decompress(Compressor().compress(bytes(range(256)) * 512).blob)   # warm the JIT
    rows = []
    tmp = out_dir / "input.tmp"
    base_mib = None if args.no_memory else peak_mib("base", None, DEFAULT_LEVEL)
    for name, (family, data) in files.items():
        n = len(data)
        row = {"file": name, "family": family, "bytes": n, "methods": {}}
        for label, (enc, dec) in codecs.items():
            blob, tc = timed(enc, data)
            back, td = timed(dec, blob)
            assert back == data, label
            row["methods"][label] = {"size": len(blob), "c_mbs": n / tc / MB, "d_mbs": n / td / MB}
        for level in levels:
            res, tc = timed(Compressor(CompressConfig(level=level)).compress, data)
            back, td = timed(Decompressor().decompress, res.blob)
            assert back == data, f"ksynth -{level} round trip on {name}"
            kinds: dict[str, int] = {}
            for b in res.blocks:
                kinds[b.kind] = kinds.get(b.kind, 0) + 1
            m = {"size": len(res.blob), "c_mbs": n / tc / MB, "d_mbs": n / td / MB, "kinds": kinds}
            pbytes, psecs = program_decode_speed(res.blob)
            if pbytes:
                m["program_d_mbs"] = pbytes / psecs / MB
            row["methods"][f"ksynth-{level}"] = m
            if level == DEFAULT_LEVEL and base_mib is not None:
                tmp.write_bytes(data)
                m["peak_c_mib"] = peak_mib("c", str(tmp), level) - base_mib
                tmp.with_suffix(".ksz").write_bytes(res.blob)
                m["peak_d_mib"] = peak_mib("d", str(tmp.with_suffix(".ksz")), level) - base_mib
        rows.append(row)
        print(_line(row, levels), flush=True)
    for p in (tmp, tmp.with_suffix(".ksz")):
        p.unlink(missing_ok=True)
    with open(out_dir / "rows.jsonl", "w") as f:
        for row in rows:
            f.write(json.dumps(dict(row, command=" ".join(sys.argv), baseline_mib=base_mib)) + "\n")
    _targets(rows, levels, base_mib)
    _plot(rows, levels, out_dir / "sizes.png")
    print(f"rows: {out_dir / 'rows.jsonl'}  chart: {out_dir / 'sizes.png'}")
    return 0


def _line(row, levels) -> str:
    n, m = row["bytes"], row["methods"]
    parts = [f"{row['file']:<20} {n:>9}"]
    for label in [f"ksynth-{lv}" for lv in levels] + ["gzip-9", "xz-9", "zstd-19", "brotli-11"]:
        x = m[label]
        parts.append(f"{label} {x['size']:>8} ({x['size'] / n:.4f}) {x['c_mbs']:6.2f}/{x['d_mbs']:7.1f}MB/s")
    d = m[f"ksynth-{DEFAULT_LEVEL}"] if f"ksynth-{DEFAULT_LEVEL}" in m else {}
    if "kinds" in d:
        parts.append("kinds " + ",".join(f"{k}:{v}" for k, v in d["kinds"].items()))
    if "program_d_mbs" in d:
        parts.append(f"program-decode {d['program_d_mbs']:.0f}MB/s")
    if "peak_c_mib" in d:
        parts.append(f"peak c/d +{d['peak_c_mib']:.0f}/+{d['peak_d_mib']:.0f}MiB")
    return " | ".join(parts)


def _targets(rows, levels, base_mib) -> None:
    print("\n== targets (issue 12) ==")
    for level in levels:
        key = f"ksynth-{level}"
        over_gzip = [(r["file"], r["methods"][key]["size"] - r["methods"]["gzip-9"]["size"])
                     for r in rows if r["methods"][key]["size"] > r["methods"]["gzip-9"]["size"] + GZIP_SLACK]
        over_best = [(r["file"], r["methods"][key]["size"] - min(r["methods"][c]["size"] for c in
                                                                ("gzip-9", "xz-9", "zstd-19")))
                     for r in rows if r["methods"][key]["size"] > min(
                         r["methods"][c]["size"] for c in ("gzip-9", "xz-9", "zstd-19")) + BEST_SLACK]
        print(f"-{level}: <= gzip-9 + {GZIP_SLACK} B on every file: "
              f"{'yes' if not over_gzip else 'NO ' + str(over_gzip)}; <= best(gzip,zstd,xz) + "
              f"{BEST_SLACK} B: {'yes' if not over_best else 'NO, over by ' + str(over_best)}")
        formula = [r for r in rows if r["family"] == "formula"]
        ratios = [(r["file"], r["methods"]["xz-9"]["size"] / r["methods"][key]["size"]) for r in formula]
        beat = sum(1 for _, x in ratios if x > 1)
        twice = sum(1 for _, x in ratios if x >= 2)
        print(f"    formula files: smaller than xz-9 on {beat}/{len(ratios)}, >= 2x smaller on "
              f"{twice}/{len(ratios)}: " + ", ".join(f"{f} {x:.1f}x" for f, x in ratios))
        other = [(r["file"], r["methods"][key]["size"] / r["methods"]["xz-9"]["size"])
                 for r in rows if r["family"] in ("text", "noisy", "image", "random", "kt")]
        print("    size / xz-9 elsewhere: " + ", ".join(f"{f} {x:.3f}" for f, x in other))
        total = sum(r["bytes"] for r in rows)
        secs = sum(r["bytes"] / (r["methods"][key]["c_mbs"] * MB) for r in rows)
        dsecs = sum(r["bytes"] / (r["methods"][key]["d_mbs"] * MB) for r in rows)
        print(f"    whole corpus: compress {total / secs / MB:.2f} MB/s, decompress "
              f"{total / dsecs / MB:.1f} MB/s (one core)")
        progs = [r["methods"][key].get("program_d_mbs") for r in rows]
        progs = [p for p in progs if p]
        if progs:
            print(f"    program blocks decode: min {min(progs):.0f} MB/s, median "
                  f"{sorted(progs)[len(progs) // 2]:.0f} MB/s over {len(progs)} files")
    peaks = [(r["file"], r["methods"].get(f"ksynth-{DEFAULT_LEVEL}", {}).get("peak_d_mib"))
             for r in rows]
    peaks = [(f, p) for f, p in peaks if p is not None]
    if peaks:
        bs = CompressConfig().block_size / 2 ** 20
        worst = max(peaks, key=lambda x: x[1])
        print(f"peak decompression memory above a warmed interpreter ({base_mib:.0f} MiB): max "
              f"{worst[1]:.0f} MiB ({worst[0]}); target <= 4 x {bs:.0f} MiB + 64 MiB = "
              f"{4 * bs + 64:.0f} MiB")


def _plot(rows, levels, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"ksynth-{lv}" for lv in levels] + ["gzip-9", "xz-9", "zstd-19", "brotli-11"]
    fig, ax = plt.subplots(figsize=(max(8, len(rows) * 0.9), 4.5))
    width = 0.8 / len(labels)
    for k, label in enumerate(labels):
        vals = [r["methods"][label]["size"] / max(r["bytes"], 1) for r in rows]
        ax.bar(np.arange(len(rows)) + k * width, vals, width, label=label)
    ax.set_yscale("log")
    ax.set_xticks(np.arange(len(rows)) + 0.4, [r["file"] for r in rows], rotation=45, ha="right")
    ax.set_ylabel("compressed / original (log)")
    ax.legend(fontsize=7, ncol=4)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    sys.exit(main())
