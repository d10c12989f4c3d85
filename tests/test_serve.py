"""ksynth.serve: the model protocol, placement from cluster resources, dynamic batching in an actor
placed on a custom resource standing in for a GPU (its own local Ray instance), in process without Ray."""
from __future__ import annotations

import functools

import pytest

from ksynth.serve import (STANDIN_RESOURCE, FixedLatencyModel, LocalClient, accelerated, call,
                          placement, serve)

RAY_RESOURCES = {STANDIN_RESOURCE: 1}            # own_ray's instance: a stand-in for one GPU


def test_placement_follows_the_cluster():
    where, opts = placement({"CPU": 8, "GPU": 2})
    assert opts["num_gpus"] == 1 and "GPU" in where
    where, opts = placement({"CPU": 2, STANDIN_RESOURCE: 1})
    assert opts["resources"] == {STANDIN_RESOURCE: 1} and "standing in for a GPU" in where
    where, opts = placement({"CPU": 2})
    assert "num_gpus" not in opts and opts["num_cpus"] == 1 and "CPU actor" in where
    assert "CPU actor" in placement({"CPU": 2, STANDIN_RESOURCE: 1}, standin=None)[0]
    assert accelerated({"CPU": 2, "GPU": 1}) and accelerated({"CPU": 2, STANDIN_RESOURCE: 1})
    assert not accelerated({"CPU": 64}) and not accelerated({STANDIN_RESOURCE: 1}, standin=None)


def test_in_process_batches_the_callers_requests():
    said = []
    server = serve(functools.partial(FixedLatencyModel, 0.0), max_batch=4, log=said.append,
                   in_process=True)
    assert "this process" in server.where and "this process" in said[0]
    assert server.client([[1, 2], [255, 1], [7]] * 3) == [3, 0, 7] * 3
    stats = server.close()
    assert stats["requests"] == 9 and stats["sizes"] == {1: 1, 4: 2} and stats["max_batch"] == 4
    assert "9 requests in 3 batches" in said[-1]


def test_a_model_that_drops_answers_is_an_error():
    with pytest.raises(ValueError, match="answered 0 of 1"):
        LocalClient(lambda requests: [], 4)([[1]])


def test_the_actor_batches_concurrent_requests(own_ray):
    said = []
    server = serve(functools.partial(FixedLatencyModel, 0.02), max_batch=16, max_wait_s=0.005,
                   log=said.append)
    assert STANDIN_RESOURCE in server.where and STANDIN_RESOURCE in said[0]
    import ray

    refs = [server._actor.infer.remote([[k, 1]]) for k in range(60)]   # a burst of single requests
    assert ray.get(refs) == [[(k + 1) % 256] for k in range(60)]       # each its own answer
    stats = server.stats()
    assert stats["requests"] == 60 and stats["max_batch"] <= 16
    assert stats["batches"] < 60 and stats["max_batch"] > 1            # they shared model calls
    # CPU search workers (Ray tasks) reach the same actor through the picklable client
    jobs = [(server.client, [[i, i], [i]]) for i in range(12)]
    got = dict(own_ray.imap(call, jobs, chunksize=1))
    assert [got[i] for i in range(12)] == [[(2 * i) % 256, i] for i in range(12)]
    final = server.close()
    assert final["requests"] == 60 + 24
    assert "84 requests" in said[-1] and "mean batch" in said[-1]


# ---- the LM policy served (ksynth/lm/service.py, search/lm_policy.py) ----------------------------------
def _requests(draws, until=None):
    """Every kind of request, over several targets (one too long for the context)."""
    from ksynth.lm import tokens as T
    from ksynth.lm.service import BeamSearch, Recognise, Sample, Score

    out = []
    for i, d in enumerate(draws):
        t = tuple(d.sequence)
        out += [Recognise(t), Sample(t, 4, 1.0, i, until), BeamSearch(t, 3, until),
                Score(t, (tuple(T.program_tokens(d.program)), tuple(T.program_tokens(d.program))[:3]))]
    long = tuple(range(256)) * 3
    return out + [Score(t, ((1,) * 600,)),                 # a completion past the context
                  Recognise(long), Score(long, ((1, 2),)), Sample(long, 2, 1.0, 0, None)]


