"""`ksynth solve` on Ray as users run it (subprocesses): a killed worker loses and duplicates no row,
SIGINT / SIGTERM leave a whole file and no Ray process behind, `--resume` finishes exactly the
rest, and two Ray nodes on this machine both run tasks.

Every test owns its Ray processes: a local instance started by the `ksynth` subprocess (shut down
by it), or `ray start --block` nodes started here (stopped by terminating exactly those commands,
never a global `ray stop`). Temp dirs are short paths under /tmp: Ray's socket paths must stay
under 108 bytes. After each test the processes it saw are checked to be gone.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from ksynth.dsl.sample import sample
from ksynth.parallel import HIDE_START_ENV, MIN_WORK_ENV

pytest.importorskip("ray")
REPO = Path(__file__).resolve().parents[1]
BUDGET_S = "0.2"                 # per row: enough rows in flight to kill or interrupt one mid-run
ROW_WAIT_S = 90                  # the first rows come after Ray's start-up (~5-10 s under load)


@pytest.fixture
def ray_tmp():
    path = tempfile.mkdtemp(prefix="kr", dir="/tmp")
    yield path
    subprocess.run(["rm", "-rf", path], check=False)


def _env(ray_tmp: str) -> dict:
    return dict(os.environ, PYTHONPATH=str(REPO), RAY_TMPDIR=ray_tmp, RAY_USAGE_STATS_ENABLED="0",
                **{MIN_WORK_ENV: "0", HIDE_START_ENV: "0"})   # tiny jobs, every row on Ray


def _input(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps({"sequence": s.sequence}) + "\n" for s in sample(n, seed=11)))
    return path


def _solve(inp, out, env, *extra):
    return subprocess.Popen([sys.executable, "-m", "ksynth", "solve", "--input", str(inp), "--output",
                             str(out), "--budget", BUDGET_S, *extra], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _wait_rows(path: Path, proc, k: int, pred=lambda r: True) -> list[dict]:
    end = time.monotonic() + ROW_WAIT_S
    while time.monotonic() < end and proc.poll() is None:
        data = path.read_bytes() if path.exists() else b""
        rows = [json.loads(x) for x in data[:data.rfind(b"\n") + 1].splitlines()]
        if sum(map(pred, rows)) >= k:
            return rows
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"no {k} rows in {ROW_WAIT_S} s: {proc.communicate()[1][-2000:]}")


def _children() -> dict[int, int]:
    """pid -> parent pid of every process (from /proc)."""
    out = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = Path(f"/proc/{d}/stat").read_text()
            except OSError:
                continue
            out[int(d)] = int(stat.rsplit(")", 1)[1].split()[1])
    return out


def descendants(pid: int) -> set[int]:
    parent = _children()
    found, todo = set(), [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        found.update(kids)
        todo += kids
    return found


def assert_gone(pids: set[int], timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        alive = {p for p in pids if Path(f"/proc/{p}").exists() and
                 "zombie" not in _state(p)}
        if not alive:
            return
        time.sleep(0.2)
    raise AssertionError(f"processes left running: {sorted(alive)}")


def _state(pid: int) -> str:
    try:
        return {"Z": "zombie"}.get(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0], "")
    except OSError:
        return "zombie"                              # gone meanwhile


def _check_all_once(rows: list[dict], n: int) -> None:
    assert sorted(r["index"] for r in rows) == list(range(n))          # every input once
    assert all(r["verified"] for r in rows)


def test_a_killed_worker_loses_and_duplicates_nothing(tmp_path, ray_tmp):
    n = 12
    inp, out = _input(tmp_path, n), tmp_path / "out.jsonl"
    proc = _solve(inp, out, _env(ray_tmp), "--workers", "2")
    try:
        first = _wait_rows(out, proc, 1, lambda r: "pid" in r)
        victim = next(r["pid"] for r in first if "pid" in r)
        assert victim != proc.pid and victim in descendants(proc.pid)    # a Ray worker of this run
        os.kill(victim, signal.SIGKILL)                                   # mid-way through its next row
        _, err = proc.communicate(timeout=180)
    finally:
        proc.kill()
    assert proc.returncode == 0, err[-2000:]
    rows = _rows(out)
    _check_all_once(rows, n)
    assert not Path(f"/proc/{victim}").exists() or _state(victim) == "zombie"
    assert victim not in {r["pid"] for r in rows[len(first):]}            # it never came back


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_stopped_driver_leaves_whole_rows_and_no_ray(tmp_path, ray_tmp, sig, code):
    n = 100            # enough rows that the run is still going when the signal lands (a row
                       # takes ~0.1 s of its 0.2 s budget: 40 rows on 2 workers could all be done)
    inp, out = _input(tmp_path, n), tmp_path / "out.jsonl"
    proc = _solve(inp, out, _env(ray_tmp), "--workers", "2")
    try:
        _wait_rows(out, proc, 2)
        ray_pids = descendants(proc.pid)
        assert ray_pids                                                   # the instance it started
        assert proc.poll() is None, "the run ended before the signal: give it more rows"
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == code, err[-2000:]
    assert ("terminated" if sig == signal.SIGTERM else "interrupted") in err
    data = out.read_bytes()
    assert data.endswith(b"\n")                                           # no torn line
    done = _rows(out)
    assert len({r["index"] for r in done}) == len(done) < n
    assert_gone(ray_pids)                                                 # Ray shut down with it
    if sig == signal.SIGINT:
        return                                    # the resume is the same after either signal
    # --resume (serially here) solves exactly the missing rows
    rest = subprocess.run([sys.executable, "-m", "ksynth", "solve", "--input", str(inp), "--output",
                           str(out), "--budget", BUDGET_S, "--resume"], env=_env(ray_tmp), cwd=REPO,
                          capture_output=True, text=True, timeout=180)
    assert rest.returncode == 0, rest.stderr[-2000:]
    rows = _rows(out)
    _check_all_once(rows, n)
    assert rows[:len(done)] == done                                       # nothing redone or moved


def test_a_sigterm_while_ray_starts_stops_the_run_and_its_ray(tmp_path, ray_tmp):
    """ray.init installs its own SIGTERM handler first thing; a SIGTERM in that window used to be
    swallowed (the run went on to the end) or to exit with Ray's code."""
    inp, out = _input(tmp_path, 40), tmp_path / "out.jsonl"
    proc = _solve(inp, out, _env(ray_tmp), "--workers", "2")
    try:
        end = time.monotonic() + ROW_WAIT_S
        while not any(Path(ray_tmp).glob("session_*")):      # ray.init is under way
            assert time.monotonic() < end and proc.poll() is None, proc.communicate()[1][-2000:]
            time.sleep(0.01)
        pids = descendants(proc.pid)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        pids |= descendants(proc.pid) if proc.poll() is None else set()
    finally:
        proc.kill()
    assert proc.returncode == 143, err[-2000:]
    assert "terminated" in err
    assert not out.exists() or out.read_bytes().endswith(b"\n") or not out.read_bytes()
    assert len(_rows(out)) < 40
    assert_gone(pids)


