"""The text model's integer byte GRU (dsl/textnet.py): exact, deterministic, and the net it claims."""
import numpy as np
import pytest

from ksynth.bench import datasets
from ksynth.dsl import encode, models, textnet
from ksynth.dsl.program import Program

TEXT = models.MODEL_INDEX["text"]
H, E = 8, 4


def _float_weights(seed=3):
    rng = np.random.default_rng(seed)
    return {"embed": rng.normal(0, 1, (256, E)), "w_ih": rng.normal(0, 0.5, (3 * H, E)),
            "w_hh": rng.normal(0, 0.5, (3 * H, H)), "b_ih": rng.normal(0, 0.3, 3 * H),
            "b_hh": rng.normal(0, 0.3, 3 * H), "proj": rng.normal(0, 0.5, (E, H)),
            "proj_b": rng.normal(0, 0.3, E), "bias": rng.normal(0, 0.5, 256)}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = tmp_path_factory.mktemp("tn") / "tiny.prior"
    textnet.write_prior(path, textnet.quantise(_float_weights(), 6))
    return path


def _float_rows(parts, values):
    """The same GRU in float64 with the dequantised weights (PyTorch's gate order r, z, n)."""
    w = {k: parts[k].dequantised() for k in textnet.MATRICES}
    b = {k: parts[k] / textnet.ONE for k in textnet.BIASES}
    sig = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    h, out, prev = np.zeros(H), [], models.TEXT_START
    for v in values:
        gi, gh = w["w_ih"] @ w["embed"][prev] + b["b_ih"], w["w_hh"] @ h + b["b_hh"]
        r, z = sig(gi[:H] + gh[:H]), sig(gi[H:2 * H] + gh[H:2 * H])
        n = np.tanh(gi[2 * H:] + r * gh[2 * H:])
        h = (1 - z) * n + z * h
        logit = w["embed"] @ (w["proj"] @ h + b["proj_b"]) + b["bias"]
        p = np.exp(logit - logit.max())
        out.append(p / p.sum())
        prev = v
    return out


def test_prior_round_trips_and_rows_are_exact_distributions(tiny):
    net = textnet.read_prior(tiny)
    again = textnet.read_prior(tiny)
    values = list(b"the cat sat on the mat\n")
    rows = net.rows(values)
    assert len(rows) == len(values)
    for r, r2 in zip(rows, again.rows(values)):
        assert int(r.sum()) == textnet.FREQ_TOTAL and r.min() >= 1 and np.array_equal(r, r2)
    # a decoder stepping the state sees the rows the encoder saw
    h = net.start()
    for i, v in enumerate(values):
        assert np.array_equal(net.row(h), rows[i])
        h = net.push(h, v)


def test_integer_net_tracks_the_float_net_it_was_quantised_from(tiny):
    net = textnet.read_prior(tiny)
    values = list(b"ABRACADABRA, the integer net and the float net agree\n")
    rows, ref = net.rows(values), _float_rows(net.parts, values)
    bits = sum(np.log2(textnet.FREQ_TOTAL / r[v]) for r, v in zip(rows, values))
    ref_bits = sum(-np.log2(p[v]) for p, v in zip(ref, values))
    assert abs(bits - ref_bits) < 0.02 * len(values)          # fixed point, tables: small drift
    assert abs(net.cost(values) - bits) < 1e-9


def test_tables_are_the_functions_they_name():
    import decimal

    before = decimal.getcontext().prec
    textnet._tables.cache_clear()
    sig, tanh, exp = textnet._tables()
    assert decimal.getcontext().prec == before                 # the process's context untouched
    mid = len(sig) // 2
    assert sig[mid] == textnet.ONE // 2 and tanh[mid] == 0 and exp[0] == 1 << textnet.EXP_ONE_BITS
    assert np.all(np.diff(sig) >= 0) and np.all(np.diff(tanh) >= 0) and np.all(np.diff(exp) <= 0)
    assert sig[0] < 2 and sig[-1] > textnet.ONE - 2 and tanh[0] == -textnet.ONE + 0


