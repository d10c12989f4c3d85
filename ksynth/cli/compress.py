"""`ksynth compress / decompress / explain / list`: files <-> .ksz streams, with gzip's habits.

FILE -> FILE.ksz (and back); `-` or no FILE = stdin to stdout. The input is kept (--rm removes
it after success); an existing output is refused without -f. Every output is written to a
temporary file beside it (stdout: a spooled buffer), verified, then renamed into place (copied
out): a failure leaves nothing behind.
"""
from __future__ import annotations

import os
import sys
import tempfile
import zlib

import click

from ksynth import container as C
from ksynth.api import DEFAULT_LEVEL, CompressConfig, Compressor, Decompressor
from ksynth.blocks import LEVELS, describe, promise
from ksynth.errors import CorruptInput, KsynthError, UsageError

SUFFIX = ".ksz"
PROGRESS_MIN_BYTES = 4 << 20      # a progress bar (stderr, TTY only) for inputs at least this big
SPOOL_BYTES = 64 << 20            # stdout output is buffered in memory up to this, then on disk
COPY_CHUNK = 1 << 20              # bytes per read when copying a spool out
SHOWN_VALUES = 8                  # explain: values printed per line


# ---- files -----------------------------------------------------------------------------------
def _open_input(path: str):
    if path == "-":
        return sys.stdin.buffer
    try:
        return open(path, "rb")
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}") from None


def _progress(path: str, quiet: bool, unit_total: int | None):
    from tqdm import tqdm

    big = unit_total is not None and unit_total >= PROGRESS_MIN_BYTES
    return tqdm(total=unit_total, unit="B", unit_scale=True, file=sys.stderr, leave=False,
                desc=os.path.basename(path), disable=True if quiet or not big else None)


def _size(path: str) -> int | None:
    try:
        return os.path.getsize(path) if path != "-" else None
    except OSError:
        return None


class _Output:
    """A temporary destination made real only by `commit()`; discarded otherwise."""

    def __init__(self, target: str | None, force: bool, mode: int):
        self.target = target              # None = stdout
        if target is not None:
            if os.path.exists(target) and not force:
                raise UsageError(f"{target} already exists; use -f to overwrite it")
            folder = os.path.dirname(os.path.abspath(target))
            try:
                fd, self.tmp = tempfile.mkstemp(dir=folder, prefix=".ksynth-", suffix=".tmp")
            except OSError as e:
                raise UsageError(f"cannot write in {folder}: {e.strerror}") from None
            os.chmod(self.tmp, mode)     # mkstemp makes 0600; the output gets the input's mode
            self.f = os.fdopen(fd, "w+b")
        else:
            self.tmp = None
            self.f = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)

    def commit(self) -> None:
        if self.target is None:
            self.f.seek(0)
            while chunk := self.f.read(COPY_CHUNK):
                sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
            self.f.close()
        else:
            self.f.close()
            os.replace(self.tmp, self.target)

    def discard(self) -> None:
        self.f.close()
        if self.tmp is not None and os.path.exists(self.tmp):
            os.unlink(self.tmp)


def _mode(path: str) -> int:
    """Permission bits for an output: the input file's, else 0666 less the umask."""
    try:
        if path != "-":
            return os.stat(path).st_mode & 0o777
    except OSError:
        pass
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _each(files, stdout: bool, output: str | None, make_name, force: bool, work):
    """Run work(src, dst_file) for every input, committing each output only when work succeeds."""
    files = list(files) or ["-"]
    if output is not None and len(files) > 1:
        raise UsageError(f"-o names one output, but {len(files)} inputs were given")
    for path in files:
        target = None if stdout or (path == "-" and output is None) else (output or make_name(path))
        if target is not None and os.path.abspath(target) == os.path.abspath(path):
            raise UsageError(f"{path}: output would overwrite the input")
        src = _open_input(path)
        out = _Output(target, force, _mode(path))
        try:
            work(path, src, out.f)
        except OSError as e:                # disk full, a vanished file, ...: one line, exit 1
            out.discard()
            raise KsynthError(f"{path}: {e.strerror or e}") from None
        except BaseException:
            out.discard()
            raise
        finally:
            if src is not sys.stdin.buffer:
                src.close()
        out.commit()
        yield path


def _remove_inputs(paths, rm: bool) -> None:
    for path in paths:
        if rm and path != "-":
            os.unlink(path)


# ---- compress ----------------------------------------------------------------------------------
def _level_help() -> str:
    return "\n".join(f"  -{k}: {describe(k)}" for k in sorted(LEVELS))


