"""Sharing strategies checked against independent constructions, and the trainer's errors and records."""
import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from mtlkit.data import Corpus
from mtlkit.metrics import delta_m, f1_scores, macro_f1, mean_ci, task_metrics
from mtlkit.models import SHARINGS, MultiTaskModel, reverse_gradient
from mtlkit.features import collate
from mtlkit.train import History, fit

TASKS = {"vad": 2, "speaker": 4, "emotion": 5}


def _batch(seed=0, batch=3, frames=30):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, frames, 40, generator=g), torch.tensor([frames, 21, 9][:batch])


@pytest.mark.parametrize("sharing", SHARINGS)
def test_every_strategy_gives_the_right_shapes_reads_its_top_layer_and_ignores_padding(sharing):
    x, lengths = _batch()                                   # the padding frames hold noise, not zeros
    torch.manual_seed(0)
    model = MultiTaskModel(TASKS, sharing=sharing, width=16).eval()
    out = model(x, lengths)
    assert out.logits["vad"].shape == (3, 30, 2)
    assert out.logits["speaker"].shape == (3, 4) and out.logits["emotion"].shape == (3, 5)
    for b, n in enumerate(lengths.tolist()):                # each utterance alone, without padding: the same outputs
        alone = model(x[b:b + 1, :n], lengths[b:b + 1]).logits
        assert torch.allclose(alone["vad"][0], out.logits["vad"][b, :n], atol=1e-5), b
        assert all(torch.allclose(alone[t][0], out.logits[t][b], atol=1e-5) for t in ("speaker", "emotion")), b
    if sharing == "layer_attention":                        # a mix of every layer: see the layer-attention test
        return
    model.gates_forced_open = True                          # gated: each head then reads the top layer itself
    mask = torch.arange(15)[None] < ((lengths + 1) // 2)[:, None]
    for t in TASKS:
        k = model.layer_names.index(model.depths[t]) if sharing == "hierarchical" else -1
        layer = model.layer_outputs(x, lengths, t)[k]
        if t == "vad":                                      # one logit per 20 ms frame, repeated over its two frames
            assert torch.allclose(model(x, lengths).logits[t][:, ::2], model.heads[t](layer, mask), atol=1e-6)
        else:
            assert torch.allclose(model.embed(x, lengths, t), model.heads[t].embed(layer, mask), atol=1e-6), t


def test_disabled_tasks_have_no_heads_and_bad_input_is_named():
    model = MultiTaskModel({"emotion": 5}, sharing="hard", width=16)
    assert list(model.heads) == ["emotion"]
    with pytest.raises(ValueError, match="unknown sharing 'shared'.*separate, hard, soft"):
        MultiTaskModel(TASKS, sharing="shared")
    with pytest.raises(ValueError, match="at least one task"):
        MultiTaskModel({})
    with pytest.raises(ValueError, match=r"feats must be \(batch, frames, n_features\), got shape \(30, 40\)"):
        model(torch.zeros(30, 40), torch.tensor([30]))
    with pytest.raises(ValueError, match="unknown layer for task vad 'lstm9'.*cnn, lstm1, lstm2"):
        MultiTaskModel(TASKS, sharing="hierarchical", depths={"vad": "lstm9"})


def test_cross_stitch_at_identity_equals_separate_towers():
    torch.manual_seed(0)
    stitched = MultiTaskModel(TASKS, sharing="cross_stitch", width=16).eval()
    separate = MultiTaskModel(TASKS, sharing="separate", width=16).eval()
    state = {k: v for k, v in stitched.state_dict().items() if k != "stitch"}
    separate.load_state_dict(state)
    x, lengths = _batch()
    a, b = stitched(x, lengths).logits, separate(x, lengths).logits
    assert all(torch.allclose(a[t], b[t], atol=1e-6) for t in TASKS)
    with torch.no_grad():
        stitched.stitch[0, 0, 1] = 0.5                     # mixing changes the answer
    assert not torch.allclose(stitched(x, lengths).logits["vad"], b["vad"])


def _hard_sharing_with_the_weights_of(model, but: str):
    """A hard-sharing model holding model's encoder and heads: every weight except those named ``but...``."""
    hard = MultiTaskModel(TASKS, sharing="hard", width=16).eval()
    hard.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith(but)})
    return hard


def test_gated_with_gates_forced_open_equals_hard_sharing():
    torch.manual_seed(0)
    gated = MultiTaskModel(TASKS, sharing="gated", width=16).eval()
    hard = _hard_sharing_with_the_weights_of(gated, but="gates.")
    x, lengths = _batch()
    gated.gates_forced_open = True
    a, b = gated(x, lengths).logits, hard(x, lengths).logits
    assert all(torch.allclose(a[t], b[t], atol=1e-6) for t in TASKS)
    gated.gates_forced_open = False
    out = gated(x, lengths)
    assert not torch.allclose(out.logits["speaker"], b["speaker"])
    assert all(((g > 0) & (g < 1)).all() for g in out.gates.values())


def test_hierarchical_heads_read_the_layers_they_claim():
    model = MultiTaskModel(TASKS, sharing="hierarchical", width=16, depths={"vad": "cnn", "speaker": "lstm1"})
    assert model.depths == {"vad": "cnn", "speaker": "lstm1", "emotion": "lstm2"}
    x, lengths = _batch()

    def touched(task):
        model.zero_grad()
        model(x, lengths).logits[task].sum().backward()
        return [k for k, stage in enumerate(model.encoder.stages)
                if any(p.grad is not None and p.grad.abs().sum() > 0 for p in stage.parameters())]

    assert touched("vad") == [0] and touched("speaker") == [0, 1] and touched("emotion") == [0, 1, 2]


