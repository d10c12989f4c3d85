"""Fuzz every input surface of the CLI through its entry point, in process, as a user would hit it.

Random and mutated programs (`ksynth run`), JSONL rows (`ksynth score`, `ksynth solve`) and TOML
grids (`ksynth bench --config`). Each case must end with exit code 0, 1 or 2, print no traceback
and no "internal error" line, and stay within a generous time and memory guard (the targets
themselves, < 1 s and < 200 MB per hostile program, are measured by experiments/hostile_inputs.py).

Case counts (the max_examples below): 520 in the default suite, x20 (10,400) with KSYNTH_SLOW=1.
"""
from __future__ import annotations

import json
import os
import time
import tracemalloc

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings, strategies as st

from ksynth.cli import main
from ksynth.dsl.ops import OPS, PREDICATES
from ksynth.dsl.sample import sample

SCALE = 20 if os.environ.get("KSYNTH_SLOW") == "1" else 1
TIME_GUARD_S = 10.0                 # per case; a hang or a runaway loop, not a performance target
MEMORY_GUARD_BYTES = 200 << 20      # Python allocations traced during one case
LIMITS = ["--max-len", "5000", "--max-work", "200000", "--timeout", "2"]


def fuzz(n: int):
    return settings(max_examples=n * SCALE, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


def invoke(args: list[str], stdin: str | bytes | None = None):
    """Run the CLI in process under the guards; returns click's Result."""
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        result = CliRunner().invoke(main, args, input=stdin, catch_exceptions=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    seconds = time.perf_counter() - t0
    text = result.output + (result.stderr or "")
    assert result.exit_code in (0, 1, 2), (result.exit_code, text[-2000:], result.exc_info)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert "Traceback" not in text and "internal error" not in text, text[-2000:]
    if result.exit_code:
        errors = [line for line in result.stderr.splitlines() if line.startswith("ksynth: error:")]
        assert len(errors) == 1 and len(errors[0]) < 600, result.stderr[-2000:]
    assert seconds < TIME_GUARD_S, (seconds, args)
    assert peak < MEMORY_GUARD_BYTES, (peak, args)
    return result


# ---- programs ------------------------------------------------------------------------------------
SAMPLED = [s.program.format() for s in sample(40, seed=3)]
NAMES = [f"sequence_{k}" for k in range(1, 6)] + ["output", "x", "is_even"]
TOKENS = (list(OPS) + list(PREDICATES) + NAMES + ["=", "(", ")", "[", "]", ",", "#", "\n", " ", "\t",
          "-", "+", "0", "7", "255", "-3", "65536", "2147483648", "9" * 60, "\u00e9", "\u2028", "\x00"])


@st.composite
def token_soup(draw):
    return "".join(draw(st.lists(st.sampled_from(TOKENS), max_size=60)))


@st.composite
def mutated_program(draw):
    """A sampled program with a few edits: a character dropped, swapped, repeated or inserted."""
    text = draw(st.sampled_from(SAMPLED))
    for _ in range(draw(st.integers(1, 4))):
        if not text:
            break
        i = draw(st.integers(0, len(text) - 1))
        edit = draw(st.sampled_from(["drop", "char", "token", "repeat"]))
        if edit == "drop":
            text = text[:i] + text[i + 1:]
        elif edit == "char":
            # no lone surrogates: click's runner cannot encode them to stdin's UTF-8 bytes (a user's
            # stdin is bytes: test_run_arbitrary_bytes covers invalid UTF-8)
            text = text[:i] + draw(st.characters(blacklist_categories=("Cs",))) + text[i + 1:]
        elif edit == "token":
            text = text[:i] + draw(st.sampled_from(TOKENS)) + text[i:]
        else:
            j = min(len(text), i + draw(st.integers(1, 40)))
            text = text[:j] + text[i:j] * draw(st.integers(1, 50)) + text[j:]
    return text


@st.composite
def chain_program(draw):
    """Well-formed programs that grow lists (repeat, concatenate, interleave) toward the limits."""
    n = draw(st.integers(1, 8))
    lines = [f"sequence_1 = repeat_num({draw(st.integers(0, 3000))}, {draw(st.integers(-300, 300))})"]
    for k in range(2, n + 1):
        ref = lambda: f"sequence_{draw(st.integers(1, k - 1))}"       # noqa: E731
        op = draw(st.sampled_from(["repeat_list", "concatenate", "interleave", "max_n", "reverse_list",
                                   "scan_add", "modulo_two_lists", "add_item_list"]))
        if op == "repeat_list":
            body = f"repeat_list({draw(st.integers(-1, 40))}, {ref()})"
        elif op == "concatenate":
            body = f"concatenate({', '.join(ref() for _ in range(draw(st.integers(1, 30))))})"
        elif op in ("interleave", "modulo_two_lists"):
            body = f"{op}({ref()}, {ref()})"
        elif op in ("max_n", "add_item_list"):
            body = f"{op}({ref()}, {draw(st.integers(-5, 10**10))})"
        else:
            body = f"{op}({ref()})"
        lines.append(f"sequence_{k} = {body}")
    return "\n".join(lines) + f"\noutput = sequence_{n}\n"


@fuzz(80)
@given(token_soup())
def test_run_token_soup(text):
    invoke(["run", *LIMITS, "-"], text)


@fuzz(120)
@given(mutated_program())
def test_run_mutated_programs(text):
    invoke(["run", *LIMITS, "-"], text)


@fuzz(60)
@given(chain_program())
def test_run_programs_at_the_limits(text):
    result = invoke(["run", *LIMITS, "-"], text)
    if result.exit_code == 0:
        assert len(json.loads(result.stdout)) <= 5000


@fuzz(20)
@given(st.binary(max_size=300))
def test_run_arbitrary_bytes(data):
    invoke(["run", "-"], data)


# ---- JSONL rows ----------------------------------------------------------------------------------
JSON_SCALARS = st.none() | st.booleans() | st.integers(-300, 300) | st.floats() | st.text(max_size=20)
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)


@st.composite
def jsonl_row(draw):
    kind = draw(st.sampled_from(["value", "row", "text", "deep", "bigint"]))
    if kind == "value":
        return json.dumps(draw(JSON_VALUES))
    if kind == "row":
        row = {"sequence": draw(st.lists(st.integers(-2, 300), max_size=12) | JSON_VALUES)}
        if draw(st.booleans()):
            row["program"] = draw(st.sampled_from(SAMPLED) | mutated_program() | JSON_VALUES)
        return json.dumps(row)
    if kind == "text":
        return draw(st.text(max_size=60))
    if kind == "deep":
        depth = draw(st.integers(500, 30000))
        return '{"sequence": ' + "[" * depth + "]" * draw(st.sampled_from([0, depth])) + "}"
    return '{"sequence": [1, ' + "9" * draw(st.integers(4000, 6000)) + "]}"


@fuzz(140)
@given(st.lists(jsonl_row(), min_size=0, max_size=4))
def test_score_rows(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("score") / "rows.jsonl"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8", errors="surrogatepass")
    invoke(["score", "--input", str(path), *LIMITS])


@fuzz(10)
@given(st.binary(max_size=200))
def test_score_arbitrary_bytes(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("score") / "rows.jsonl"
    path.write_bytes(data)
    invoke(["score", "--input", str(path)])


@st.composite
def solve_rows(draw):
    """Mostly malformed rows (refused before any search), a few tiny valid ones."""
    rows = draw(st.lists(jsonl_row(), max_size=3))
    if draw(st.booleans()):
        rows.append(json.dumps({"sequence": draw(st.lists(st.integers(0, 255), min_size=1, max_size=6))}))
    return rows


@fuzz(30)
@given(solve_rows(), st.sampled_from([[], ["--resume"], ["--force"]]), st.binary(max_size=80))
def test_solve_rows(tmp_path_factory, rows, flags, existing):
    folder = tmp_path_factory.mktemp("solve")
    inp, out = folder / "in.jsonl", folder / "out.jsonl"
    inp.write_text("\n".join(rows) + "\n", encoding="utf-8", errors="surrogatepass")
    if existing:
        out.write_bytes(existing)                 # a stale, torn or foreign output file
    invoke(["solve", "--input", str(inp), "--output", str(out), "--budget", "0.05",
            "--strategies", "segment", *flags])


# ---- TOML grids ----------------------------------------------------------------------------------
TOML_KEYS = ["description", "bench", "base", "grid", "runs", "budget.seconds", "strategies", "n",
             "seed", "split", "modalities", "methods", "objective", "max_len", "ablations.copies",
             "budget.nodes", "nope"]
TOML_VALUES = ['1', '0', '-1', '0.5', 'nan', 'inf', '-inf', '"kt"', '"x"', 'true', '[]', '[0.1, 0.2]',
               '["segment"]', '[["segment"], ["solve"]]', '{a = 1}', '1979-05-27', '[1, "a"]',
               '9' * 5000, '"' + "s" * 200 + '"', '[[[[[[1]]]]]]']


@st.composite
def toml_grid(draw):
    out = []
    for _ in range(draw(st.integers(0, 6))):
        if draw(st.integers(0, 3)) == 0:
            out.append(f"[{draw(st.sampled_from(['bench', 'base', 'grid', 'runs.a', 'runs', 'x']))}]")
        else:
            out.append(f'"{draw(st.sampled_from(TOML_KEYS))}" = {draw(st.sampled_from(TOML_VALUES))}')
    text = "\n".join(out) + "\n"
    if draw(st.integers(0, 9)) == 0:                  # now and then, raw garbage
        text = draw(st.text(max_size=80))
    return text


@fuzz(60)
@given(toml_grid())
def test_bench_toml_grids(tmp_path_factory, monkeypatch, text):
    from ksynth.bench import report

    folder = tmp_path_factory.mktemp("bench")
    grid = folder / "grid.toml"
    grid.write_text(text, encoding="utf-8", errors="surrogatepass")
    # the harness runs for real (one synthetic item, gzip only); the report's plots are skipped
    monkeypatch.setattr(report, "write", lambda out: os.path.join(out, "report.md"))
    invoke(["bench", "--config", str(grid), "--out", str(folder / "run"), "--modalities", "synthetic",
            "--methods", "gzip", "--n", "1", "--workers", "1", "-q"])