def _same_answers(got, want):
    """Programs equal; log-probabilities, bits and op weights equal within float rounding."""
    from ksynth.lm.service import Recognition

    assert len(got) == len(want)
    for g, w in zip(got, want):
        if isinstance(w, Recognition):
            assert g.greedy == w.greedy and g.greedy_log2p == pytest.approx(w.greedy_log2p, abs=1e-3)
            assert g.op_bits == pytest.approx(w.op_bits, abs=1e-4)
        elif w is None:
            assert g is None
        elif isinstance(w, Exception):
            assert type(g) is type(w) and str(g) == str(w)
        elif w and isinstance(w[0], tuple):              # [(Program | None, log2 p)]
            assert [p for p, _ in g] == [p for p, _ in w]
            assert [b for _, b in g] == pytest.approx([b for _, b in w], abs=1e-3)
        else:                                            # bits, or no samples
            assert g == pytest.approx(w, abs=1e-3)


@pytest.fixture(scope="module")
def shipped():
    """The shipped policy LM (its greedy programs and beams finish, the tiny model's rarely do)."""
    pytest.importorskip("torch").set_num_threads(1)
    from ksynth.lm import model as lm_model
    from ksynth.lm.service import PolicyModel

    if not lm_model.has_default():
        pytest.skip("no shipped checkpoint in ksynth/lm/checkpoint")
    return lm_model.DEFAULT_CHECKPOINT, PolicyModel.load(lm_model.DEFAULT_CHECKPOINT).model


def test_a_batch_across_targets_answers_as_one_at_a_time(shipped):
    from ksynth.dsl.sample import sample
    from ksynth.lm.service import UNIFORM, PolicyModel

    _, model = shipped
    reqs = _requests(sample(4, 51))
    alone = [PolicyModel(model)([r])[0] for r in reqs]      # a fresh cache each: nothing shared
    batched = PolicyModel(model)(reqs)
    _same_answers(batched, alone)
    assert batched[-3] == UNIFORM and batched[-2] is None and batched[-1] == []
    assert isinstance(batched[-4], ValueError)           # its batch mates were answered
    assert sum(a.greedy is not None for a in batched[:-4:4]) >= 2      # real programs compared
    assert all(batched[k] for k in range(2, len(reqs) - 4, 4))         # every beam finished some


def test_lm_names_and_serial_jobs_start_nothing(tmp_path):
    from ksynth.config import SearchConfig
    from ksynth.errors import UsageError
    from ksynth.parallel import Parallel
    from ksynth.search.lm_policy import lm_names, model_folder, serving_for

    with pytest.raises(UsageError, match="no model in"):     # checked before any actor loads it
        model_folder(tmp_path)

    folder = str(tmp_path)                                  # a folder: an LM policy by name
    assert lm_names(SearchConfig()) == set()             # the default portfolio, uniform: no LM
    assert lm_names(SearchConfig(policy="default")) == {"default"}    # its beam under the LM
    assert lm_names(SearchConfig(policy="default",
                                 strategies=("decompose", "segment", "solve"))) == set()
    assert lm_names(SearchConfig(policy="lm", strategies=("beam",))) == {"default"}
    assert lm_names(SearchConfig(policy="uniform", strategies=("seqcoder", "mcts"))) == {"default"}
    assert lm_names(SearchConfig(policy=folder, strategies=("mcts", "seqcoder"))) == {folder}
    guided = [SearchConfig(policy=folder, strategies=("beam",))]
    with Parallel("serial") as par, serving_for(par, guided) as wrap:
        assert wrap(len) is len

    class CPUsOnly:                      # a Parallel that chose Ray, on a cluster without a GPU
        choice = "ray"

        def start(self):
            return type("ray", (), {"cluster_resources": staticmethod(lambda: {"CPU": 64})})

    said = []
    with serving_for(CPUsOnly(), guided, said.append) as wrap:
        assert wrap(len) is len
    assert said == [f"ksynth: serve: no GPU in the cluster: policy {folder} stays in each "
                    f"worker's process"]


