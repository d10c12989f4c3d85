"""`ksynth bench`: the KT benchmark, every method side by side, from one command.

A grid of search configs comes from a TOML file (`--config FILE`):

    description = "what this grid shows"
    [bench]                 # defaults for the flags below; flags given on the command line win
    modalities = ["synthetic", "text"]
    methods = ["ksynth"]
    n = 100
    split = "dev"
    [base]                  # dotted SearchConfig overrides for every config of the grid
    "budget.seconds" = 0.5
    [grid]                  # cartesian product, one config per combination
    "budget.seconds" = [0.1, 0.5, 2.0]
    [runs.segment_only]     # and/or explicitly named configs
    strategies = ["segment"]

Overrides apply in order: SearchConfig defaults, then `--budget` / `--set`, then [base], then
the grid or run entry (so a budget grid is not flattened by `--budget`).
"""
from __future__ import annotations

import itertools
import math
import os

import click

from ksynth.cli.params import SECONDS
from ksynth.errors import UsageError, clip

FILE_KEYS = ("description", "bench", "base", "grid", "runs")
SCALAR = (bool, int, float, str)          # what a SearchConfig override may be, or a list of these


def _is_names(v) -> bool:
    return isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v))


def _is_count(v) -> bool:
    return (type(v) is int and v >= 1) or v == ALL


ALL = "all"


class Count(click.ParamType):
    """--n: a number of items >= 1, or "all" (every chunk of the split)."""

    name = "count"

    def convert(self, value, param, ctx):
        if value is None or value == ALL or (type(value) is int and value >= 1):
            return value
        try:
            n = int(str(value).strip())
        except ValueError:
            self.fail(f"{value!r} is neither a number of items nor 'all'", param, ctx)
        if n < 1:
            self.fail(f"must be at least 1 (or 'all'), got {n}", param, ctx)
        return n


# [bench] keys: (accepts the value, what the message says it must be)
BENCH_KEYS = {
    "modalities": (_is_names, "a list of modality names"),
    "methods": (_is_names, "a list of method names"),
    "n": (_is_count, "an integer >= 1 or \"all\""),
    "split": (lambda v: isinstance(v, str), "a string (dev, test or all)"),
    "seed": (lambda v: type(v) is int, "an integer"),
}


def _check_override_value(path: str, where: str, key: str, value) -> None:
    """A SearchConfig override from TOML: a finite scalar or a flat list of them."""
    items = value if isinstance(value, list) else [value]
    for v in items:
        if not isinstance(v, SCALAR) or (isinstance(v, float) and not math.isfinite(v)):
            raise UsageError(f"config file {path}: {where} {key} = {clip(v)}: expected a number, "
                             f"true/false, a string or a list of those")


def _override_text(key: str, value) -> str:
    if isinstance(value, bool):
        return f"{key}={'true' if value else 'false'}"
    if isinstance(value, (list, tuple)):
        return f"{key}={','.join(str(v) for v in value)}"
    return f"{key}={value}"


def _label_value(value) -> str:
    return "+".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value).lower()


