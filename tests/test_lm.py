"""ksynth.lm and the policies: lossless tokens, the grammar, a tiny model trained in seconds, decoding,
scoring, save/load, the uniform / pcfg / lm policies and the seqcoder strategy."""
from __future__ import annotations

import random

import pytest
from hypothesis import given, strategies as st

from ksynth.config import SearchConfig, apply_overrides
from ksynth.dsl.program import Program
from ksynth.dsl.sample import sample, sample_one
from ksynth.dsl.score import kt_bits
from ksynth.errors import UsageError
from ksynth.lm import tokens as T

EDGE = [
    "sequence_1 = set_list([-5, 300, -300, 0, 70000, 255, 256])\n"
    "sequence_2 = add_item_list(sequence_1, -1000)\n"
    "sequence_3 = concatenate(sequence_1, sequence_2, sequence_1)\noutput = sequence_2",
    "sequence_1 = set_list([])\noutput = sequence_1",
    "sequence_1 = range_func_interval(100, 50, -7)\nsequence_2 = filter(is_odd, sequence_1)\n"
    "output = sequence_2",
]


def _long_program(n: int) -> Program:
    lines = [("range_func_up", (0, 3))] + [("reverse_list", (T.Ref(i),)) for i in range(n - 1)]
    return Program.build(lines)


def _walk(toks):
    s = T.GrammarState()
    for t in toks:
        assert t in T.allowed_ids(s), (T.VOCAB[t], s)
        s = T.advance(s, t)
    return s


def test_round_trip_and_grammar_on_samples():
    rng = random.Random(3)
    for _ in range(300):
        s = sample_one(rng)
        toks, n = T.example_tokens(s.sequence, s.program)
        assert toks[:n] == T.sequence_tokens(s.sequence)
        assert T.parse_tokens(toks[n:]) == s.program
        assert _walk(toks[n:]).done


@pytest.mark.parametrize("text", EDGE)
def test_round_trip_edge_cases(text):
    p = Program.parse(text)
    toks = T.program_tokens(p)
    assert T.parse_tokens(toks) == p
    assert _walk(toks).done


def test_wide_refs_and_output_not_last():
    p = _long_program(T.MAX_REF_TOKENS + 5)
    p = Program(p.lines, 3)                         # output not the last line: OUT REF_3
    toks = T.program_tokens(p)
    assert T.REF_WIDE in toks and T.OUT in toks
    assert T.parse_tokens(toks) == p and _walk(toks).done


@given(st.integers(min_value=-(256 ** 8) + 1, max_value=256 ** 8 - 1))
def test_int_tokens_round_trip(v):
    toks = T.int_tokens(v)
    assert T.read_int(toks, 0) == (v, len(toks))
    assert (len(toks) == 1) == (0 <= v < 256)


def test_random_grammar_walks_parse():
    rng = random.Random(0)
    for _ in range(200):
        s, toks = T.GrammarState(), []
        for _ in range(60):
            t = rng.choice(T.allowed_ids(s))
            toks.append(t)
            s = T.advance(s, t)
            if s.done:
                break
        if s.done:
            T.parse_tokens(toks)                     # never raises: the grammar is the syntax


def test_bad_tokens_raise():
    from ksynth.errors import ProgramError

    with pytest.raises(ProgramError):
        T.parse_tokens([T.OP_TOKEN["reverse_list"], T.EOS])       # a ref is missing
    with pytest.raises(ProgramError):
        T.parse_tokens([T.BOS])


# ---- policies without a model ---------------------------------------------------------------------------
def test_uniform_is_kt_bits():
    from ksynth.search.policy import get_policy

    progs = [s.program for s in sample(20, 11)]
    tp = get_policy("uniform").for_target([1, 2, 3])
    assert tp.program_bits(progs) == pytest.approx([kt_bits(p) for p in progs])


def test_pcfg_fit_and_shipped():
    from ksynth.search.policy import PCFG, get_policy

    progs = [s.program for s in sample(200, 12)]
    pol = PCFG.fit(progs)
    bits = pol.for_target([]).program_bits(progs)
    assert all(b > 0 for b in bits)
    # frequent ops are cheaper than rare ones
    assert pol.for_target([]).op_bits["concatenate"] < pol.for_target([]).op_bits["modulo_two_lists"]
    shipped = get_policy("pcfg")
    assert set(shipped.for_target([]).op_bits) == set(pol.for_target([]).op_bits)