def test_the_served_policy_answers_as_in_process(own_ray, shipped):
    import ray

    from ksynth.dsl.sample import sample
    from ksynth.lm.service import PolicyModel
    from ksynth.search.lm_policy import LMPolicy, ServedPolicy
    from ksynth.search.policy import get_policy, serving

    folder, model = shipped
    said = []
    server = serve(functools.partial(PolicyModel.load, str(folder)), log=said.append, name="policy t")
    assert STANDIN_RESOURCE in server.where and "policy t" in said[0]
    reqs = _requests(sample(4, 52))
    refs = [server._actor.infer.remote([r]) for r in reqs]         # a burst from many "workers"
    _same_answers([a for ref in ray.get(refs) for a in ref], [PolicyModel(model)([r])[0] for r in reqs])
    burst = server.stats()
    assert burst["requests"] == len(reqs) and burst["max_batch"] > 1  # they shared model calls
    assert burst["model"]["requests"]["Recognise"] == 5 and burst["model"]["prompts_encoded"] == 5
    # the strategies' view: get_policy finds the served policy while it is installed, and its
    # targets answer as the in-process policy's
    served, here = ServedPolicy(server.client, server.where), LMPolicy()
    with serving({"default": served}):
        assert get_policy("default") is served and get_policy("lm") is served
    assert get_policy("default") is not served
    for i, d in enumerate(sample(1, 53)):
        a, b = served.for_target(d.sequence), here.for_target(d.sequence)
        assert a.greedy == b.greedy and a.op_bits == pytest.approx(b.op_bits, abs=1e-4)
        assert [p for p, _ in a.sample(3, 1.0, i)] == [p for p, _ in b.sample(3, 1.0, i)]
        assert [p for p, _ in a.beam(2)] == [p for p, _ in b.beam(2)]
        assert a.program_bits([d.program]) == pytest.approx(b.program_bits([d.program]), abs=1e-3)
        assert a.seconds > 0
        from ksynth.dsl.program import Program

        with pytest.raises(ValueError, match="past the model's context"):   # raised by the client
            a.program_bits([Program.build([("set_list", ((1,) * 600,))])])
    final = server.close()
    assert final["requests"] == len(reqs) + 5
    assert "policy t:" in said[-1] and "size x batches" in said[-1]


def test_solve_on_ray_serves_the_policy_and_matches_serial(own_ray, shipped, tmp_path):
    """`ksynth solve` as the CLI runs it: serial in process, then on this module's Ray instance
    (the stand-in resource: the GPU actor's code path), the same rows, the placement said. The
    shipped model, named by its folder (a PATH policy): the tiny model's programs never verify,
    which would leave nothing but literal programs to compare."""
    import json

    from click.testing import CliRunner

    from ksynth.cli import main
    from ksynth.dsl.sample import sample

    folder = str(shipped[0])
    inp = tmp_path / "in.jsonl"
    inp.write_text("".join(json.dumps({"sequence": s.sequence}) + "\n" for s in sample(6, 41)))
    rows, logs = {}, {}
    for workers in ("1", "2"):
        out = tmp_path / f"out{workers}.jsonl"
        # seqcoder alone finishes far inside 30 s: no search is cut by its deadline, so the rows
        # do not depend on the load
        res = CliRunner().invoke(main, ["solve", "--input", str(inp), "--output", str(out),
                                        "--policy", folder, "--strategies", "seqcoder",
                                        "--budget", "30", "--workers", workers])
        assert res.exit_code == 0, res.output
        rows[workers] = {r["index"]: r for r in map(json.loads, out.read_text().splitlines())}
        logs[workers] = res.stderr if hasattr(res, "stderr") else res.output
    keys = ("program", "kt_bits", "bits", "verified", "strategy")
    assert {i: [r[k] for k in keys] for i, r in rows["2"].items()} == \
        {i: [r[k] for k in keys] for i, r in rows["1"].items()}
    assert any(r["strategy"] == "seqcoder" for r in rows["1"].values())    # a real program
    assert all("pid" in r for r in rows["2"].values())            # made by Ray workers
    assert "serve" not in logs["1"]                               # in process: nothing served
    assert STANDIN_RESOURCE in logs["2"] and "mean batch" in logs["2"]
