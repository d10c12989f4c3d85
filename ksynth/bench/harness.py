"""Run methods x items and append one JSON row per (item, method) to `rows.jsonl`.

Methods: `ksynth` (the search portfolio under a SearchConfig), every baseline in
`ksynth.baselines.BASELINES`, and `ground_truth` (synthetic only: the sampler's own program).
Every row records what was measured and how:

    modality, split, index, method, label, n_bytes,
    bits       that method's real encoded size of the item (a decodable code), in bits
    bits_charged, decoder_bits   natural data: bits + the trained priors' share, and the
               decoder's share (bench/charges.py); null for synthetic items
    kt_bits    KT uniform-prior score of the program (program methods; else null)
    verified   the program reproduces the item (interpreter) / the codec round-trips
    seconds    wall time for this item and method
    program    KT text (program methods), nodes, strategy (ksynth)
    budget_s, config, command, commit

A run directory holds `run.json` (everything that decides a row: split, seed, n, data folder and
every labelled search config in full, plus the modalities and methods run so far), `items.jsonl` (each item's bytes as hex,
and the ground-truth program, so reports need no data files) and `rows.jsonl`. Rows are written
as they arrive; a rerun skips every (modality, method, index) already present (`ksynth` rows are
keyed by their config label too), so an interrupted run resumes where it stopped. A rerun whose split, seed, n, data folder or
search configs differ from run.json is refused (`new_run_dir` picks a fresh folder instead), so a
run folder never mixes rows made under different settings; more modalities or methods may be
added to a run, since rows are keyed by them.

Grids: several labelled SearchConfigs in one run; baselines do not depend on the search config,
so they run once per item whatever the grid.
"""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ksynth.bench import datasets
from ksynth.config import SearchConfig
from ksynth.errors import DataError, IOFailure, UsageError

KSYNTH = "ksynth"
GROUND_TRUTH = "ground_truth"
ROWS, ITEMS, RUN = "rows.jsonl", "items.jsonl", "run.json"
DEFAULT_LABEL = "default"


def baseline_names() -> tuple[str, ...]:
    from ksynth.baselines import BASELINES

    return tuple(BASELINES)


def method_names() -> tuple[str, ...]:
    """Every method the harness knows, in report order."""
    return (KSYNTH,) + baseline_names() + (GROUND_TRUTH,)


def check_methods(names) -> tuple[str, ...]:
    known = method_names()
    for name in names:
        if name not in known:
            import difflib

            near = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {near[0]}?)" if near else ""
            raise UsageError(f"unknown method {name!r}{hint}; choose from {', '.join(known)}")
    return tuple(names)


def git_commit(root: Path = datasets.REPO_ROOT) -> str:
    """HEAD's hash, with "+dirty" when tracked files differ from it; "unknown" outside a repo."""
    def git(*args):
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)
        return out.stdout.strip() if out.returncode == 0 else None

    try:
        head = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if not head:
        return "unknown"
    return head + ("+dirty" if dirty else "")


# ---- one item ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Task:
    """One item and the methods still to run on it, under one labelled search config."""

    item: datasets.Item
    split: str
    methods: tuple[str, ...]
    label: str
    config: dict = field(hash=False)


_PORTFOLIOS: dict[str, object] = {}       # per worker process: one portfolio per config


def _portfolio(config: dict):
    key = json.dumps(config, sort_keys=True)
    if key not in _PORTFOLIOS:
        from ksynth.search.portfolio import Portfolio

        _PORTFOLIOS[key] = Portfolio(SearchConfig.from_dict(config))
    return _PORTFOLIOS[key]


def _verify(program, data: bytes) -> bool:
    from ksynth.dsl.interp import try_run

    return program is not None and try_run(program) == list(data)


def _run_ksynth(item, config):
    t0 = time.perf_counter()
    result = _portfolio(config).search(list(item.data))
    seconds = time.perf_counter() - t0
    return {"bits": result.bits, "kt_bits": result.kt_bits, "verified": _verify(result.program, item.data),
            "seconds": seconds, "program": result.program.format() if result.program else None,
            "nodes": result.nodes, "strategy": result.strategy}