# ---- two nodes on one machine -------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ray_node(args: list[str], temp_dir: str, env: dict) -> subprocess.Popen:
    """`ray start ... --block` with its own temp dir and agent ports (two nodes share this host)."""
    ports = []
    for flag in ("--dashboard-agent-listen-port", "--dashboard-agent-grpc-port",
                 "--metrics-export-port", "--runtime-env-agent-port"):
        ports += [flag, str(_free_port())]
    proc = subprocess.Popen([sys.executable, "-m", "ray.scripts.scripts", "start", *args,
                             "--temp-dir", temp_dir, "--num-cpus", "1", "--disable-usage-stats",
                             "--block", *ports], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    seen = []
    for line in proc.stdout:                   # it prints this once the node is up, then blocks
        seen.append(line)
        if "Ray runtime started" in line:
            return proc
    proc.kill()
    raise AssertionError("ray start failed:\n" + "".join(seen[-30:]))


def test_two_nodes_both_run_tasks(tmp_path, ray_tmp):
    n = 8
    inp, out = _input(tmp_path, n), tmp_path / "out.jsonl"
    env = _env(ray_tmp)
    port = _free_port()
    nodes, pids = [], set()
    try:
        nodes.append(_ray_node(["--head", f"--port={port}", "--node-ip-address=127.0.0.1",
                                "--include-dashboard=false", '--resources={"head": 1}'],
                               os.path.join(ray_tmp, "h"), env))
        nodes.append(_ray_node([f"--address=127.0.0.1:{port}", "--node-ip-address=127.0.0.1",
                                '--resources={"node2": 1}'], os.path.join(ray_tmp, "n"), env))
        done = subprocess.run([sys.executable, "-m", "ksynth", "solve", "--input", str(inp), "--output",
                               str(out), "--budget", BUDGET_S, "--workers", "2", "--ray-address",
                               f"127.0.0.1:{port}"], env=env, cwd=REPO, capture_output=True,
                              text=True, timeout=180)
        assert done.returncode == 0, done.stderr[-2000:]
        assert "ray on the cluster at 127.0.0.1" in done.stderr
        for node in nodes:
            pids |= {node.pid} | descendants(node.pid)
    finally:
        for node in nodes:                     # exactly the nodes started here
            node.terminate()
        for node in nodes:
            try:
                node.wait(timeout=30)
            except subprocess.TimeoutExpired:
                node.kill()
    rows = _rows(out)
    _check_all_once(rows, n)
    assert len({r["node"] for r in rows}) == 2                # tasks ran on both nodes
    assert_gone(pids)