def test_layer_attention_weights_are_a_softmax_over_layers_and_mix_what_each_head_reads():
    model = MultiTaskModel(TASKS, sharing="layer_attention", width=16).eval()
    with torch.no_grad():
        model.layer_logits["vad"].copy_(torch.tensor([0.0, math.log(3.0), -1e9]))
        model.layer_logits["speaker"].copy_(torch.tensor([math.log(2.0), 0.0, math.log(7.0)]))
    x, lengths = _batch()
    out = model(x, lengths)
    assert torch.allclose(out.layer_weights["vad"], torch.tensor([0.25, 0.75, 0.0]))
    assert torch.allclose(out.layer_weights["speaker"], torch.tensor([0.2, 0.1, 0.7]))
    cnn, lstm1, lstm2 = model.layer_outputs(x, lengths)
    mask = torch.arange(15)[None] < ((lengths + 1) // 2)[:, None]
    assert torch.allclose(out.logits["vad"][:, ::2], model.heads["vad"](0.25 * cnn + 0.75 * lstm1, mask), atol=1e-6)
    mixed = 0.2 * cnn + 0.1 * lstm1 + 0.7 * lstm2
    assert torch.allclose(model.embed(x, lengths, "speaker"), model.heads["speaker"].embed(mixed, mask), atol=1e-6)


def test_gradient_reversal_flips_and_scales_the_sign():
    x = torch.randn(5, requires_grad=True)
    v = torch.randn(5)
    (reverse_gradient(x, 0.3) * v).sum().backward()
    assert torch.allclose(x.grad, -0.3 * v)
    assert torch.equal(reverse_gradient(x, 0.3), x)


def test_a_private_layer_is_the_only_branch_its_task_and_the_adversary_read():
    x, lengths = _batch()
    model = MultiTaskModel(TASKS, width=16, private=("emotion",), adversary_classes=4, adversary_on="emotion",
                           frame_pool=1).eval()
    out = model(x, lengths)
    f = model.encoder(x, lengths)[-1]
    assert torch.allclose(model.embed(x, lengths, "emotion"),
                          model.heads["emotion"].embed(model.private["emotion"](f), torch.ones(3, 30).bool()
                                                       & (torch.arange(30)[None] < lengths[:, None])))
    out.logits["speaker"].sum().backward(retain_graph=True)         # speaker reads the shared f, not the branch
    assert all(p.grad is None for p in model.private.parameters())
    out.adversary.sum().backward()                                   # the adversary reads the emotion branch
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.private.parameters())
    with pytest.raises(ValueError, match="task with a private layer"):
        MultiTaskModel(TASKS, private=("keyword",))


def test_soft_sharing_penalty_and_its_gradient_by_hand():
    model = MultiTaskModel({"speaker": 4, "emotion": 5}, sharing="soft", width=16, soft_lambda=0.1)
    towers = list(model.towers.values())
    assert model.penalty() == 0                            # theta_i = theta_0 + delta_i, delta_i = 0 at the start
    with torch.no_grad():
        for p in towers[1].parameters():
            p.add_(0.1 * torch.randn_like(p))
    a, b = (t.stages[0][0].conv.weight for t in towers)
    expected = 0.1 * sum(((pa - pb) ** 2).sum() / 2 for pa, pb in zip(towers[0].parameters(), towers[1].parameters()))
    penalty = model.penalty()
    assert torch.allclose(penalty, expected)
    penalty.backward()
    mean = (a + b).detach() / 2
    assert torch.allclose(a.grad, 2 * 0.1 * (a.detach() - mean)) and torch.allclose(b.grad, -a.grad)
    assert MultiTaskModel(TASKS, sharing="hard", width=16).penalty() == 0


def test_task_gradients_by_hand_on_parameters_and_representation():
    from mtlkit.train import task_gradients, task_loss

    torch.manual_seed(0)
    x, lengths = _batch()
    model = MultiTaskModel({"vad": 2, "emotion": 5}, sharing="hard", width=16).eval()    # no dropout
    batch = dict(feats=x, lengths=lengths, vad=(torch.rand(3, 30) > 0.5).long(), emotion=torch.tensor([0, 3, 4]))
    got = task_gradients(model, batch, ["vad", "emotion"])                       # (T, D) on the parameters
    shared = model.shared_parameters()
    for row, task in zip(got, ["vad", "emotion"]):
        out = model(x, lengths)
        by_hand = torch.autograd.grad(task_loss(task, out.logits[task], batch[task]), shared, allow_unused=True)
        flat = torch.cat([(g if g is not None else torch.zeros_like(p)).flatten() for g, p in zip(by_hand, shared)])
        assert torch.allclose(row, flat, atol=1e-7)
    rep = task_gradients(model, batch, ["vad", "emotion"], grad_on="representation")
    assert rep.shape[1] == sum(t.numel() for t in model(x, lengths, split_shared=True).shared_leaves)
    with pytest.raises(ValueError, match="valid grad_ons: representation, parameters"):
        task_gradients(model, batch, ["vad"], grad_on="weights")