def _run_ground_truth(item):
    from ksynth.dsl import encode
    from ksynth.dsl.program import Program
    from ksynth.dsl.score import kt_bits

    t0 = time.perf_counter()
    program = Program.parse(item.program)
    row = {"bits": encode.bits(program), "kt_bits": kt_bits(program)}
    row["verified"] = _verify(program, item.data)
    row.update(seconds=time.perf_counter() - t0, program=item.program)
    return row


def _run_baseline(name, item):
    from ksynth.baselines import BASELINES

    codec = BASELINES[name]
    if hasattr(codec, "for_item"):               # a baseline trained per modality (zstd_dict)
        codec = codec.for_item(item)
    t0 = time.perf_counter()
    encoded = codec.encode(item.data)
    verified = codec.decode(encoded) == item.data
    seconds = time.perf_counter() - t0
    row = {"bits": codec.bits(item.data), "kt_bits": None, "verified": verified, "seconds": seconds}
    if hasattr(codec, "kt_bits"):                # the literal program is a KT program too
        from ksynth.dsl.program import Program

        row["kt_bits"] = codec.kt_bits(item.data)
        row["program"] = Program.build([("set_list", (tuple(item.data),))]).format()
    return row


def run_task(task: Task) -> list[dict]:
    """All pending methods on one item; module-level so Ray can ship it.

    A method that raises yields a row with `error` set (and is retried by the next resume) so one
    bad item cannot sink a long run.
    """
    rows = []
    for method in task.methods:
        base = {"modality": task.item.modality, "split": task.split, "index": task.item.index,
                "method": method, "label": task.label if method == KSYNTH else None,
                "n_bytes": len(task.item.data), "bits": None, "kt_bits": None, "verified": False,
                "seconds": 0.0, "program": None, "nodes": None, "strategy": None,
                "budget_s": task.config["budget"]["seconds"] if method == KSYNTH else None,
                "config": task.config, "error": None}
        try:
            if method == KSYNTH:
                base.update(_run_ksynth(task.item, task.config))
            elif method == GROUND_TRUTH:
                base.update(_run_ground_truth(task.item))
            else:
                base.update(_run_baseline(method, task.item))
        except Exception as e:                   # recorded, reported, retried on resume
            base["error"] = f"{type(e).__name__}: {e}"
        if not base["error"]:
            from ksynth.bench.charges import charge

            base.update(charge(base))            # bits_charged, decoder_bits (natural data)
        rows.append(base)
    return rows


# ---- a run directory ------------------------------------------------------------------------
def row_key(row: dict) -> tuple:
    return (row["modality"], row["method"], row["index"], row.get("label") if row["method"] == KSYNTH else None)


def read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    rows = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise DataError(f"{path}: line {lineno} is not JSON ({e.msg})") from None
            except (ValueError, RecursionError):   # a 5,000-digit integer, nesting past the stack
                raise DataError(f"{path}: line {lineno} is not readable JSON") from None
    return rows


def _drop_partial_tail(path: Path) -> None:
    """A crash mid-write leaves a last line without its newline: drop it, it will be rerun."""
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with open(path, "r+b") as f:
            f.truncate(data.rfind(b"\n") + 1)


RUN_KEYS = ("split", "seed", "n", "data_dir", "configs")    # a difference here changes rows


def run_record(spec: "BenchSpec") -> dict:
    """What run.json records of a spec: the keys that decide rows, then what was run so far
    (through JSON and back, so that tuples compare equal to the lists run.json holds)."""
    return json.loads(json.dumps({"split": spec.split, "seed": spec.seed, "n": spec.n, "data_dir": spec.data_dir,
            "configs": {label: cfg.to_dict() for label, cfg in spec.configs},
            "modalities": list(spec.modalities), "methods": list(spec.methods or method_names())}))