def read_config_file(path: str) -> dict:
    """The parsed grid file, every value's type checked (a bad one names its table and key)."""
    import tomllib                       # 3.11+, and only `bench --config` needs it

    from ksynth.cli.rows import read_text

    try:
        doc = tomllib.loads(read_text(path))
    except UsageError as e:
        raise UsageError(f"cannot read config file {str(e).removeprefix('cannot read ')}") from None
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"config file {path} is not valid TOML: {clip(e, 200)}") from None
    except (RecursionError, ValueError) as e:  # nesting past the stack, a 5,000-digit integer
        raise UsageError(f"config file {path} cannot be read as TOML: {clip(e)}") from None
    bad = [k for k in doc if k not in FILE_KEYS]
    if bad:
        raise UsageError(f"config file {path}: unknown key {clip(bad[0])}; expected {', '.join(FILE_KEYS)}")
    for table in ("bench", "base", "grid", "runs"):
        if not isinstance(doc.get(table, {}), dict):
            raise UsageError(f"config file {path}: {table} must be a table ([{table}])")
    if not isinstance(doc.get("description", ""), str):
        raise UsageError(f"config file {path}: description must be a string")
    for key, value in doc.get("bench", {}).items():
        if key not in BENCH_KEYS:
            raise UsageError(f"config file {path}: unknown [bench] key {clip(key)}; "
                             f"expected {', '.join(BENCH_KEYS)}")
        ok, what = BENCH_KEYS[key]
        if not ok(value):
            raise UsageError(f"config file {path}: [bench] {key} must be {what}, got {clip(value)}")
    for key, value in doc.get("base", {}).items():
        _check_override_value(path, "[base]", key, value)
    for key, values in doc.get("grid", {}).items():
        if not isinstance(values, list) or not values:
            raise UsageError(f"config file {path}: [grid] {key} must be a non-empty list of values")
        for v in values:
            _check_override_value(path, "[grid]", key, v)
    for name, table in doc.get("runs", {}).items():
        if not isinstance(table, dict):
            raise UsageError(f"config file {path}: [runs.{name}] must be a table of overrides")
        for key, value in table.items():
            _check_override_value(path, f"[runs.{name}]", key, value)
    return doc


def grid_configs(doc: dict, base_overrides: list[str], source: str = "the config file"):
    """[(label, SearchConfig)] from a parsed config file (an empty doc gives one default config).

    A value the file gives that SearchConfig refuses is reported with the file and its table.
    """
    from ksynth.config import SearchConfig, apply_overrides

    def apply(cfg, overrides: list[str], where: str):
        try:
            return apply_overrides(cfg, overrides)
        except UsageError as e:
            raise UsageError(f"config file {source}: {where}: {e}") from None

    base = apply_overrides(SearchConfig(), base_overrides)          # --budget / --set: the flags' own errors
    base = apply(base, [_override_text(k, v) for k, v in doc.get("base", {}).items()], "[base]")
    entries: list[tuple[str, str, list[str]]] = []                   # (label, table, overrides)
    grid = doc.get("grid", {})
    if grid:
        keys = list(grid)
        for k in keys:
            if not isinstance(grid[k], list) or not grid[k]:
                raise UsageError(f"[grid] {clip(k)} must be a non-empty list of values")
        for combo in itertools.product(*(grid[k] for k in keys)):
            label = ",".join(f"{k}={_label_value(v)}" for k, v in zip(keys, combo))
            entries.append((label, "[grid]", [_override_text(k, v) for k, v in zip(keys, combo)]))
    for name, table in doc.get("runs", {}).items():
        if not isinstance(table, dict):
            raise UsageError(f"[runs.{name}] must be a table of overrides")
        entries.append((name, f"[runs.{name}]", [_override_text(k, v) for k, v in table.items()]))
    if not entries:
        # Without a grid, run both objectives: `kt` for the official (KT prior) rate and `bits` for
        # the real decodable rate, since each objective's programs are poor under the other's cost.
        chosen = any(o.split("=", 1)[0].strip() == "objective" for o in base_overrides) or \
            "objective" in doc.get("base", {})
        entries = [("default", "", [])] if chosen else [("kt", "", ["objective=kt"]),
                                                         ("bits", "", ["objective=bits"])]
    return tuple((label, apply(base, ov, where)) for label, where, ov in entries)


def _names(values: tuple[str, ...]) -> list[str]:
    """Comma-separated and repeated flags alike: ('a,b', 'c') -> ['a', 'b', 'c']."""
    return [v.strip() for text in values for v in text.split(",") if v.strip()]


def _names_of(value) -> list[str]:
    """A [bench] list of names, or one comma-separated string."""
    return _names((value,) if isinstance(value, str) else tuple(value))


@click.command("bench")
@click.option("--modalities", multiple=True, metavar="LIST",
              help="Comma-separated: synthetic, text, dna, audio_8bit, audio_16bit, audio_mfcc [all].")
@click.option("--n", "n", type=Count(), default=100, show_default=True, metavar="N|all",
              help="Items per modality (a seeded sample of the split's chunks), or all of them "
                   "(natural modalities only: synthetic is drawn, give it a number).")
@click.option("--split", default="test", show_default=True, metavar="dev|test|all",
              help="Chunks with index < half are dev, the rest test.")