def test_metrics_by_hand():
    y, y_hat = [0, 0, 1, 1, 2], [0, 1, 1, 1, 0]
    # class 0: tp 1, fp 1, fn 1 -> 0.5; class 1: tp 2, fp 1 -> 0.8; class 2: tp 0 -> 0
    assert np.allclose(f1_scores(y, y_hat, 3), [0.5, 0.8, 0.0]) and math.isclose(macro_f1(y, y_hat, 3), 1.3 / 3)
    assert task_metrics("vad", [1, 1, 0, 0], [1, 0, 0, 1], 2) == {"accuracy": 0.5, "f1": 0.5}
    results = {"vad": {"f1": 0.99}, "emotion": {"accuracy": 0.6}}
    base = {"vad": {"f1": 0.90}, "emotion": {"accuracy": 0.5}}
    assert math.isclose(delta_m(results, base), 100 * (0.09 / 0.9 + 0.1 / 0.5) / 2)
    assert math.isclose(delta_m({"x": {"loss": 1.0}}, {"x": {"loss": 2.0}}, {"x": "loss"}), 50.0)
    zero = {"vad": {"f1": 0.0}, "emotion": {"accuracy": 0.5}}
    assert math.isclose(delta_m(results, zero), 20.0) and math.isnan(delta_m({"vad": {"f1": 1}}, {"vad": {"f1": 0}}))
    mean, half = mean_ci([1.0, 2.0, 3.0])
    assert mean == 2.0 and math.isclose(half, 4.303 * 1.0 / math.sqrt(3))


@pytest.fixture(scope="module")
def tiny_corpus():
    from mtlkit.data import make_corpus

    return make_corpus("easy", speakers=6, utterances_per_speaker=10, held_out_speakers=1, seed=5)


def test_fit_records_plain_data_that_round_trips(tiny_corpus, tmp_path):
    history = fit(tiny_corpus, tasks=["vad", "speaker", "emotion"], sharing="gated", weighting="uncertainty",
                  epochs=2, diagnose_every=1, progress=False, model_options=dict(width=16))
    assert len(history.epochs) == 2 and set(history.test) == {"vad", "speaker", "emotion"}
    assert len(history.step_weights) == 2 * math.ceil(len(tiny_corpus.split("train")) / 32)
    assert set(history.conflict_rate) == {"vad|speaker", "vad|emotion", "speaker|emotion"}
    assert len(history.gates["vad"]) == 16
    assert history.cosines[0]["matrix"][0][0] == pytest.approx(1.0, abs=1e-5)     # float32 norms
    history.save(tmp_path / "run.json")
    back = History.load(tmp_path / "run.json")
    assert back.to_json() == history.to_json()
    again = fit(tiny_corpus, tasks=["vad", "speaker", "emotion"], sharing="gated", weighting="uncertainty",
                epochs=2, diagnose_every=1, progress=False, model_options=dict(width=16))
    assert again.test == history.test and again.step_weights == history.step_weights      # seeded on CPU


def test_fit_records_the_cosines_conflict_rates_and_gates_that_an_independent_pass_gives(tiny_corpus, monkeypatch):
    """Each step's model, batch and random state are copied before the step; the cosines of the task gradients on
    the shared representation are then taken again by autograd, and the gates utterance by utterance (no padding)."""
    import copy

    from mtlkit import train
    from mtlkit.train import features_for, task_loss

    tasks, before, real_step = ["vad", "speaker", "emotion"], [], train.train_step

    def spy(model, *args):
        before.append((copy.deepcopy(model), args[2], torch.get_rng_state()))
        return real_step(model, *args)

    monkeypatch.setattr(train, "train_step", spy)
    history = fit(tiny_corpus, tasks=tasks, sharing="gated", weighting="uncertainty", epochs=2, diagnose_every=1,
                  progress=False, model_options=dict(width=16, gate="both"))
    assert len(before) == len(history.cosines) == len(history.step_weights)
    for (model, batch, rng), record in zip(before, history.cosines):
        torch.set_rng_state(rng)                                 # the same dropout masks in the heads
        out = model.train()(batch["feats"], batch["lengths"])
        G = torch.stack([torch.autograd.grad(task_loss(t, out.logits[t], batch[t]), out.shared, retain_graph=True)[0]
                         .flatten() for t in tasks])
        unit = G / G.norm(dim=1, keepdim=True)
        assert torch.allclose(torch.tensor(record["matrix"]), unit @ unit.T, atol=1e-5), record["step"]
    matrices = np.array([record["matrix"] for record in history.cosines])
    for i, j, pair in ((0, 1, "vad|speaker"), (0, 2, "vad|emotion"), (1, 2, "speaker|emotion")):
        assert history.conflict_rate[pair] == pytest.approx(float((matrices[:, i, j] < 0).mean())), pair
    assert set(history.conflict_rate.values()) - {0.5}, history.conflict_rate    # so that 'cos > 0' would differ
    model, evalset = history.model, features_for(history, tiny_corpus.split("test"))
    with torch.no_grad():                                        # gate="both": one gate per frame and channel
        alone = [model(b["feats"], b["lengths"]).gates for b in (collate([evalset[i]]) for i in range(len(evalset)))]
    for t in tasks:
        by_hand = torch.stack([gates[t][0].mean(0) for gates in alone]).mean(0)
        assert torch.allclose(torch.tensor(history.gates[t]), by_hand, atol=1e-6), t


def test_uncertainty_log_variances_have_their_own_constant_learning_rate(tiny_corpus):
    # the model's Adam (lr 5e-3, OneCycle) could move s by at most ~steps * 5e-3; the own group (lr 0.2) moves it more
    history = fit(tiny_corpus, tasks=["vad", "speaker"], weighting="uncertainty", epochs=2, progress=False,
                  weighting_options=dict(lr=0.2), model_options=dict(width=16), diagnose_every=1000)
    steps = len(history.step_weights)
    s = -torch.log(torch.tensor(history.step_weights[-1]))
    assert s.abs().max() > 3 * steps * 5e-3
    assert history.step_weights[-1][1] < history.step_weights[-1][0]     # speaker's loss is the larger: less weight