def test_policy_config_validation():
    assert SearchConfig(policy="pcfg").policy == "pcfg"
    with pytest.raises(UsageError, match="did you mean pcfg"):
        SearchConfig(policy="pcgf")
    cfg = apply_overrides(SearchConfig(), ["guidance.samples=4", "policy=uniform"])
    assert cfg.guidance.samples == 4 and SearchConfig.from_dict(cfg.to_dict()) == cfg


# ---- a tiny model trained in seconds --------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    from ksynth.lm.model import ModelSpec, build, save, train_steps

    draws = [s for s in sample(150, 21) if len(T.example_tokens(s.sequence, s.program)[0]) <= 200]
    items = [T.example_tokens(s.sequence, s.program) for s in draws]
    model = build(ModelSpec(d_model=32, layers=1, heads=2, context=512), seed=0)
    before = train_steps(model, items, 1, lr=0.0)
    after = train_steps(model, items, 40, lr=3e-3)
    assert after < before
    folder = save(model, tmp_path_factory.mktemp("tiny"), card={"what": "test model"})
    return folder, model, draws


def test_save_load_exact(tiny):
    import torch

    from ksynth.lm.model import card, load

    folder, model, draws = tiny
    again = load(folder, "cpu")
    ids = torch.tensor([T.example_tokens(draws[0].sequence, draws[0].program)[0]])
    with torch.no_grad():
        assert torch.equal(model(input_ids=ids).logits, again(input_ids=ids).logits)
    assert card(folder)["what"] == "test model"


def test_decode_parses_and_score_matches_full_pass(tiny):
    import math

    import torch

    from ksynth.lm.decode import decode, encode_target, score

    folder, model, draws = tiny
    d = draws[1]
    enc = encode_target(model, d.sequence)
    outs = decode(model, enc, k=6, greedy=False, seed=1)
    assert len(outs) == 6 and all(p is None or isinstance(p, Program) for p, _ in outs)
    assert any(p is not None for p, _ in outs)
    comp = T.program_tokens(d.program)
    full = torch.tensor([enc.prompt + comp])
    with torch.no_grad():
        lp = torch.log_softmax(model(input_ids=full).logits[0].float(), -1)
    n = len(enc.prompt)
    ref = -sum(float(lp[n - 1 + j, t]) for j, t in enumerate(comp)) / math.log(2)
    got = score(model, enc, [comp, comp[:2]])
    assert got[0] == pytest.approx(ref, rel=1e-4)
    assert got[1] < got[0]
    assert encode_target(model, list(range(256)) * 3) is None        # longer than the context


def test_lm_policy_and_seqcoder(tiny):
    from ksynth.search.lm_policy import LMPolicy
    from ksynth.search.portfolio import Portfolio

    folder, model, draws = tiny
    tp = LMPolicy(str(folder)).for_target(draws[2].sequence)
    assert set(tp.op_bits) >= {"interleave", "set_list"}
    assert sum(2 ** -b for b in tp.op_bits.values()) == pytest.approx(1.0, abs=1e-3)
    assert len(tp.program_bits([draws[2].program, draws[3].program])) == 2
    cfg = apply_overrides(SearchConfig(policy=str(folder)),
                          ["strategies=seqcoder", "guidance.samples=3", "budget.seconds=5"])
    res = Portfolio(cfg).search(draws[2].sequence)
    assert res.verified and "seqcoder" in res.stats["strategies"]
    cfg = apply_overrides(SearchConfig(policy=str(folder)),
                          ["strategies=beam,mcts", "budget.nodes=40", "budget.seconds=none"])
    res = Portfolio(cfg).search(draws[3].sequence)
    assert res.verified and "error" not in res.stats["strategies"]["beam"]


