"""The KT benchmark harness: datasets, the gzip reference rates, runs, resume, report, CLI."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ksynth.bench import datasets, harness, report
from ksynth.cli import main
from ksynth.cli.bench import grid_configs, read_config_file
from ksynth.config import SearchConfig
from ksynth.errors import DataError, UsageError

REPO = Path(__file__).resolve().parents[1]
# KT.md section 6: gzip, official pooled formula over each file's 128-byte chunks.
KT_GZIP_POOLED = {"text": 0.373, "dna": 0.281, "audio_8bit": 0.409, "audio_16bit": 0.929, "audio_mfcc": 0.911}


# ---- datasets ---------------------------------------------------------------------------------
def test_chunks_and_splits():
    data = bytes(range(256)) * 2 + b"tail"                   # 516 bytes: 4 full chunks + 4 bytes
    parts = datasets.chunks(data)
    assert [len(p) for p in parts] == [128, 128, 128, 128, 4]
    assert b"".join(parts) == data                            # non-overlapping, nothing lost
    assert list(datasets.split_indices(5, "dev")) == [0, 1]
    assert list(datasets.split_indices(5, "test")) == [2, 3, 4]
    assert list(datasets.split_indices(5, "all")) == [0, 1, 2, 3, 4]
    with pytest.raises(UsageError, match="unknown split 'train'"):
        datasets.split_indices(5, "train")


def test_sampling_is_seeded_and_stays_in_split():
    test = datasets.split_indices(1000, "test")
    a = datasets.pick(test, 20, seed=1)
    assert a == datasets.pick(test, 20, seed=1) == sorted(a)
    assert a != datasets.pick(test, 20, seed=2)
    assert len(set(a)) == 20 and all(500 <= i < 1000 for i in a)
    assert datasets.pick(range(3), 10, seed=0) == [0, 1, 2]   # asking for more gives all


def test_load_natural_from_a_data_dir(tmp_path, monkeypatch):
    data = bytes((7 * i) % 256 for i in range(128 * 9 + 50))
    (tmp_path / "text.bin").write_bytes(data)
    items = datasets.load("text", "test", n=None, directory=tmp_path)
    assert [it.index for it in items] == [5, 6, 7, 8, 9]      # 10 chunks, test = the second half
    for it in items:
        assert it.data == data[128 * it.index:128 * (it.index + 1)] and it.program is None
    dev = datasets.load("text", "dev", n=3, seed=4, directory=tmp_path)
    assert len(dev) == 3 and all(it.index < 5 for it in dev)
    monkeypatch.setenv("KSYNTH_DATA_DIR", str(tmp_path))      # the env var is the next default
    assert datasets.load("text", "test")[0].data == items[0].data


def test_missing_data_file_is_named(tmp_path):
    with pytest.raises(DataError, match=r"missing KT data file .*dna\.bin") as e:
        datasets.load("dna", directory=tmp_path)
    assert "--data-dir" in str(e.value)


def test_synthetic_items_carry_ground_truth():
    from ksynth.dsl.interp import run
    from ksynth.dsl.program import Program

    items = datasets.load("synthetic", "test", n=5, seed=3)
    assert [it.index for it in items] == list(range(5))
    for it in items:
        assert list(it.data) == run(Program.parse(it.program))
    dev = datasets.load("synthetic", "dev", n=5, seed=3)
    assert [it.data for it in dev] != [it.data for it in items]   # splits draw different seeds
    with pytest.raises(UsageError, match="--n"):
        datasets.load("synthetic", "test", n=None)


def test_unknown_modality_suggests():
    with pytest.raises(UsageError, match="did you mean audio_8bit"):
        datasets.check_modalities(["audio_8bits"])


# ---- the gzip reference numbers ---------------------------------------------------------------
@pytest.mark.parametrize("modality", list(KT_GZIP_POOLED))
def test_gzip_reproduces_kt_pooled_rates(modality, kt_data_dir):
    from ksynth.baselines import POOLED

    parts = datasets.chunks(datasets.read_file(modality, kt_data_dir))
    rate = POOLED["gzip_kt"]([list(p) for p in parts]) / (8 * sum(map(len, parts)))
    assert round(rate, 3) == KT_GZIP_POOLED[modality]


# ---- runs, resume, report ---------------------------------------------------------------------
def _spec(**kw) -> harness.BenchSpec:
    base = dict(modalities=("synthetic",), methods=("literal", "gzip", "ground_truth"), n=3, seed=0)
    base.update(kw)
    return harness.BenchSpec(**base)


def test_tiny_run_rows_and_report(tmp_path):
    rows_path = harness.run(_spec(), tmp_path, workers=1, command="test", progress=False)
    rows = harness.read_jsonl(rows_path)
    assert len(rows) == 9
    items = {r["index"]: bytes.fromhex(r["data"]) for r in harness.read_jsonl(tmp_path / harness.ITEMS)}
    for r in rows:
        for key in ("modality", "method", "index", "n_bytes", "bits", "kt_bits", "verified", "seconds",
                    "config", "command", "commit"):
            assert key in r, key
        assert r["verified"] is True and r["n_bytes"] == len(items[r["index"]])
        assert r["command"] == "test" and SearchConfig.from_dict(r["config"]) == SearchConfig()
        if r["method"] == "gzip":
            import gzip

            assert r["bits"] == 8 * len(gzip.compress(items[r["index"]], 9)) and r["kt_bits"] is None
        else:
            assert r["kt_bits"] > 0 and r["program"]
    lit = [r for r in rows if r["method"] == "literal"]
    assert all(r["kt_bits"] == pytest.approx(8 * r["n_bytes"] + 2 * 4.643856, abs=1e-5) for r in lit)

    text = report.write(tmp_path).read_text()
    assert "| synthetic | 3 |" in text                               # headline row
    assert "gzip pooled (KT official" in text
    assert "ground-truth programs" in text and "# ground truth" in text
    assert "Published figures (NOT measured by ksynth)" in text and "arXiv 2503.13992" in text
    assert (tmp_path / report.PLOT_METHODS).stat().st_size > 1000
    assert not (tmp_path / report.PLOT_BUDGET).exists()             # one budget only


def test_resume_skips_done_rows(tmp_path):
    path = harness.run(_spec(), tmp_path, workers=1, progress=False)
    first = path.read_text().splitlines()
    harness.run(_spec(), tmp_path, workers=1, progress=False)
    assert path.read_text().splitlines() == first                    # nothing redone
    # a crash mid-write: the last row is cut short; the rerun drops it and redoes exactly that row
    path.write_text("\n".join(first[:-1]) + "\n" + first[-1][:40])
    harness.run(_spec(), tmp_path, workers=1, progress=False)
    again = harness.read_jsonl(path)
    assert len(again) == len(first)
    assert {harness.row_key(r) for r in again} == {harness.row_key(json.loads(x)) for x in first}
    with pytest.raises(UsageError, match="split='test'"):
        harness.run(_spec(split="dev"), tmp_path, workers=1, progress=False)


def test_a_failing_method_is_recorded_and_retried(tmp_path, monkeypatch):
    real = harness._run_baseline

    def flaky(name, item):
        if name == "gzip" and item.index == 1:
            raise RuntimeError("boom")
        return real(name, item)

    monkeypatch.setattr(harness, "_run_baseline", flaky)
    path = harness.run(_spec(methods=("gzip",)), tmp_path, workers=1, progress=False)
    bad = [r for r in harness.read_jsonl(path) if r["error"]]
    assert len(bad) == 1 and bad[0]["index"] == 1 and "RuntimeError: boom" in bad[0]["error"]
    assert "(+1 errors)" in report.write(tmp_path).read_text()
    monkeypatch.setattr(harness, "_run_baseline", real)
    harness.run(_spec(methods=("gzip",)), tmp_path, workers=1, progress=False)   # the resume retries it
    rows = harness.read_jsonl(path)
    assert len(rows) == 4 and sum(1 for r in rows if r["index"] == 1 and not r["error"]) == 1


def test_ksynth_method_runs_the_portfolio(tmp_path):
    pytest.importorskip("ksynth.search.portfolio")
    cfg = SearchConfig.from_dict({**SearchConfig().to_dict(), "budget": {"seconds": 0.2, "nodes": None}})
    spec = _spec(methods=("ksynth", "gzip"), n=2, configs=(("default", cfg),))
    rows = harness.read_jsonl(harness.run(spec, tmp_path, workers=1, progress=False))
    ks = [r for r in rows if r["method"] == "ksynth"]
    assert len(ks) == 2 and all(r["verified"] and r["program"] and r["budget_s"] == 0.2 for r in ks)
    assert "ksynth vs each baseline" in report.write(tmp_path).read_text()


def test_report_plots_rate_vs_budget(tmp_path):
    """A hand-made two-budget grid: the budget plot and the config table appear."""
    seq = bytes(range(10, 30))
    (tmp_path / harness.ITEMS).write_text(json.dumps(
        {"modality": "synthetic", "split": "test", "index": 0, "data": seq.hex(), "program": None}) + "\n")
    program = "sequence_1 = range_func_up(10, 29)\noutput = sequence_1"
    rows = [{"modality": "synthetic", "split": "test", "index": 0, "method": "ksynth", "label": f"b{b}",
             "n_bytes": 20, "bits": bits, "kt_bits": kt, "verified": True, "seconds": b, "program": program,
             "nodes": 1, "strategy": "segment", "budget_s": b, "config": {}, "command": "x", "commit": "c"}
            for b, bits, kt in ((0.1, 40, 25.3), (1.0, 30, 25.3))]
    rows.append({**rows[0], "method": "gzip", "label": None, "bits": 200, "kt_bits": None, "program": None,
                 "budget_s": None})
    (tmp_path / harness.ROWS).write_text("".join(json.dumps(r) + "\n" for r in rows))
    text = report.write(tmp_path).read_text()
    assert "## Search configurations" in text and "ksynth[b0.1]" in text
    assert "- gzip: 1.250 -> 0.250 (0.20x)" in text and "- gzip: 1.250 -> 0.188 (0.15x)" in text
    assert (tmp_path / report.PLOT_BUDGET).stat().st_size > 1000


def test_commit_outside_a_repo_is_unknown(tmp_path):
    assert harness.git_commit(tmp_path) == "unknown"
    head = harness.git_commit(REPO)
    assert head == "unknown" or len(head.split("+")[0]) == 40


def test_report_on_an_empty_run(tmp_path):
    with pytest.raises(DataError, match="no rows"):
        report.write(tmp_path)


# ---- config grids -----------------------------------------------------------------------------
def test_grid_configs_from_toml(tmp_path):
    path = tmp_path / "g.toml"
    path.write_text('[bench]\nn = 5\n[base]\n"ablations.copies" = false\n'
                    '[grid]\n"budget.seconds" = [0.1, 0.5]\nstrategies = [["segment"], ["segment", "solve"]]\n'
                    '[runs.bits]\nobjective = "bits"\n')
    doc = read_config_file(str(path))
    configs = dict(grid_configs(doc, ["budget.nodes=100"]))
    assert len(configs) == 5
    c = configs["budget.seconds=0.1,strategies=segment+solve"]
    assert c.budget.seconds == 0.1 and c.strategies == ("segment", "solve")
    assert all(not c.ablations.copies and c.budget.nodes == 100 for c in configs.values())
    assert configs["bits"].objective == "bits" and configs["bits"].budget.seconds == SearchConfig().budget.seconds


def test_default_run_searches_under_both_objectives():
    configs = dict(grid_configs({}, []))
    assert {label: c.objective for label, c in configs.items()} == {"kt": "kt", "bits": "bits"}
    chosen = grid_configs({}, ["objective=bits", "budget.seconds=0.3"])
    assert [(label, c.objective, c.budget.seconds) for label, c in chosen] == [("default", "bits", 0.3)]


@pytest.mark.parametrize("path", sorted((REPO / "experiments" / "ablations").glob("*.toml")), ids=lambda p: p.name)
def test_shipped_ablation_grids_are_valid(path):
    doc = read_config_file(str(path))
    configs = grid_configs(doc, [])
    assert len(configs) >= 2 and len({label for label, _ in configs}) == len(configs)
    assert doc.get("description")


def test_pruning_grid_has_every_off_switch():
    import dataclasses

    from ksynth.config import Ablations

    configs = dict(grid_configs(read_config_file(str(REPO / "experiments/ablations/pruning.toml")), []))
    assert configs["full"].ablations == Ablations()
    for f in dataclasses.fields(Ablations):
        off = [c for c in configs.values() if getattr(c.ablations, f.name) is False]
        assert len(off) == 1, f"pruning.toml needs exactly one run with ablations.{f.name} = false"


# ---- CLI --------------------------------------------------------------------------------------
@pytest.mark.parametrize("args, message", [
    (["--modalities", "txt"], "unknown modality 'txt' (did you mean text?)"),
    (["--methods", "gzipp"], "unknown method 'gzipp'"),
    (["--split", "train"], "unknown split 'train'"),
    (["--budget", "-1"], "'--budget': must be a finite number of seconds > 0"),
    (["--budget", "nan"], "'--budget': must be a finite number of seconds > 0"),
    (["--set", "budget.secs=1"], "unknown setting 'secs'"),
    (["--config", "/nonexistent/grid.toml"], "cannot read config file"),
    (["--n", "0"], "must be at least 1 (or 'all')"),
    (["--n", "most"], "neither a number of items nor 'all'"),
    (["--n", "all", "--modalities", "synthetic,text"], "synthetic is drawn on demand"),
])
def test_cli_bad_input_is_one_line_exit_2(args, message, tmp_path):
    result = CliRunner().invoke(main, ["bench", "--out", str(tmp_path), *args])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ksynth: error:") and message in lines[0]


def test_cli_tiny_run(tmp_path):
    out = tmp_path / "run"
    args = ["bench", "--modalities", "synthetic", "--methods", "gzip,literal", "--n", "2",
            "--workers", "1", "--out", str(out), "-q"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert (out / "report.md").exists() and len(harness.read_jsonl(out / "rows.jsonl")) == 4
    assert CliRunner().invoke(main, ["bench", "--out", str(out), "--report-only"]).exit_code == 0


# ---- large files, --n all ---------------------------------------------------------------------
def _big_file(path: Path, nbytes: int) -> None:
    """A sparse file of nbytes (zeros) with a marked byte at the start of a few chunks."""
    with open(path, "wb") as f:
        f.truncate(nbytes)
        for k in (0, 1000, nbytes // 128 - 1):
            f.seek(k * 128)
            f.write(bytes([k % 251 + 1]) * 3)


def test_a_large_file_is_never_read_whole(tmp_path):
    import tracemalloc

    nbytes = 64 << 20                            # 64 MiB: 524,288 chunks
    _big_file(tmp_path / "dna.bin", nbytes)
    tracemalloc.start()
    parts = datasets.open_chunks("dna", tmp_path)
    items = datasets.load("dna", "all", n=5, seed=1, directory=tmp_path)
    count, _, tasks = harness.plan(harness.BenchSpec(modalities=("dna",), methods=("gzip",), n=None,
                                                     split="test", data_dir=str(tmp_path)), set())
    first = [next(tasks) for _ in range(3)]
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(parts) == nbytes // 128 and count == nbytes // 256     # the test half, counted
    assert parts[1000] == bytes([1000 % 251 + 1]) * 3 + bytes(125)
    assert len(items) == 5 and all(len(it.data) == 128 for it in items)
    assert [it.index for it, _ in first] == [nbytes // 256, nbytes // 256 + 1, nbytes // 256 + 2]
    assert peak < 8 << 20                        # bytes: far below the file's 64 MiB


def test_cli_n_all_runs_every_chunk_with_a_progress_bar(tmp_path):
    data = bytes(range(256)) * 40 + b"tail"      # 10,244 bytes: 81 chunks, the last one short
    (tmp_path / "dna.bin").write_bytes(data)
    out = tmp_path / "run"
    args = ["bench", "--n", "all", "--modalities", "dna", "--methods", "gzip", "--split", "test",
            "--data-dir", str(tmp_path), "--workers", "1", "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    rows = harness.read_jsonl(out / "rows.jsonl")
    assert sorted(r["index"] for r in rows) == list(range(40, 81))  # every test chunk, once
    assert rows[-1]["n_bytes"] == 4 and all(r["verified"] for r in rows)
    assert "41/41" in result.output and "<00:00" in result.output  # done/total and the ETA
    assert json.loads((out / "run.json").read_text())["n"] is None
    again = CliRunner().invoke(main, args)           # checkpointed: a rerun has nothing to do
    assert again.exit_code == 0 and len(harness.read_jsonl(out / "rows.jsonl")) == 41