@pytest.mark.parametrize("weighting,sharing,grad_on", [("pcgrad", "hierarchical", "parameters"),
                                                      ("mgda", "hierarchical", "parameters"),
                                                      ("gradnorm", "hierarchical", "parameters"),
                                                      ("mgda", "mtan", "representation")])
def test_gradient_based_weightings_push_w_times_the_task_gradients_into_the_encoder_and_descend(
        tiny_corpus, monkeypatch, weighting, sharing, grad_on):
    """At fit's first step the encoder's gradient is sum_t w_t dL_t/dtheta, with the task gradients taken again by
    autograd on a copy of the model (same batch, same dropout masks), and Adam's first step moves each encoder
    parameter by -lr g / (|g| + eps). The encoder's parameters and mtan's four same-shaped shared tensors catch a
    direction split into the leaves in another order than the task gradients were flattened in."""
    import copy

    from mtlkit import train
    from mtlkit.train import task_loss

    tasks, steps, real_step = ["vad", "speaker"], [], train.train_step

    def spy(model, weigher, optimizer, batch, *args):
        copied, rng, lr = copy.deepcopy(model), torch.get_rng_state(), optimizer.param_groups[0]["lr"]
        before = [p.detach().clone() for p in model.shared_parameters()]
        result = real_step(model, weigher, optimizer, batch, *args)
        steps.append(dict(model=copied, batch=batch, rng=rng, lr=lr, weights=result[1].weights, before=before,
                          grad=[p.grad.clone() for p in model.shared_parameters()],
                          after=[p.detach().clone() for p in model.shared_parameters()]))
        return result

    monkeypatch.setattr(train, "train_step", spy)
    history = fit(tiny_corpus, tasks=tasks, sharing=sharing, weighting=weighting, epochs=1, progress=False,
                  model_options=dict(width=16), grad_on=grad_on, diagnose_every=1)
    assert history.config["grad_on"] == grad_on and 0 < abs(history.cosines[0]["matrix"][0][1]) < 1
    first = steps[0]
    assert history.step_weights[0] == pytest.approx(first["weights"].tolist())
    model, batch = first["model"], first["batch"]
    torch.set_rng_state(first["rng"])                           # the same dropout masks in the heads
    out = model.train()(batch["feats"], batch["lengths"])
    shared, rows = model.shared_parameters(), []
    for t in tasks:                                             # vad reads the cnn only: zeros for the LSTMs
        grads = torch.autograd.grad(task_loss(t, out.logits[t], batch[t]), shared, retain_graph=True, allow_unused=True)
        rows.append(torch.cat([(g if g is not None else torch.zeros_like(p)).flatten() for g, p in zip(grads, shared)]))
    G = torch.stack(rows)
    expected = first["weights"].float() @ G
    pushed = torch.cat([g.flatten() for g in first["grad"]])
    assert torch.allclose(pushed, expected, rtol=1e-4, atol=1e-5 * expected.abs().max())
    moved = torch.cat([(a - b).flatten() for a, b in zip(first["after"], first["before"])])
    assert torch.allclose(moved, -first["lr"] * pushed / (pushed.abs() + 1e-8), rtol=1e-3, atol=1e-3 * first["lr"])


def test_fit_errors_name_the_problem(tiny_corpus, tmp_path):
    with pytest.raises(ValueError, match="weighting 'pcgrad' combines task gradients on a shared encoder"):
        fit(tiny_corpus, tasks=["vad", "speaker"], sharing="separate", weighting="pcgrad", epochs=1, progress=False)
    with pytest.raises(ValueError, match="disjoint support.*pass grad_on='parameters'"):
        fit(tiny_corpus, tasks=["vad", "speaker"], sharing="hierarchical", weighting="mgda", epochs=1, progress=False)
    with pytest.raises(ValueError, match="unknown grad_on 'params'.*representation, parameters"):
        fit(tiny_corpus, tasks=["vad", "speaker"], weighting="mgda", epochs=1, progress=False, grad_on="params")
    with pytest.raises(ValueError, match="unknown weighting 'nash'.*equal, fixed"):
        fit(tiny_corpus, weighting="nash", epochs=1, progress=False)
    with pytest.raises(ValueError, match="unknown task 'gender'"):
        fit(tiny_corpus, tasks=["gender"], epochs=1, progress=False)
    with pytest.raises(ValueError, match="at least one task"):
        fit(tiny_corpus, tasks=[], epochs=1, progress=False)
    no_emotion = Corpus([replace(u, emotion="") for u in tiny_corpus], info=tiny_corpus.info)
    with pytest.raises(ValueError, match="no emotion labels"):
        fit(no_emotion, tasks=["speaker", "emotion"], epochs=1, progress=False)
    broken = Corpus([replace(u, wave=u.wave * np.nan) if i == 3 else u for i, u in enumerate(tiny_corpus)],
                    info=tiny_corpus.info)
    with pytest.raises(FloatingPointError, match="loss of task 'vad' is nan at step 0"):
        fit(broken, tasks=["vad", "speaker"], epochs=1, progress=False, model_options=dict(width=16))