def test_sketch_strategy_with_a_model(tiny):
    from ksynth.search.lm_policy import lm_names
    from ksynth.search.portfolio import Portfolio

    folder, model, draws = tiny
    cfg = apply_overrides(SearchConfig(policy=str(folder)),
                          ["strategies=sketch", "guidance.sketches=3", "budget.seconds=5"])
    assert lm_names(cfg) == {str(folder)}                  # served like seqcoder's LM on a cluster
    for d in draws[5:8]:
        res = Portfolio(cfg).search(d.sequence)
        info = res.stats["strategies"]["sketch"]
        assert res.verified and "error" not in info and info["seconds"] > 0
        assert info.get("verified", True)                  # whatever it returned reproduced the target
    off = apply_overrides(cfg, ["ablations.sketch_pool=false", "ablations.sketch_splits=false"])
    assert Portfolio(off).search(draws[5].sequence).verified


# ---- guided strategies ----------------------------------------------------------------------------------
@pytest.mark.parametrize("strategy", ["beam", "mcts"])
@pytest.mark.parametrize("policy", ["uniform", "pcfg"])
def test_guided_strategies_verify(strategy, policy):
    from ksynth.search.portfolio import Portfolio

    cfg = apply_overrides(SearchConfig(policy=policy),
                          [f"strategies={strategy}", "budget.seconds=none", "budget.nodes=60"])
    for d in sample(4, 31):
        res = Portfolio(cfg).search(d.sequence)
        assert res.verified and res.nodes <= 60 + 40        # one expansion may overshoot the cap
        assert "error" not in res.stats["strategies"][strategy]


def test_space_uniform_guided_equals_cost():
    from ksynth.search.policy import get_policy
    from ksynth.search.space import Space

    d = sample(1, 32)[0]
    cfg = SearchConfig()
    space = Space(d.sequence, cfg, None, get_policy("uniform").for_target(d.sequence))
    for k in space.children(space.root()):
        assert k.guided == pytest.approx(k.cost)
        done = space.complete(k)
        from ksynth.dsl.interp import run

        assert done.done and run(space.program(done)) == list(d.sequence)


def test_space_result_builds_only_the_cheapest_distinct_states(monkeypatch):
    # mcts revisits terminal states: a result built every copy after the deadline (113 s once)
    from ksynth.search import space as S

    d = sample(1, 33)[0]
    space = S.Space(d.sequence, SearchConfig(), None)
    done = [space.complete(k) for k in space.children(space.root())]
    built, build = [], S.Space.program

    def counted(s, share=True):
        built.append(s)
        return build(s, share)

    monkeypatch.setattr(S.Space, "program", staticmethod(counted))
    monkeypatch.setattr(S, "RESULT_CAP", 2)
    res = space.result("mcts", done * 500, {})
    assert res.verified and len(built) == min(2, len({s.key() for s in done}))
    assert max(s.cost for s in built) <= sorted(s.cost for s in done)[1]


def test_beam_decoding_sorted_and_parsed(tiny):
    from ksynth.lm.decode import decode, decode_beam, encode_target

    folder, model, draws = tiny
    enc = encode_target(model, draws[4].sequence)
    outs = decode_beam(model, enc, width=5)
    assert outs and all(isinstance(p, Program) for p, _ in outs)
    lps = [lp for _, lp in outs]
    assert lps == sorted(lps, reverse=True)
    (g, glp), = decode(model, enc, greedy=True)
    assert lps[0] >= glp - 1e-6                  # the beam's best is at least as probable as greedy


def test_shipped_checkpoint_loads_and_decodes():
    from ksynth.lm import model as lm_model

    if not lm_model.has_default():
        pytest.skip("no shipped checkpoint in ksynth/lm/checkpoint")
    pytest.importorskip("torch").set_num_threads(1)
    card = lm_model.card(lm_model.DEFAULT_CHECKPOINT)
    assert card["model"]["parameters"] > 0 and "held_out" in card and "command" in card
    assert sum(f.stat().st_size for f in lm_model.DEFAULT_CHECKPOINT.iterdir()) < 25 * 2 ** 20
    from ksynth.search.policy import get_policy

    tp = get_policy("default").for_target(sample(1, 33)[0].sequence)
    assert tp.greedy is None or isinstance(tp.greedy, Program)


def test_report_names_seqcoder_rows():
    from ksynth.bench.report import seqcoder_name
    from ksynth.lm import model as lm_model

    cfg = SearchConfig(strategies=("seqcoder",), policy="default").to_dict()
    name = seqcoder_name(cfg)
    assert name.startswith("SeqCoder-style (ours, ") and name.endswith("best-of-16)")
    if lm_model.has_default():
        assert "M params" in name