def _promises() -> str:
    groups: dict[str, list[int]] = {}
    for k in sorted(LEVELS):
        groups.setdefault(promise(k), []).append(k)
    return "\n".join(f"  -{ks[0]}..-{ks[-1]}: {text}" for text, ks in groups.items())


def _compress_help() -> str:
    return ("Compress each FILE to FILE.ksz (- or none: stdin to stdout).\n\n"
            "Each 1 MiB block becomes the shortest of: a KT-DSL program found for it, a copy of the "
            "previous block, deflate, zstd, xz or the bytes stored; every choice is decoded and "
            "checked before it is written. From the second block on, the level's solid streams "
            "are made beside these: one deflate (gzip -9's own), zstd or xz stream over the whole "
            "file (xz's dictionary: the file's size, at most 64 MiB; stdin: the preset's own, "
            "8 MiB at -4..-6, 64 MiB at -7..-9), and the smallest whole stream is written, after "
            "it has been decoded and checked. Levels (after block 0, deflate and plain xz are "
            "left to their solid streams; a block zstd packs below 1/64 also tries zstd 19):"
            "\n\n\b\n" + _level_help() +
            "\n\nSize promises against whole-file gzip -9 / zstd -19 / xz -9 "
            "(experiments/bench_files.py measures them), at any file size (a solid stream is one "
            "record: its framing does not grow with the file):"
            "\n\n\b\n" + _promises())


def _level_options(f):
    for k in sorted(LEVELS, reverse=True):
        f = click.option(f"-{k}", "level", flag_value=k,
                         help=f"level {k}" + (" [default]" if k == DEFAULT_LEVEL else ""))(f)
    return f


def _file_options(f):
    """FILES and the gzip-style output flags that compress and decompress share."""
    for opt in reversed((
            click.argument("files", nargs=-1),
            click.option("-o", "--output", default=None, help="Output file (one input only)."),
            click.option("-c", "--stdout", is_flag=True, help="Write to stdout, keep the input."),
            click.option("-k", "--keep", is_flag=True, help="Keep the input (the default, as gzip -k)."),
            click.option("--rm", is_flag=True, help="Remove each input after its output is written."),
            click.option("-f", "--force", is_flag=True,
                         help="Overwrite existing outputs (compress: also write to a terminal)."))):
        f = opt(f)
    return f