def test_attentive_statistics_pooling_with_flat_scores_is_mean_and_std():
    from mtlkit.models import AttentiveStatsPool

    pool = AttentiveStatsPool(width=3)
    with torch.no_grad():
        for p in pool.score.parameters():
            p.zero_()                                      # every frame scores the same
    x = torch.randn(2, 6, 3)
    mask = torch.tensor([[1] * 6, [1] * 4 + [0] * 2]).bool()
    out = pool(x, mask)
    for b, n in ((0, 6), (1, 4)):
        frames = x[b, :n]
        assert torch.allclose(out[b, :3], frames.mean(0), atol=1e-6)
        assert torch.allclose(out[b, 3:], frames.std(0, unbiased=False), atol=1e-5)


def _packed_reference(block, x, lengths):
    """A packed bidirectional LSTM with the block's weights, run on (batch, frames, n) of the given lengths."""
    ref = torch.nn.LSTM(x.shape[-1], x.shape[-1] // 2, batch_first=True, bidirectional=True)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(ref, f"{name}_l0").copy_(getattr(block.forward_lstm, f"{name}_l0"))
            getattr(ref, f"{name}_l0_reverse").copy_(getattr(block.backward_lstm, f"{name}_l0"))
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    return torch.nn.utils.rnn.pad_packed_sequence(ref(packed)[0], batch_first=True, total_length=x.shape[1])[0]


@pytest.mark.parametrize("sharing", ["hard", "cross_stitch", "gated"])
def test_frame_pool_2_is_the_10ms_model_on_pair_means_with_each_vad_logit_repeated(sharing):
    from mtlkit.models.encoder import pool_frames

    torch.manual_seed(0)
    pooled_model = MultiTaskModel(TASKS, sharing=sharing, width=16, frame_pool=2).eval()
    plain = MultiTaskModel(TASKS, sharing=sharing, width=16, frame_pool=1).eval()
    plain.load_state_dict(pooled_model.state_dict())
    x, lengths = _batch()                                           # lengths 30, 21, 9 (odd: a lone last frame)
    pairs = torch.zeros(3, 15, x.shape[-1])
    for b, n in enumerate(lengths.tolist()):
        for j in range(0, n, 2):
            pairs[b, j // 2] = x[b, j:min(j + 2, n)].mean(0)
    half = (lengths + 1) // 2
    ours, ref = pooled_model(x, lengths), plain(pairs, half)
    for t in ("speaker", "emotion"):
        assert torch.allclose(ours.logits[t], ref.logits[t], atol=1e-5), t
    assert ours.logits["vad"].shape[:2] == x.shape[:2]
    for b, n in enumerate(lengths.tolist()):
        assert torch.allclose(ours.logits["vad"][b, :n], ref.logits["vad"][b].repeat_interleave(2, 0)[:n], atol=1e-5)
    assert torch.allclose(pooled_model.embed(x, lengths, "emotion"), plain.embed(pairs, half, "emotion"), atol=1e-5)
    assert torch.equal(pool_frames(x, lengths, 2)[1], half)
    with pytest.raises(ValueError, match="frame_pool must be a positive number of frames, got 0"):
        MultiTaskModel(TASKS, frame_pool=0)


def test_bilstm_block_equals_a_packed_bidirectional_lstm():
    from mtlkit.models.encoder import BiLSTMBlock

    torch.manual_seed(0)
    block, lengths = BiLSTMBlock(8, dropout=0.0, stride=1).eval(), torch.tensor([7, 3, 5])
    x = torch.randn(3, 7, 8) * (torch.arange(7)[None, :, None] < lengths[:, None, None])
    assert torch.allclose(block(x, lengths), x + _packed_reference(block, x, lengths), atol=1e-6)


def test_bilstm_block_with_stride_2_runs_on_pair_means_and_repeats_each_output_over_its_two_frames():
    from mtlkit.models.encoder import BiLSTMBlock

    torch.manual_seed(0)
    block, lengths = BiLSTMBlock(8, dropout=0.0, stride=2).eval(), torch.tensor([7, 3, 6])
    x = torch.randn(3, 7, 8) * (torch.arange(7)[None, :, None] < lengths[:, None, None])
    out = block(x, lengths)
    for b, n in enumerate(lengths.tolist()):
        frames = x[b, :n]
        pairs = torch.stack([frames[i:i + 2].mean(0) for i in range(0, n, 2)])    # an odd last frame alone
        y = _packed_reference(block, pairs[None], torch.tensor([len(pairs)]))[0]
        expected = frames + y.repeat_interleave(2, 0)[:n]
        assert torch.allclose(out[b, :n], expected, atol=1e-6), b
        assert torch.all(out[b, n:] == 0), "padding frames stay zero"
    with pytest.raises(ValueError, match="stride must be a positive number of frames, got 0"):
        BiLSTMBlock(8, stride=0)


def test_evaluation_batches_in_length_order_pad_less_and_score_the_same(tiny_corpus):
    from mtlkit.features import FeatureDataset
    from mtlkit.train import batches, evaluate

    data = FeatureDataset(tiny_corpus.split("train"), ("vad", "speaker", "emotion"))

    def padded(bs) -> int:                                  # frames of padding over an epoch
        return sum(b["feats"].shape[0] * b["feats"].shape[1] - int(b["lengths"].sum()) for b in bs)

    in_order = list(batches(data, 4, None, by_length=True))
    assert [int(n) for b in in_order for n in b["lengths"]] == sorted(len(f) for f in data.feats)
    assert padded(in_order) < 0.3 * padded(list(batches(data, 4, None))), "length order should pad far less"
    torch.manual_seed(0)
    model = MultiTaskModel({"vad": 2, "speaker": len(data.classes["speaker"]), "emotion": 5}, width=16)
    scores, pairs = evaluate(model, data, batch_size=4)
    by_hand = {t: ([], []) for t in ("vad", "speaker", "emotion")}
    model.eval()
    with torch.no_grad():
        for i in range(len(data)):                          # one utterance at a time: no padding at all
            b = collate([data[i]])
            out = model(b["feats"], b["lengths"])
            for t in by_hand:
                by_hand[t][0].append(b[t].flatten())
                by_hand[t][1].append(out.logits[t].argmax(-1).flatten())
    for t, (y, y_hat) in by_hand.items():
        y, y_hat = torch.cat(y), torch.cat(y_hat)
        keep = y >= 0
        assert sorted(zip(y[keep].tolist(), y_hat[keep].tolist())) == sorted(zip(*(a.tolist() for a in pairs[t])))


# Mixture-of-experts and attention sharing (notebook 03): mmoe, ple, mtan.

EXPERT_SHARINGS = {"mmoe": {}, "ple": {}, "ple 2 levels": dict(expert_layers=2)}


def _expert_model(name, **options):
    sharing = name.split()[0]
    return MultiTaskModel(TASKS, sharing=sharing, width=16, **{**EXPERT_SHARINGS.get(name, {}), **options})


def _randomise_gates(model, scale=0.5):
    """Gates start uniform (W = 0, b = 0); give them random weights so that softmax, mixing and order matter."""
    from mtlkit.models import ExpertGate

    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, ExpertGate):
                module.linear.weight.normal_(0, scale)
                module.linear.bias.normal_(0, scale)


@pytest.mark.parametrize("name", list(EXPERT_SHARINGS) + ["mtan"])
def test_new_strategies_give_the_right_shapes_layers_and_embeddings(name):
    x, lengths = _batch()
    model = _expert_model(name).eval()
    out = model(x, lengths)
    assert out.logits["vad"].shape == (3, 30, 2) and out.logits["emotion"].shape == (3, 5)
    n = {"mmoe": 2, "ple": 3, "ple 2 levels": 3, "mtan": None}[name]       # ple: its own expert, then 2 shared
    if n:
        assert {t: tuple(w.shape) for t, w in out.expert_weights.items()} == {t: (3, n) for t in TASKS}
    else:
        assert {t: tuple(a.shape) for t, a in out.gates.items()} == {t: (3, 15, 16) for t in TASKS}
    layers = model.layer_outputs(x, lengths, "emotion")
    assert [tuple(v.shape) for v in layers] == [(3, 15, 16)] * 3 and model.layer_names == ["cnn", "lstm1", "lstm2"]
    mask = torch.arange(15)[None] < ((lengths + 1) // 2)[:, None]
    assert torch.allclose(model.embed(x, lengths, "emotion"), model.heads["emotion"].embed(layers[-1], mask), atol=1e-6)
    if name != "mtan":
        with pytest.raises(ValueError, match="this model's layers differ per task"):
            model.layer_outputs(x, lengths)


@pytest.mark.parametrize("name", list(EXPERT_SHARINGS))
def test_expert_weights_are_a_softmax_of_the_gate_over_the_mean_of_what_experts_read(name):
    x, lengths = _batch()
    model = _expert_model(name).eval()
    _randomise_gates(model)
    out = model(x, lengths)
    for t, w in out.expert_weights.items():
        assert (w >= 0).all() and torch.allclose(w.sum(1), torch.ones(3)), t
        assert w.std(1).min() > 1e-3, "random gates should not be uniform"
    if name == "mmoe":                                       # by hand: w = softmax(W mean_valid(u) + b), sum_e w_e e(u)
        from mtlkit.models.encoder import pool_frames

        pooled, half = pool_frames(x, lengths, 2)
        u = model.encoder(pooled, half)[-1]
        mean = torch.stack([u[b, :n].mean(0) for b, n in enumerate(half.tolist())])
        gate = model.expert_gates["speaker"].linear
        w = torch.softmax(mean @ gate.weight.T + gate.bias, 1)
        assert torch.allclose(out.expert_weights["speaker"], w, atol=1e-6)
        mixed = sum(w[:, e, None, None] * expert(u, half)[-1] for e, expert in enumerate(model.experts))
        assert torch.allclose(model.layer_outputs(x, lengths, "speaker")[-1], mixed, atol=1e-6)


def test_two_level_ple_by_hand():
    """Tang et al. 2020: level 1 reads u; task t's gate weighs [its own experts, the shared ones]; the shared gate
    weighs every expert into the input of the next level's shared experts; level 2 reads those."""
    from mtlkit.models.encoder import pool_frames
    from mtlkit.models.experts import mix

    torch.manual_seed(0)
    model = MultiTaskModel(TASKS, sharing="ple", width=16, experts=2, task_experts=1, expert_layers=2).eval()
    _randomise_gates(model)
    x, lengths = _batch()
    pooled, half = pool_frames(x, lengths, 2)
    mask = torch.arange(15)[None] < half[:, None]
    u = model.encoder(pooled, half)[-1]
    one, two = model.levels
    run = lambda experts, h: [e(h, half)[-1] for e in experts]  # noqa: E731
    own1 = {t: run(one.own[t], u) for t in TASKS}
    shared1 = run(one.shared, u)
    h = {t: mix(one.gates[t](u, mask), own1[t] + shared1) for t in TASKS}
    h_shared = mix(one.shared_gate(u, mask), own1["vad"] + own1["speaker"] + own1["emotion"] + shared1)
    shared2 = run(two.shared, h_shared)
    for t in TASKS:
        top = mix(two.gates[t](h[t], mask), run(two.own[t], h[t]) + shared2)
        layers = model.layer_outputs(x, lengths, t)
        assert torch.allclose(layers[-2], h[t], atol=1e-6) and torch.allclose(layers[-1], top, atol=1e-6), t


def _copy_stage(target, source):
    target.load_state_dict(source.state_dict())


def test_mmoe_with_one_expert_is_hard_sharing_on_that_expert():
    torch.manual_seed(0)
    mmoe = MultiTaskModel(TASKS, sharing="mmoe", width=16, experts=1).eval()
    hard = MultiTaskModel(TASKS, sharing="hard", width=16).eval()
    _randomise_gates(mmoe)                                   # one expert: softmax of one logit is 1 whatever W is
    _copy_stage(hard.encoder.stages[0], mmoe.encoder.stages[0])
    _copy_stage(hard.encoder.stages[1], mmoe.encoder.stages[1])
    _copy_stage(hard.encoder.stages[2], mmoe.experts[0].blocks[0])
    _copy_stage(hard.heads, mmoe.heads)
    x, lengths = _batch()
    a, b = mmoe(x, lengths), hard(x, lengths)
    assert all(torch.allclose(a.logits[t], b.logits[t], atol=1e-6) for t in TASKS)
    assert all(torch.equal(w, torch.ones(3, 1)) for w in a.expert_weights.values())
    two = MultiTaskModel(TASKS, sharing="mmoe", width=16, experts=2).eval()     # a second expert changes it
    two.load_state_dict({k: v for k, v in mmoe.state_dict().items() if "gates" not in k}, strict=False)
    assert not torch.allclose(two(x, lengths).logits["speaker"], b.logits["speaker"])


def test_cgc_without_task_experts_is_mmoe_and_with_one_shared_expert_is_hard_sharing():
    torch.manual_seed(0)
    ple = MultiTaskModel(TASKS, sharing="ple", width=16, experts=3, task_experts=0).eval()
    mmoe = MultiTaskModel(TASKS, sharing="mmoe", width=16, experts=3).eval()
    _randomise_gates(ple)
    mmoe.encoder.load_state_dict(ple.encoder.state_dict())
    mmoe.heads.load_state_dict(ple.heads.state_dict())
    for expert, theirs in zip(mmoe.experts, ple.levels[0].shared):
        expert.load_state_dict(theirs.state_dict())
    for t in TASKS:
        mmoe.expert_gates[t].load_state_dict(ple.levels[0].gates[t].state_dict())
    x, lengths = _batch()
    a, b = ple(x, lengths), mmoe(x, lengths)
    assert all(torch.allclose(a.logits[t], b.logits[t], atol=1e-6) for t in TASKS)
    assert all(torch.allclose(a.expert_weights[t], b.expert_weights[t]) for t in TASKS)


def test_mtan_with_attention_forced_open_is_hard_sharing():
    torch.manual_seed(0)
    mtan = MultiTaskModel(TASKS, sharing="mtan", width=16).eval()
    hard = _hard_sharing_with_the_weights_of(mtan, but="attention.")
    x, lengths = _batch()
    with torch.no_grad():
        for modules in mtan.attention.values():
            for attend in modules:
                attend.outer.weight.zero_()
                attend.outer.bias.fill_(30.0)               # sigmoid(30) is 1 in float32
    a, b = mtan(x, lengths), hard(x, lengths)
    assert all(torch.allclose(a.logits[t], b.logits[t], atol=1e-6) for t in TASKS)
    assert all(torch.equal(v, w) for v, w in zip(mtan.layer_outputs(x, lengths, "vad"), hard.layer_outputs(x, lengths)))
    with torch.no_grad():
        mtan.attention["speaker"][2].outer.bias.fill_(0.0)    # a half-open mask on lstm2 reaches speaker's features
    a = mtan(x, lengths)
    assert not torch.allclose(a.logits["speaker"], b.logits["speaker"])
    assert torch.allclose(a.logits["emotion"], b.logits["emotion"], atol=1e-6)


def test_mtan_attention_is_chained_across_layers_as_the_paper_writes_it():
    torch.manual_seed(0)
    model = MultiTaskModel({"speaker": 4}, sharing="mtan", width=16, frame_pool=1).eval()
    x, lengths = _batch()
    convs = model.encoder.stages[0]
    u = convs[0](x, lengths)
    p = [convs[1](u, lengths)]
    p += [model.encoder.stages[1](p[0], lengths)]
    p += [model.encoder.stages[2](p[1], lengths)]
    att = model.attention["speaker"]
    a1 = torch.sigmoid(att[0].outer(torch.relu(att[0].norm(att[0].inner(u)))))
    hat = [a1 * p[0]]
    for j in (1, 2):                                       # a^j = sigmoid(W2 ReLU(LN(W1 [u^j ; hat^(j-1)]))), u^j = p^j
        z = torch.cat([p[j], hat[-1]], -1)
        hat.append(torch.sigmoid(att[j].outer(torch.relu(att[j].norm(att[j].inner(z))))) * p[j])
    got = model.layer_outputs(x, lengths, "speaker")
    assert all(torch.allclose(g, h, atol=1e-6) for g, h in zip(got, hat))
    assert all(torch.equal(g, h) for g, h in zip(model.layer_outputs(x, lengths), p))     # no task: shared layers


@pytest.mark.parametrize("name", list(EXPERT_SHARINGS) + ["mtan"])
def test_gradients_reach_every_expert_gate_and_attention_module(name):
    model = _expert_model(name, experts=2, task_experts=1)
    _randomise_gates(model)
    x, lengths = _batch()
    out = model(x, lengths)
    sum(v.sum() for v in out.logits.values()).backward()
    dead = [k for k, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert dead == []
    for t in TASKS:                                         # each task's own modules hear only from that task
        model.zero_grad()
        model(x, lengths).logits[t].sum().backward()
        own = {"mmoe": "expert_gates", "ple": "levels.0.gates", "ple 2 levels": "levels.1.gates",
               "mtan": "attention"}[name]
        heard = {k.split(".")[-4 if name == "mtan" else -3] for k, p in model.named_parameters()
                 if k.startswith(own) and p.grad is not None and p.grad.abs().sum() > 0}
        assert heard == {t}, (t, heard)


class _WeightedGradients:
    """A gradient-based weighting whose direction is sum_t w_t g_t with fixed w_t = 1, 2, 3, ... (for testing)."""

    needs_grads, grad_on = True, "representation"

    def __call__(self, losses, grads):
        from mtlkit.weighting.base import combine

        return combine(torch.arange(1.0, len(losses) + 1), grads)

    def parameters(self):
        return iter(())


@pytest.mark.parametrize("grad_on", ["representation", "parameters"])
@pytest.mark.parametrize("name", list(EXPERT_SHARINGS) + ["mtan", "hard", "gated"])
def test_a_gradient_step_gives_shared_parameters_the_combination_and_the_others_their_own_gradient(name, grad_on):
    """With the direction sum_t w_t g_t, shared parameters get the gradient of sum_t w_t L_t and every other one
    that of sum_t L_t (its tasks' own, unweighted). Fails if a task module reads a shared tensor that is not in
    out.shared (split_shared), or if shared_parameters() is not exactly what out.shared depends on."""
    from mtlkit.train import task_loss, train_step

    torch.manual_seed(0)
    model = _expert_model(name, adversary_classes=0) if name in EXPERT_SHARINGS or name == "mtan" else \
        MultiTaskModel(TASKS, sharing=name, width=16)
    _randomise_gates(model)
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    x, lengths = _batch()
    batch = dict(feats=x, lengths=lengths, vad=(torch.rand(3, 30) > 0.5).long(), speaker=torch.tensor([0, 3, 1]),
                 emotion=torch.tensor([4, 0, 2]))
    names = {id(p): k for k, p in model.named_parameters()}
    out = model(x, lengths)
    below = torch.autograd.grad(sum(v.sum() for v in out.shared), list(model.parameters()), retain_graph=True,
                                allow_unused=True)
    assert {names[id(p)] for p, g in zip(model.parameters(), below) if g is not None} == \
        {names[id(p)] for p in model.shared_parameters()}
    shared = {id(p) for p in model.shared_parameters()}
    losses = [task_loss(t, out.logits[t], batch[t]) for t in TASKS]
    weighted = torch.autograd.grad(sum((i + 1) * loss for i, loss in enumerate(losses)), list(model.parameters()),
                                   retain_graph=True, allow_unused=True)
    plain = torch.autograd.grad(sum(losses), list(model.parameters()), allow_unused=True)
    expected = {names[id(p)]: w if id(p) in shared else g for p, w, g in zip(model.parameters(), weighted, plain)}
    train_step(model, _WeightedGradients(), torch.optim.SGD(model.parameters(), lr=0.0), batch, list(TASKS),
               grad_on=grad_on)
    for k, p in model.named_parameters():                      # None: unused (gated's frame query)
        assert (p.grad is None) == (expected[k] is None), k
        assert p.grad is None or torch.allclose(p.grad, expected[k], atol=1e-6, rtol=1e-4), k


@pytest.mark.parametrize("sharing", ["mtan", "mmoe", "ple"])
def test_fit_trains_the_new_strategies_with_equal_and_pcgrad(tiny_corpus, sharing):
    for weighting in ("equal", "pcgrad"):
        history = fit(tiny_corpus, tasks=["vad", "speaker"], sharing=sharing, weighting=weighting, epochs=1,
                      progress=False, model_options=dict(width=16), diagnose_every=1)
        assert history.test["vad"]["accuracy"] > 0 and np.isfinite(history.step_weights).all()
        assert 0 < abs(history.cosines[0]["matrix"][0][1]) < 1
        if sharing == "mtan":
            assert len(history.gates["vad"]) == 16 and not history.expert_weights
        else:
            assert [len(history.expert_weights[t]) for t in ("vad", "speaker")] == [2 if sharing == "mmoe" else 3] * 2
            assert all(abs(sum(w) - 1) < 1e-5 for w in history.expert_weights.values())


def test_bad_expert_arguments_are_named():
    with pytest.raises(ValueError, match="experts must be a positive number of shared experts, got experts=0"):
        MultiTaskModel(TASKS, sharing="mmoe", experts=0)
    with pytest.raises(ValueError, match="task_experts must be 0 or more experts per task, got task_experts=-1"):
        MultiTaskModel(TASKS, sharing="ple", task_experts=-1)
    with pytest.raises(ValueError, match=r"expert_layers must be between 1 and lstm_layers=2 .*got expert_layers=3"):
        MultiTaskModel(TASKS, sharing="ple", expert_layers=3)
    with pytest.raises(ValueError, match="got expert_layers=0"):
        MultiTaskModel(TASKS, sharing="mmoe", expert_layers=0)
    assert MultiTaskModel(TASKS, sharing="hard", experts=0).sharing == "hard"      # other strategies ignore them