@click.option("--methods", multiple=True, metavar="LIST",
              help="Comma-separated: ksynth, the baselines (gzip, xz, ...), ground_truth [all].")
@click.option("--budget", type=SECONDS, default=None, metavar="S",
              help="Search seconds per item (budget.seconds) [SearchConfig default].")
@click.option("--set", "overrides", multiple=True, metavar="KEY=V",
              help="Any SearchConfig override, e.g. --set ablations.copies=false (repeatable).")
@click.option("--config", "config_file", default=None, metavar="FILE",
              help="TOML grid of search configs (see experiments/ablations/).")
@click.option("--out", default=os.path.join("runs", "bench"), show_default=True, metavar="DIR",
              help="Run directory: rows.jsonl, items.jsonl, report.md, plots. A rerun with the same "
                   "settings resumes; other settings are refused.")
@click.option("--new-run", is_flag=True,
              help="Start a new run folder beside --out (DIR-2, DIR-3, ...) instead of resuming.")
@click.option("--workers", type=click.IntRange(min=1), default=None, metavar="N",
              help="Parallel workers; 1 = serial in this process [all cores].")
@click.option("--ray-address", default=None, metavar="ADDR", help="Join this Ray cluster instead of a local one.")
@click.option("--data-dir", default=None, metavar="DIR",
              help="Folder with the KT .bin files [$KSYNTH_DATA_DIR or ../shared/kt-data].")
@click.option("--seed", type=int, default=0, show_default=True, help="Sampling seed (chunks and synthetic draws).")
@click.option("--report-only", is_flag=True, help="Only re-render report.md and plots from --out.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def bench_cmd(ctx, modalities, n, split, methods, budget, overrides, config_file, out, new_run, workers,
              ray_address, data_dir, seed, report_only, quiet):
    """Run the KT benchmark: ksynth and every baseline on each modality; write rows and a report."""
    from ksynth.bench import datasets, harness, report

    if report_only:
        click.echo(report.write(out))
        return
    doc = read_config_file(config_file) if config_file else {}
    file_bench = doc.get("bench", {})

    def pick(name, value):
        given = ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT
        return value if given or name not in file_bench else file_bench[name]

    n = pick("n", n)
    given = _names(modalities) if modalities else _names_of(pick("modalities", ()))
    if n == ALL and not given:
        given = list(datasets.NATURAL)           # synthetic has no fixed set of chunks to take all of
        click.echo(f"ksynth: --n all: every chunk of {', '.join(given)} (synthetic is drawn on "
                   f"demand: run it with a number)", err=True)
    modalities = given or list(datasets.MODALITIES)
    methods = _names(methods) if methods else _names_of(pick("methods", ()))
    if modalities == ["all"]:
        modalities = list(datasets.MODALITIES)
    datasets.check_modalities(modalities)
    if methods in ([], ["all"]):
        methods = None
    else:
        harness.check_methods(methods)
    split, seed = pick("split", split), pick("seed", seed)
    if n == ALL and "synthetic" in modalities:
        raise UsageError("--n all takes every chunk of a data file; synthetic is drawn on demand: "
                         "give it a number (--modalities synthetic --n 1000) or leave it out")
    n = None if n == ALL else n
    if split not in datasets.SPLITS:
        raise UsageError(f"unknown split {split!r}; choose one of {', '.join(datasets.SPLITS)}")
    base = ([f"budget.seconds={budget}"] if budget is not None else []) + list(overrides)
    configs = grid_configs(doc, base, config_file or "the config file")

    if new_run:
        out = harness.new_run_dir(out)
        click.echo(f"new run folder: {out}", err=True)
    spec = harness.BenchSpec(modalities=tuple(modalities), methods=tuple(methods) if methods else None,
                             n=n, split=split, seed=seed, data_dir=data_dir, configs=configs)
    rows = harness.run(spec, out, workers=workers or os.cpu_count() or 1, address=ray_address,
                       progress=not quiet)
    path = report.write(out)
    click.echo(f"rows: {rows}")
    click.echo(f"report: {path}")


COMMANDS = [bench_cmd]