@pytest.mark.parametrize("damage", ["magic", "truncated", "extra", "garbage"])
def test_malformed_priors_are_one_line_errors(tiny, tmp_path, damage):
    raw = models.unpack(tiny.read_bytes())
    bad = {"magic": b"XXXX" + raw[4:], "truncated": raw[:-5], "extra": raw + b"\0"}.get(damage)
    blob = b"not lzma at all" if damage == "garbage" else models.pack(bad)
    (tmp_path / "bad.prior").write_bytes(blob)
    with pytest.raises(ValueError, match="prior bad.prior") as err:
        textnet.read_prior(tmp_path / "bad.prior")
    assert "\n" not in str(err.value)


def test_text_lists_round_trip_under_a_tiny_net(tiny, monkeypatch):
    monkeypatch.setattr(models.MODELS[TEXT], "_net", textnet.read_prior(tiny))
    for data in (b"", b"a", b"hello hello hello world\n", bytes(range(256))[:140]):
        for param in range(len(models.TEXT_VARIANTS)):
            p = Program.build([("modeled_list", (TEXT, param, tuple(data)))])
            assert encode.decode(encode.encode(p)) == p


def test_logit_scale_one_is_the_trained_row_and_a_lower_scale_flattens_it(tiny):
    net = textnet.read_prior(tiny)
    h = net.push(net.start(), 97)
    logit = net.logits(h)
    assert np.array_equal(net.freqs(logit, textnet.LOGIT_SCALE_ONE), net.row(h))
    d = (logit.max() - logit) >> (textnet.Q - textnet.EXP_SHIFT)      # the row before scales existed
    e = net._exp[np.minimum(d, len(net._exp) - 1)]
    before = 1 + (e * (textnet.FREQ_TOTAL - 256)) // e.sum()
    before[int(np.argmax(before))] += textnet.FREQ_TOTAL - int(before.sum())
    assert np.array_equal(net.row(h), before)

    def entropy(f):
        p = f / f.sum()
        return float(-(p * np.log2(p)).sum())

    sharp, flat = net.freqs(logit, textnet.LOGIT_SCALE_ONE), net.freqs(logit, textnet.LOGIT_SCALE_ONE // 2)
    assert flat.sum() == sharp.sum() == textnet.FREQ_TOTAL and flat.min() >= 1
    assert entropy(flat) > entropy(sharp)


def test_text_variants_share_one_pass_and_each_prices_its_own_row(tiny):
    model = models.TextModel("text", net=textnet.read_prior(tiny))
    fresh = lambda: models.TextModel("text", net=textnet.read_prior(tiny))  # noqa: E731
    a, b = list(b"abcabcabcabc the cat"), list(b"xyz, quite another chunk")
    costs = {(tuple(v), k): model.cost(v, k) for v in (a, b, a) for k in range(model.param_radix)}
    for (v, k), c in costs.items():                               # the cache never leaks a chunk
        assert c == fresh().cost(list(v), k)
    assert len({round(costs[(tuple(a), k)], 6) for k in range(model.param_radix)}) == model.param_radix


def test_shipped_net_knows_english():
    net = models.MODELS[TEXT].net
    assert net.hidden == 48 and net.parts["embed"].levels.shape == (256, 24)
    sentence = list(b"The history of the city is told in the records of its council, which met in the ")
    assert net.cost(sentence) / len(sentence) < 3.5              # uniform: 8 bits a byte
    shuffled = list(np.random.default_rng(0).permutation(sentence))
    assert net.cost(shuffled) > 1.3 * net.cost(sentence)


def test_training_script_writes_a_prior_the_model_reads(kt_data_dir, tmp_path, experiment_script, capsys):
    pytest.importorskip("torch")
    train_text_net = experiment_script("train_text_net")

    out = tmp_path / "t.prior"
    args = ["--steps", "3", "--hidden", "8", "--embed", "4", "--data", str(kt_data_dir), "--out", str(out)]
    assert train_text_net.main(args) == 0
    net = textnet.read_prior(out)
    assert net.hidden == 8 and int(net.rows(list(b"ab"))[1].sum()) == textnet.FREQ_TOTAL
    absent = np.ones(256, bool)
    absent[list(set(b"".join(it.data for it in datasets.load("text", "dev", None, directory=kt_data_dir))))] = False
    assert absent.any() and not net.parts["embed"].levels[absent].any()   # bytes dev text lacks: zero rows
    train_text_net.main(args[:-1] + [str(tmp_path / "again.prior")])
    assert (tmp_path / "again.prior").read_bytes() == out.read_bytes()     # --steps: reproducible
    assert train_text_net.main(["--score", str(out), "--data", str(kt_data_dir)]) == 0
    assert f"{out}: {out.stat().st_size} B; net alone" in capsys.readouterr().out
    assert train_text_net.main(["--score", str(tmp_path / "none.prior"), "--data", str(kt_data_dir)]) == 1
    assert "none.prior" in capsys.readouterr().err


def test_a_saved_float_net_reloads_as_a_frozen_teacher_that_changes_the_student(
        kt_data_dir, tmp_path, experiment_script, capsys):
    torch = pytest.importorskip("torch")
    train_text_net = experiment_script("train_text_net")

    base = ["--steps", "3", "--data", str(kt_data_dir), "--hidden", "8", "--embed", "4"]
    assert train_text_net.main(base[:-4] + ["--hidden", "12", "--embed", "6", "--out", str(tmp_path / "t.prior"),
                                            "--save-float", str(tmp_path / "t.pt")]) == 0
    teacher = train_text_net.load_float(torch, tmp_path / "t.pt")
    assert teacher.gru.hidden_size == 12 and not any(p.requires_grad for p in teacher.parameters())
    state = torch.load(tmp_path / "t.pt")
    assert all(torch.equal(v, state[k]) for k, v in teacher.state_dict().items())
    for name, extra in (("plain", []), ("distil", ["--teacher", str(tmp_path / "t.pt")]),
                        ("ema", ["--ema", "0.5"]), ("decay", ["--weight-decay", "0.5"])):
        assert train_text_net.main(base + extra + ["--out", str(tmp_path / f"{name}.prior")]) == 0
    plain = (tmp_path / "plain.prior").read_bytes()
    assert all((tmp_path / f"{name}.prior").read_bytes() != plain for name in ("distil", "ema", "decay"))
    capsys.readouterr()
    assert train_text_net.main(base + ["--train-share", "0.5", "--out", str(tmp_path / "half.prior")]) == 0
    chunks = [it for it in datasets.load("text", "dev", None, directory=kt_data_dir) if len(it.data) == 128]
    cut = int(len(chunks) * (1 - train_text_net.HELD_OUT))
    assert f"dev text: {round(cut / 2)} chunks to train on" in capsys.readouterr().out
    for bad in (["--train-share", "0"], ["--distil", "1.5"], ["--ema", "1"], ["--teacher", str(tmp_path / "no.pt")]):
        with pytest.raises(SystemExit):
            train_text_net.main(bad)


def test_fake_quantisation_is_the_prior_grid_forward_and_the_identity_backward(experiment_script):
    torch = pytest.importorskip("torch")
    train_text_net = experiment_script("train_text_net")

    w = torch.randn(6, 10, dtype=torch.float64, requires_grad=True)
    q = train_text_net.fake_quantised(torch, w, 4)
    grid = textnet.quantise_matrix(w.detach().numpy(), 4)
    assert np.abs(q.detach().numpy() - grid.dequantised()).max() < 1e-3 * float(w.detach().abs().max())
    assert len(np.unique(q.detach().numpy()[0])) <= 15                    # 4 bits: levels -7..7
    (q * torch.arange(60.0, dtype=torch.float64).reshape(6, 10)).sum().backward()
    assert torch.equal(w.grad, torch.arange(60.0, dtype=torch.float64).reshape(6, 10))


def test_predict_keeps_the_cheapest_text_variant():
    from ksynth.config import SearchConfig
    from ksynth.search.predict import PredictStrategy

    for data in (b"It was the best of times, it was the worst of times, it was the age of wisdom, "
                 b"it was the age of foolishness, it was the epoch",
                 b"Qzx 17 [[Vlad|V.]] 0x3F; kw=9 ## Quorum: 4/7, 'Zeb' said, and left.\n"):
        found = PredictStrategy().search(list(data), SearchConfig(objective="bits"), float("inf"))
        bits = [encode.bits(Program.build([("modeled_list", (TEXT, k, tuple(data)))]))
                for k in range(models.MODELS[TEXT].param_radix)]
        assert found.program.lines[0].args[:2] == (TEXT, int(np.argmin(bits))) and found.bits == min(bits)