def _differs(old: dict, new: dict) -> str | None:
    """The first setting of RUN_KEYS that differs, described for a user; None when all agree."""
    for key in RUN_KEYS:
        if key not in old:
            return f"{key} is not recorded (an older run folder)"
        if key == "configs" and old[key] != new[key]:
            labels = sorted(set(old[key]) ^ set(new[key]))
            if labels:
                return f"the search configs differ (labels {', '.join(labels)})"
            label = next(k for k in new[key] if old[key][k] != new[key][k])
            return f"search config {label!r} differs (budget, --set or the grid)"
        if old[key] != new[key]:
            return f"{key}={old[key]!r}, not {new[key]!r}"
    return None


def _write_json(path: Path, doc: dict) -> None:
    """Atomically: a temporary sibling renamed over `path`."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(json.dumps(doc, indent=1) + "\n")
    os.replace(tmp, path)


def _check_run_file(out: Path, record: dict) -> None:
    path = out / RUN
    if path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, RecursionError):
            raise DataError(f"{path} is not a run record (not JSON); choose another --out") from None
        why = _differs(old if isinstance(old, dict) else {}, record)
        if why:
            raise UsageError(f"{out} holds a run with other settings: {why}; rerun with the same "
                             f"settings to resume, choose another --out, or pass --new-run")
        record = dict(record, modalities=sorted(set(old.get("modalities", [])) | set(record["modalities"])),
                      methods=sorted(set(old.get("methods", [])) | set(record["methods"])))
    _write_json(path, record)


def new_run_dir(out: str | os.PathLike) -> Path:
    """`out` itself when it holds no run yet, else the first of out-2, out-3, ... that does not exist."""
    out = Path(out)
    if not (out / RUN).exists():
        return out
    k = 2
    while (candidate := out.with_name(f"{out.name}-{k}")).exists():
        k += 1
    return candidate


@dataclass(frozen=True)
class BenchSpec:
    modalities: tuple[str, ...] = datasets.MODALITIES
    methods: tuple[str, ...] | None = None           # None = every method
    n: int | None = 200
    split: str = "test"
    seed: int = 0
    data_dir: str | None = None
    configs: tuple[tuple[str, SearchConfig], ...] = ((DEFAULT_LABEL, SearchConfig()),)


# seconds per 128-byte item of a method other than ksynth (measured: LMiC ~23 ms, brotli and the
# literal program ~1 ms, the other codecs ~0.1 ms); the parallel rule reads them
METHOD_SECONDS = {"lmic": 0.025}
OTHER_METHOD_S = 0.001


def _pending(spec: BenchSpec, done: set, modality: str, index: int, has_program: bool):
    """(label, config, methods still to run) per config for one item."""
    methods = spec.methods or method_names()
    for k, (label, cfg) in enumerate(spec.configs):
        todo = []
        for m in methods:
            if m == GROUND_TRUTH and not has_program:
                continue                     # natural data has no ground truth
            if m != KSYNTH and k > 0:
                continue                     # baselines: once per item
            if (modality, m, index, label if m == KSYNTH else None) not in done:
                todo.append(m)
        if todo:
            yield label, cfg, tuple(todo)


def plan(spec: BenchSpec, done: set):
    """(number of tasks still to run, their estimated seconds each, a generator of them).

    The count is made from indices alone; the generator reads each item's chunk when its task is
    built, so a 1 GB file is never held whole. Tasks come in (modality, index, config) order."""
    count, seconds = 0, 0.0
    for modality in spec.modalities:
        for i in datasets.indices(modality, spec.split, spec.n, spec.seed, spec.data_dir):
            for _, cfg, todo in _pending(spec, done, modality, i, modality == "synthetic"):
                count += 1
                seconds += sum((cfg.budget.seconds or 1.0) if m == KSYNTH else
                               METHOD_SECONDS.get(m, OTHER_METHOD_S) for m in todo)

    def tasks():
        for modality in spec.modalities:
            for item in datasets.iter_items(modality, spec.split, spec.n, spec.seed, spec.data_dir):
                yield item, [Task(item, spec.split, todo, label, cfg.to_dict())
                             for label, cfg, todo in _pending(spec, done, modality, item.index,
                                                              item.program is not None)]

    return count, seconds / max(count, 1), tasks()


def run(spec: BenchSpec, out: str | os.PathLike, workers: int = 1, address: str | None = None,
        command: str | None = None, progress: bool = True) -> Path:
    """Run (or resume) a benchmark into `out`; returns the rows.jsonl path."""
    from ksynth.cli.output import write_row
    from ksynth.parallel import Parallel
    from ksynth.search.lm_policy import serving_for

    datasets.check_modalities(spec.modalities)
    if spec.methods is not None:
        check_methods(spec.methods)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a run folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        _check_run_file(out, run_record(spec))
        rows_path = out / ROWS
        _drop_partial_tail(rows_path)
        _drop_partial_tail(out / ITEMS)
    except OSError as e:
        raise IOFailure(f"cannot write the run folder {out}: {e.strerror or e}") from None
    done = {row_key(r) for r in read_jsonl(rows_path) if not r.get("error")}
    n_tasks, task_s, pending = plan(spec, done)
    known = {(r["modality"], r["index"]) for r in read_jsonl(out / ITEMS)}
    items_file = open(out / ITEMS, "a", encoding="utf-8")

    def tasks():
        """Each item's row in items.jsonl as its tasks are handed out, then the tasks."""
        for it, item_tasks in pending:
            if (it.modality, it.index) not in known:
                items_file.write(json.dumps({"modality": it.modality, "split": spec.split,
                                             "index": it.index, "data": it.data.hex(),
                                             "program": it.program}) + "\n")
                known.add((it.modality, it.index))
            yield from item_tasks
        items_file.flush()

    argv = [Path(sys.argv[0]).name] + sys.argv[1:]          # "ksynth bench ...", not the script's path
    extra = {"command": command or " ".join(shlex.quote(a) for a in argv), "commit": git_commit()}
    backend = "ray" if (address or workers > 1) else "serial"
    from tqdm import tqdm

    # tqdm's bar shows done/total, items/s and the ETA ([elapsed<remaining]) on stderr
    bar = tqdm(total=n_tasks, desc="bench", unit="item", file=sys.stderr,
               disable=not progress or not n_tasks, smoothing=0.05)
    errors = 0
    log = (lambda line: bar.write(line, file=sys.stderr)) if progress else None
    searched = [c for _, c in spec.configs] if spec.methods is None or KSYNTH in spec.methods else []
    with items_file, open(rows_path, "a", encoding="utf-8") as f, \
            Parallel(backend, workers, address, log=log) as par:
        if n_tasks:
            par.decide(n_tasks, task_s)
        # on Ray with a GPU, an LM policy the configs load is served once for every worker (a GPU
        # actor): search/lm_policy.py serving_for
        with serving_for(par, searched, log) as wrap:
            for _, rows in par.imap(wrap(run_task), tasks(), item_seconds=task_s, n_items=n_tasks):
                for row in rows:
                    row.update(extra)
                    if row["error"]:
                        errors += 1
                        bar.write(f"ksynth: warning: {row['method']} failed on {row['modality']} "
                                  f"#{row['index']}: {row['error']}", file=sys.stderr)
                # one item's rows in one write: a stop between two writes leaves whole lines
                write_row(f, "\n".join(json.dumps(row, allow_nan=False) for row in rows), str(rows_path))
                bar.set_postfix_str(f"{rows[0]['modality']} #{rows[0]['index']}", refresh=False)
                bar.update(1)
    bar.close()
    if errors:
        print(f"ksynth: warning: {errors} method runs failed (rows with 'error'); rerun to retry them",
              file=sys.stderr)
    return rows_path