@click.command("compress", help=_compress_help())
@_file_options
@click.option("-d", "--decompress", "to_decompress", is_flag=True, help="Decompress instead.")
@_level_options
@click.option("--budget", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Search seconds per short target (turns the search on at every level).")
@click.option("-T", "--threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="Workers choosing blocks (> 1: Ray); the output is the same.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.option("--max-output-size", type=click.IntRange(min=0), default=None,
              help="With -d: refuse to write more than this many bytes.")
def compress_cmd(files, output, stdout, keep, rm, force, to_decompress, level, budget, threads,
                 quiet, max_output_size):
    if to_decompress:
        return _decompress(files, output, stdout, rm and not keep, force, quiet, max_output_size)
    cfg = CompressConfig(level=level or DEFAULT_LEVEL, workers=threads, search_seconds=budget)
    if (stdout or (not files or list(files) == ["-"]) and output is None) and \
            sys.stdout.isatty() and not force:
        raise UsageError("refusing to write compressed data to a terminal (use -o, or -f)")

    def work(path, src, dst):
        from ksynth.parallel import log_stderr

        total = _size(path)
        with _progress(path, quiet, total) as bar:
            summary = Compressor(cfg).compress_stream(src, dst, progress=bar.update, size_hint=total,
                                                      log=None if quiet else log_stderr)
        _verify(dst, summary.original_size, summary.checksum)

    done = list(_each(files, stdout, output, lambda p: p + SUFFIX, force, work))
    _remove_inputs(done, rm and not keep)


def _verify(f, size: int, checksum: int) -> None:
    """Decompress what was just written and compare its size and CRC32 with the input's."""
    class _Crc:
        n, crc = 0, 0

        def write(self, data):
            self.n += len(data)
            self.crc = zlib.crc32(data, self.crc)

    f.flush()
    f.seek(0)
    sink = _Crc()
    Decompressor().decompress_stream(f, sink)
    if sink.n != size or sink.crc != checksum:
        raise CorruptInput("internal error: the output does not decompress to the input")


# ---- decompress --------------------------------------------------------------------------------
def _plain_name(path: str) -> str:
    if not path.endswith(SUFFIX) or len(path) == len(SUFFIX):
        raise UsageError(f"{path}: unknown suffix (expected {SUFFIX}); use -o or -c")
    return path[:-len(SUFFIX)]


def _decompress(files, output, stdout, rm, force, quiet, max_output_size):
    dec = Decompressor(max_output_size)

    def work(path, src, dst):
        with _progress(path, quiet, _size(path)) as bar:
            dec.decompress_stream(src, dst, progress=bar.update)

    done = list(_each(files, stdout, output, _plain_name, force, work))
    _remove_inputs(done, rm)


@click.command("decompress")
@_file_options
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.option("--max-output-size", type=click.IntRange(min=0), default=None,
              help="Refuse to write more than this many bytes.")
def decompress_cmd(files, output, stdout, keep, rm, force, quiet, max_output_size):
    """Restore each FILE.ksz to FILE (- or none: stdin to stdout); `ksynth -d` does the same.

    Only the block decoders and the DSL executor run; each program is held to its block's
    declared size while it runs, and the CRC32 is checked before the output is put in place.
    """
    _decompress(files, output, stdout, rm and not keep, force, quiet, max_output_size)


# ---- explain / list ----------------------------------------------------------------------------
def _read_blob(path: str) -> bytes:
    src = _open_input(path)
    try:
        return src.read()
    finally:
        if src is not sys.stdin.buffer:
            src.close()


def _ratio(raw: int, packed: int) -> str:
    return f"{raw} -> {packed} bytes ({packed / raw:.4f})" if raw else f"{raw} -> {packed} bytes"


@click.command("explain")
@click.argument("file")
def explain_cmd(file):
    """Print each block's program (KT text, each line's value and bits) and a per-kind summary."""
    from ksynth.blocks import check_elements
    from ksynth.dsl.encode import decode, line_bits
    from ksynth.dsl.interp import run_lines
    from ksynth.errors import ExecError

    blob = _read_blob(file)
    reader = C.Reader(blob)
    kinds: dict[str, list[int]] = {}
    for n, (entry, payload) in enumerate(reader.blocks()):
        if n == 0 and entry.kind in C.SOLID:
            click.echo(f"one {entry.kind_name} stream over the whole file, in one record"
                       if entry.streamed else
                       f"one {entry.kind_name} stream over the whole file: each block's payload "
                       f"is what the encoder emitted while it read the block")
        head = f"block {n}: {entry.kind_name}, {_ratio(entry.raw_size, entry.payload_size)}"
        sums = kinds.setdefault(entry.kind_name, [0, 0, 0])
        sums[0] += 1
        sums[1] += entry.raw_size
        sums[2] += entry.payload_size
        click.echo(head)
        if entry.kind != C.PROGRAM:
            continue
        program = decode(payload)
        try:
            check_elements(program, entry.raw_size)
        except CorruptInput as e:
            raise CorruptInput(f"block {n}: {e}") from None
        try:
            values = run_lines(program, entry.raw_size)
        except ExecError as e:
            raise CorruptInput(f"block {n}: program rejected by the interpreter: {e}") from None
        texts = program.format().splitlines()
        for i, line in enumerate(program.lines):
            text = texts[i]
            v = values[i]
            shown = ", ".join(str(x) for x in v[:SHOWN_VALUES]) + (", ..." if len(v) > SHOWN_VALUES else "")
            click.echo(f"    {text}  # [{shown}] ({len(v)} values, "
                       f"{line_bits(line.op, line.args, i):.1f} bits)")
        click.echo(f"    output = sequence_{program.output + 1}")
    click.echo("summary:")
    for name, (count, raw, packed) in kinds.items():
        click.echo(f"  {name}: {count} block(s), {_ratio(raw, packed)}")
    click.echo(f"  total: {_ratio(reader.trailer[0], reader.stream_size)}")


@click.command("list")
@click.argument("files", nargs=-1, required=True)
def list_cmd(files):
    """Sizes, ratio, CRC32 and block kinds of each FILE.ksz (like gzip -l)."""
    click.echo(f"{'compressed':>12} {'uncompressed':>12} {'ratio':>7} {'crc32':>8}  blocks  name")
    for path in files:
        src = _open_input(path)
        try:
            h = C.read_header(src)
        finally:
            if src is not sys.stdin.buffer:
                src.close()
        counts: dict[str, int] = {}
        for b in h.blocks:
            counts[b.kind_name] = counts.get(b.kind_name, 0) + 1
        ratio = f"{h.stream_size / h.original_size:.4f}" if h.original_size else "-"
        kinds = ",".join(f"{k}:{v}" for k, v in counts.items()) or "none"
        click.echo(f"{h.stream_size:>12} {h.original_size:>12} {ratio:>7} {h.checksum:08x}  "
                   f"{kinds}  {path}")


COMMANDS = [compress_cmd, decompress_cmd, explain_cmd, list_cmd]
