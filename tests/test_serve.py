"""ksynth.serve: the model protocol, placement from cluster resources, dynamic batching in an actor
placed on a custom resource standing in for a GPU (its own local Ray instance), in process without Ray."""
from __future__ import annotations

import functools

import pytest

from ksynth.serve import STANDIN_RESOURCE, FixedLatencyModel, LocalClient, call, placement, serve

RAY_RESOURCES = {STANDIN_RESOURCE: 1}            # own_ray's instance: a stand-in for one GPU


def test_placement_follows_the_cluster():
    where, opts = placement({"CPU": 8, "GPU": 2})
    assert opts["num_gpus"] == 1 and "GPU" in where
    where, opts = placement({"CPU": 2, STANDIN_RESOURCE: 1})
    assert opts["resources"] == {STANDIN_RESOURCE: 1} and "standing in for a GPU" in where
    where, opts = placement({"CPU": 2})
    assert "num_gpus" not in opts and opts["num_cpus"] == 1 and "CPU actor" in where
    assert "CPU actor" in placement({"CPU": 2, STANDIN_RESOURCE: 1}, standin=None)[0]


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
