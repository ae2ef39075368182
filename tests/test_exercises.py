"""Every exercise checker accepts its reference and rejects realistic wrong solutions with the intended message."""
import inspect
import json
from pathlib import Path

import pytest
import torch

from mtlkit.exercises import EXERCISES, check, hint, solution


def _verdict(capsys, name, fn) -> tuple[bool, str]:
    ok = check(name, fn)
    return ok, capsys.readouterr().out


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_every_checker_accepts_its_reference_and_reports_a_stub_as_not_done(capsys, name):
    ok, out = _verdict(capsys, name, EXERCISES[name].reference)
    assert ok and out.startswith(f"{name}: passed. Checked:"), out

    def stub(*args):
        raise NotImplementedError

    ok, out = _verdict(capsys, name, stub)
    assert not ok and "not done yet" in out, out


def _pcgrad_variant(coefficient, always=False, in_place=False):
    """PCGrad with one realistic mistake: g_i' <- g_i' - coefficient(g_i', g_j) g_j, maybe without a conflict,
    maybe in place (then g_j is already projected when it is used)."""
    def fn(grads):
        p = grads if in_place else grads.clone()
        for i in range(len(grads)):
            for j in range(len(grads)):
                if j != i and (always or p[i] @ grads[j] < 0):
                    p[i] = p[i] - coefficient(p[i], grads[j]) * grads[j]
        return p
    return fn


_projection = lambda p, g: (p @ g) / (g @ g)                 # noqa: E731  (the right coefficient)


@pytest.mark.parametrize("wrong, message", [
    (_pcgrad_variant(lambda p, g: -_projection(p, g)), "still conflicts with task 2: g_1' . g_2 = -2.00 < 0"),
    (_pcgrad_variant(lambda p, g: (p @ g) / g.norm()), "divide by ||g_2||^2, not ||g_2||"),
    (_pcgrad_variant(_projection, in_place=True), "project g_i' off the *original* g_j"),
    (_pcgrad_variant(_projection, always=True),
     "gradients that do not conflict (g_1 . g_2 = 1 > 0) must come back unchanged"),
    (lambda grads: grads.sum(0), "return a tensor of the same shape as grads"),
])
def test_pcgrad_checker_rejects_wrong_projections(capsys, wrong, message):
    ok, out = _verdict(capsys, "pcgrad_project", wrong)
    assert not ok and message in out, out


def _reversal(scale, forward_sign=1.0, detach=False):
    def fn(x, strength):
        class F(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return forward_sign * x.view_as(x)

            @staticmethod
            def backward(ctx, grad):
                return scale(strength) * grad
        out = F.apply(x)
        return out.detach() if detach else out
    return fn


@pytest.mark.parametrize("wrong, message", [
    (_reversal(lambda s: 1.0), "the gradient came through unchanged"),
    (_reversal(lambda s: -1.0), "negated but not scaled"),
    (_reversal(lambda s: s), "expected [-0.30000001192092896, -0.6000000238418579, 0.30000001192092896]"),
    (_reversal(lambda s: -s, forward_sign=-1.0), "the forward pass must return x unchanged"),
    (_reversal(lambda s: -s, detach=True), "the output does not require a gradient"),
])
def test_gradient_reversal_checker_rejects_wrong_layers(capsys, wrong, message):
    ok, out = _verdict(capsys, "gradient_reversal", wrong)
    assert not ok and message in out, out


def _protos(support, labels, n_way, reduce="mean"):
    return torch.stack([getattr(support[labels == c], reduce)(0) for c in range(n_way)])


@pytest.mark.parametrize("wrong, message", [
    (lambda s, y, q, n: torch.cdist(q, _protos(s, y, n)) ** 2, "the signs are flipped"),
    (lambda s, y, q, n: -torch.cdist(q, _protos(s, y, n)), "use the *squared* Euclidean distance"),
    (lambda s, y, q, n: -torch.cdist(q, _protos(s, y, n, "sum")) ** 2, "a prototype is the *mean*"),
    (lambda s, y, q, n: -torch.cdist(q, s.view(n, -1, s.shape[-1]).mean(1)) ** 2,   # classes by position
     "pick each class's support rows by its label, not by position"),
])
def test_proto_logits_checker_rejects_wrong_logits(capsys, wrong, message):
    ok, out = _verdict(capsys, "proto_logits", wrong)
    assert not ok and message in out, out


def test_a_crashing_solution_is_reported_with_its_input_not_raised(capsys):
    ok, out = _verdict(capsys, "proto_logits", lambda s, y, q, n: s @ q)
    assert not ok and "your function raised RuntimeError" in out and "2-way 2-shot example" in out, out


def test_hints_come_one_at_a_time_and_the_solution_is_the_reference_source(capsys):
    name = "gradient_reversal"
    first, second = hint(name), hint(name)
    assert first.startswith("hint 1 of 3") and second.startswith("hint 2 of 3")
    assert "def reverse_gradient" in solution(name) and "return Reverse.apply(x)" in solution(name)
    with pytest.raises(ValueError, match="exercise 'nope'.*pcgrad_project"):
        check("nope", print)


NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def _cell(nb: dict, suffix: str, contains: str) -> str:
    """The one cell whose id ends in ``suffix`` and whose source contains ``contains``."""
    found = [src for c in nb["cells"] if c.get("id", "").endswith(suffix) and contains in (src := "".join(c["source"]))]
    assert len(found) == 1, f"{len(found)} cells *{suffix} with {contains!r}"
    return found[0]


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_each_notebook_exercise_reports_its_stub_as_not_done_and_passes_with_the_reference_filled_in(capsys, name):
    exercise = EXERCISES[name]
    nb = json.loads((NOTEBOOKS / f"{exercise.notebook}.ipynb").read_text())
    fn = exercise.reference.__name__
    stub, check_cell = _cell(nb, "-exercise-stub", f"def {fn}("), _cell(nb, "-exercise-check", f'check("{name}"')
    assert f"def {exercise.reference.__name__}(" in stub and "raise NotImplementedError" in stub
    assert f'check("{name}", {exercise.reference.__name__})' in check_cell
    namespace = {}
    exec(stub, namespace)                                   # the notebook as committed: the stub
    exec(check_cell, namespace)
    assert "not done yet" in capsys.readouterr().out
    exec(inspect.getsource(exercise.reference), namespace)  # a learner who wrote the reference
    exec(check_cell, namespace)
    assert f"{name}: passed" in capsys.readouterr().out


def _penalty(distance, lam_used=True, detach=False, reduce="sum"):
    def fn(towers, lam):
        total = 0.0
        for params in zip(*towers):
            stacked = torch.stack(params)
            total = total + distance(stacked)
        if reduce == "mean":
            total = total / len(towers)
        out = (lam if lam_used else 1.0) * total
        return out.detach() if detach else out
    return fn


@pytest.mark.parametrize("wrong, message", [
    (_penalty(lambda s: ((s - s.mean(0)) ** 2).sum(), lam_used=False), "lam is missing"),
    (_penalty(lambda s: (s - s.mean(0)).flatten(1).norm(dim=1).sum()), "squares the distances"),
    (_penalty(lambda s: ((s - s[0]) ** 2).sum()), "from the towers' *mean*, not from the first tower"),
    (_penalty(lambda s: ((s - s.mean(0)) ** 2).sum(), detach=True), "does not reach the towers' parameters"),
    (_penalty(lambda s: ((s - s.mean(0)) ** 2).sum(), reduce="mean"), "the penalty is 2.50"),
])
def test_soft_penalty_checker_rejects_wrong_penalties(capsys, wrong, message):
    ok, out = _verdict(capsys, "soft_penalty", wrong)
    assert not ok and message in out, out


def _gate(order="fe", valid_only=True, squash=True, keep_dim=True):
    def fn(f, mask, e, weight, bias):
        m = mask.unsqueeze(-1) if valid_only else torch.ones_like(mask).unsqueeze(-1)
        summary = (f * m).sum(1) / m.sum(1)
        parts = [summary, e.expand(f.shape[0], -1)]
        z = torch.cat(parts if order == "fe" else parts[::-1], -1) @ weight.T + bias
        z = torch.sigmoid(z) if squash else z
        return z.unsqueeze(1) if keep_dim else z
    return fn


@pytest.mark.parametrize("wrong, message", [
    (_gate(squash=False), "alpha must lie in (0, 1)"),
    (_gate(valid_only=False), "average f over the *valid* frames only"),
    (_gate(order="ef"), "the input is [mean_t f_t ; e] in that order"),
    (_gate(keep_dim=False), "return alpha of shape (batch, 1, width) = (3, 1, 4)"),
])
def test_channel_gate_checker_rejects_wrong_gates(capsys, wrong, message):
    ok, out = _verdict(capsys, "channel_gate", wrong)
    assert not ok and message in out, out


def test_the_references_compute_what_the_library_computes():
    """The exercises' readable references and the library's classes are twins: they must not drift apart."""
    from mtlkit.exercises import adversary, sharing
    from mtlkit.models import MultiTaskModel, TaskGate, reverse_gradient

    torch.manual_seed(0)
    model = MultiTaskModel({"speaker": 3, "emotion": 4}, sharing="soft", width=8, soft_lambda=0.3)
    for tower in model.towers.values():                     # towers start equal: move them apart
        for p in tower.parameters():
            p.data.add_(torch.randn_like(p))
    towers = [list(t.parameters()) for t in model.towers.values()]
    assert torch.allclose(sharing.soft_penalty(towers, 0.3), model.penalty(), rtol=1e-5)

    gate, f = TaskGate(6, embed_dim=3), torch.randn(2, 5, 6)
    torch.nn.init.normal_(gate.channel.weight)
    mask = torch.tensor([[1] * 5, [1] * 3 + [0] * 2]).bool()
    ours = sharing.channel_gate(f, mask, gate.task_embed, gate.channel.weight, gate.channel.bias)
    assert torch.allclose(ours, gate(f, mask), atol=1e-6)

    x = torch.randn(4, requires_grad=True)
    (a,) = torch.autograd.grad((adversary.reverse_gradient(x, 0.7) * torch.arange(4.0)).sum(), x)
    (b,) = torch.autograd.grad((reverse_gradient(x, 0.7) * torch.arange(4.0)).sum(), x)
    assert torch.equal(a, b)


def _stats(masked=True, weighted_mean=True, weighted_var=True, root=True, clamp=True, order="ms"):
    """Attentive statistics pooling with one realistic mistake."""
    def fn(x, mask, scores):
        s = scores.masked_fill(~mask, float("-inf")) if masked else scores
        alpha = torch.softmax(s, dim=1).unsqueeze(-1)
        plain = mask.unsqueeze(-1).float() / mask.sum(1, keepdim=True).unsqueeze(-1)
        mean = ((alpha if weighted_mean else plain) * x).sum(1)
        var = ((alpha if weighted_var else plain) * (x - mean.unsqueeze(1)) ** 2).sum(1)
        var = (alpha * x * x).sum(1) - mean ** 2 if not clamp else var.clamp_min(1e-6)
        std = var.sqrt() if root else var
        return torch.cat([mean, std] if order == "ms" else [std, mean], -1)
    return fn


@pytest.mark.parametrize("wrong, message", [
    (_stats(masked=False), "the padded frame (x = 100) got attention"),
    (_stats(weighted_mean=False, weighted_var=False), "your mean is the plain average of the valid frames"),
    (_stats(weighted_var=False), "your std (2.236) ignores the attention weights"),
    (_stats(root=False), "you returned the weighted variance (3.0)"),
    (_stats(order="sm"), "mean and std are swapped"),
    (_stats(clamp=False), "clamp the variance at 1e-6 before the square root"),
])
def test_attentive_stats_checker_rejects_wrong_pooling(capsys, wrong, message):
    ok, out = _verdict(capsys, "attentive_stats", wrong)
    assert not ok and message in out, out


def _inner_step(sign=-1.0, create_graph=True, detach=False, reduction="mean", call="functional"):
    """One MAML inner step with one realistic mistake."""
    import torch.nn.functional as F
    from torch.func import functional_call

    def fn(model, params, x, y, lr):
        logits = functional_call(model, params, (x,)) if call == "functional" else model(x)
        loss = F.cross_entropy(logits, y, reduction=reduction)
        grads = torch.autograd.grad(loss, list(params.values()), create_graph=create_graph)
        new = {k: p + sign * lr * g for (k, p), g in zip(params.items(), grads)}
        return {k: v.detach() for k, v in new.items()} if detach else new
    return fn


def _inner_step_in_place(model, params, x, y, lr):
    from torch.func import functional_call
    loss = torch.nn.functional.cross_entropy(functional_call(model, params, (x,)), y)
    grads = torch.autograd.grad(loss, list(params.values()))
    with torch.no_grad():
        for p, g in zip(params.values(), grads):
            p -= lr * g
    return params


@pytest.mark.parametrize("wrong, message", [
    (_inner_step(create_graph=False), "Did you pass create_graph=True"),
    (_inner_step(sign=1.0), "you stepped *up* the gradient"),
    (_inner_step(detach=True), "the meta-gradient is None for 0.weight, 0.bias, 2.weight, 2.bias"),
    (_inner_step(reduction="sum"), "your step is 6 times too long"),
    (_inner_step(call="module"), "call the network as functional_call(model, params, (x,)), not model(x)"),
    (_inner_step_in_place, "your step changed params in place"),
])
def test_maml_inner_step_checker_rejects_wrong_steps(capsys, wrong, message):
    ok, out = _verdict(capsys, "maml_inner_step", wrong)
    assert not ok and message in out, out


def test_maml_inner_step_accepts_torch_func_grad(capsys):
    """torch.func.grad is a second way to write the step: its gradient keeps the graph for the outer loop."""
    import torch.nn.functional as F
    from torch.func import functional_call, grad

    def with_func_grad(model, params, x, y, lr):
        g = grad(lambda p: F.cross_entropy(functional_call(model, p, (x,)), y))(params)
        return {k: params[k] - lr * g[k] for k in params}

    ok, out = _verdict(capsys, "maml_inner_step", with_func_grad)
    assert ok, out


def _film(scale="1+g", swap=False, means_of="film", z="mean", order="label", bias="right"):
    """The FiLM-ed nearest-class-mean head with one realistic mistake."""
    def fn(h, labels, n_way, weight, b_film):
        e = h.mean(0) if z == "mean" else h.sum(0)
        gamma, beta = (weight @ e + b_film).chunk(2)
        if swap:
            gamma, beta = beta, gamma
        f = h * ((1 + gamma) if scale == "1+g" else gamma) + beta
        f = f if means_of == "film" else h
        if order == "label":
            mu = torch.stack([f[labels == c].mean(0) for c in range(n_way)])
        else:
            mu = f.view(n_way, -1, f.shape[-1]).mean(1)
        b = {"right": -(mu ** 2).sum(-1) / 2, "sign": (mu ** 2).sum(-1) / 2, "half": -(mu ** 2).sum(-1),
             "norm": -mu.norm(dim=-1) / 2}[bias]
        return mu, b
    return fn


@pytest.mark.parametrize("wrong, message", [
    (_film(scale="g"), "scale by (1 + gamma), not by gamma"),
    (_film(swap=True), "the first half of film_weight @ z + film_bias is gamma"),
    (_film(means_of="raw"), "not of the raw h_s"),
    (_film(z="sum"), "the task embedding z is the *mean* of the support embeddings"),
    (_film(order="position"), "pick each class's rows by its label"),
    (_film(bias="sign"), "b has the wrong sign"),
    (_film(bias="half"), "you forgot the 1/2"),
    (_film(bias="norm"), "uses the *squared* norm"),
])
def test_film_head_checker_rejects_wrong_heads(capsys, wrong, message):
    ok, out = _verdict(capsys, "film_head", wrong)
    assert not ok and message in out, out


def _uniform(task, labels):
    import numpy as np
    return 2 * np.mean(np.concatenate(labels)) / (1 + np.mean(np.concatenate(labels))) if task == "vad" \
        else 1 / len(set(labels))


def _vad_chance(share):
    from mtlkit.exercises.chance import chance_level

    def fn(task, labels):
        return share(labels) if task == "vad" else chance_level(task, labels)
    return fn


@pytest.mark.parametrize("wrong, message", [
    (_uniform, "not 1/N (1/3)"),
    (_vad_chance(lambda v: float(__import__("numpy").concatenate(v).mean())), "you returned p (or the majority share)"),
    (_vad_chance(lambda v: (lambda p: 2 * p / (1 + p))(sum(a.mean() for a in v) / len(v))),
     "pool the frames of all utterances before taking the speech share"),
    (_vad_chance(lambda v: (lambda p: 2 * p / (1 + p))(float(__import__("numpy").concatenate(v)[:-1].mean()))),
     "chance for VAD is 2p / (1 + p) = 0.769"),
])
def test_chance_level_checker_rejects_wrong_chance(capsys, wrong, message):
    ok, out = _verdict(capsys, "chance_level", wrong)
    assert not ok and message in out, out


def _ravdess(emotion_index=-1, gender_odd="male", actor_field=6, check_channel=True, raises=ValueError):
    """A RAVDESS name parser with one realistic mistake."""
    from mtlkit.exercises.corpora import EMOTIONS

    def fn(path):
        fields = Path(path).stem.split("-")
        if len(fields) != 7 or not all(f.isdigit() for f in fields) or not 1 <= int(fields[2]) <= 8:
            raise raises(f"bad name {path}")
        if check_channel and fields[:2] != ["03", "01"]:
            raise ValueError(path)
        actor = fields[actor_field]
        other = "female" if gender_odd == "male" else "male"
        return dict(speaker=actor, emotion=EMOTIONS[(int(fields[2]) + emotion_index) % 8],
                    intensity="normal" if fields[3] == "01" else "strong",
                    gender=gender_odd if int(actor) % 2 else other)
    return fn


@pytest.mark.parametrize("wrong, message", [
    (_ravdess(emotion_index=0), "emotion codes count from 01 (neutral)"),
    (_ravdess(gender_odd="female"), "odd actors are male, even actors female"),
    (_ravdess(actor_field=5), "the actor is the 7th field (AA)"),
    (_ravdess(check_channel=False), "'03-02-03-01-01-01-05.wav' must raise ValueError: vocal channel 02 is song"),
    (_ravdess(raises=IndexError), "must raise ValueError naming the file; yours raised IndexError"),
])
def test_parse_ravdess_checker_rejects_wrong_parsers(capsys, wrong, message):
    ok, out = _verdict(capsys, "parse_ravdess", wrong)
    assert not ok and message in out, out


def test_every_notebook_from_01_to_09_has_a_checked_exercise():
    assert {e.notebook[:2] for e in EXERCISES.values()} >= {f"{i:02d}" for i in range(1, 10)}


def test_the_new_references_compute_what_the_library_computes(tmp_path, clean_corpus, meta_corpus):
    """Attentive pooling, the FiLM-ed head, chance and the RAVDESS names: the exercises' references against the
    library code the notebooks run."""
    import numpy as np

    from mtlkit.data.real import ravdess
    from mtlkit.exercises import chance, corpora, pooling, task_embedding
    from mtlkit.meta import EpisodeSampler, make_method
    from mtlkit.metrics import chance as library_chance
    from mtlkit.models.heads import AttentiveStatsPool

    torch.manual_seed(0)
    pool, x = AttentiveStatsPool(6, hidden=5), torch.randn(3, 7, 6)
    mask = torch.arange(7) < torch.tensor([[7], [4], [2]])
    scores = pool.score(x).squeeze(-1)
    assert torch.allclose(pooling.attentive_stats(x, mask, scores), pool(x, mask), atol=1e-5)

    corpus = clean_corpus
    for task in ("vad", "emotion", "speaker"):
        data = corpus.split("test")
        labels = [u.vad for u in data] if task == "vad" else data.labels(task)
        assert chance.chance_level(task, labels) == pytest.approx(library_chance(corpus, task, "test"))

    method = make_method("task_embedding", EpisodeSampler(meta_corpus, n_way=3, k_shot=2, queries=1), seed=0)
    torch.nn.init.normal_(method.film.weight, std=0.3)
    torch.nn.init.normal_(method.film.bias, std=0.3)
    batch = method.sampler.tensors([method.sampler.sample("train", np.random.default_rng(0))])
    st = method.stages(batch, steps=0)
    h_s = (st["f_s"][0] - st["beta"][0]) / (1 + st["gamma"][0])          # the support embeddings before FiLM
    w, b = task_embedding.film_head(h_s, batch["y_s"][0], 3, method.film.weight.detach(), method.film.bias.detach())
    assert torch.allclose(w, st["w0"][0], atol=1e-4) and torch.allclose(b, st["b0"][0], atol=1e-4)

    assert corpora.EMOTIONS == tuple(ravdess.LABEL_MAP[f"{i:02d}"] for i in range(1, 9))
    tree = tmp_path / "ravdess"
    ravdess.fake(tree, clean_corpus)
    loaded = ravdess.load_ravdess(tree)
    for u in loaded:
        parsed = corpora.parse_ravdess(u.path)
        assert (parsed["speaker"], parsed["emotion"]) == (u.speaker, u.emotion)
        assert parsed["gender"] == loaded.speakers[u.speaker]["gender"]


def test_the_inner_step_reference_matches_learn2learn(learn2learn):
    """An independent implementation: learn2learn's MAML clone-and-adapt gives the same adapted weights and the
    same second-order meta-gradient as the exercise's reference."""
    import torch.nn.functional as F
    from torch.func import functional_call

    from mtlkit.exercises.meta import maml_inner_step

    torch.manual_seed(3)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    x, y, x_q, y_q = torch.randn(6, 4), torch.arange(3).repeat(2), torch.randn(9, 4), torch.arange(3).repeat(3)
    learner = learn2learn.algorithms.MAML(net, lr=0.3).clone()
    learner.adapt(F.cross_entropy(learner(x), y))
    theirs = torch.autograd.grad(F.cross_entropy(learner(x_q), y_q), list(net.parameters()))
    theta = dict(net.named_parameters())
    adapted = maml_inner_step(net, theta, x, y, 0.3)
    for (name, p), q in zip(adapted.items(), learner.parameters()):
        assert torch.allclose(p, q, atol=1e-6), name
    ours = torch.autograd.grad(F.cross_entropy(functional_call(net, adapted, (x_q,)), y_q), list(theta.values()))
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(ours, theirs))


def _mgda(clip=True, swap=False, guard=True):
    """MGDA's two-task min-norm point with one realistic mistake."""
    def fn(g1, g2):
        diff = g1 - g2
        if guard and diff @ diff == 0:
            return g1.clone()
        a = (g2 - g1) @ g2 / (diff @ diff)
        a = a.clamp(0, 1) if clip else a
        return a * g2 + (1 - a) * g1 if swap else a * g1 + (1 - a) * g2
    return fn


@pytest.mark.parametrize("wrong, message", [
    (_mgda(clip=False), "clip a to [0, 1] so that d* stays on the segment"),
    (_mgda(swap=True), "g_i . d* >= ||d*||^2 fails by 4.00 for one task. a multiplies g1"),
    (_mgda(guard=False), "return g1 in that case instead of dividing by 0"),
    (lambda g1, g2: (g1 + g2) / 2, "g_i . d* >= ||d*||^2 fails by 1.00"),
    (lambda g1, g2: ((g2 - g1) @ g2 / ((g1 - g2) @ (g1 - g2))).clamp(0, 1), "return d* as a tensor"),
])
def test_mgda_two_tasks_checker_rejects_wrong_points(capsys, wrong, message):
    ok, out = _verdict(capsys, "mgda_two_tasks", wrong)
    assert not ok and message in out, out


def test_the_two_task_closed_form_is_the_library_solver_for_two_tasks():
    from mtlkit.exercises.weighting import mgda_two_tasks
    from mtlkit.weighting.mgda import min_norm_weights

    for seed in range(20):
        G = torch.randn(2, 5, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        G[1] = G[1] if seed % 4 else 3 * G[0]                       # every fourth pair is parallel: a is clipped
        w = min_norm_weights(G @ G.T)
        assert torch.allclose(w @ G, mgda_two_tasks(G[0], G[1]), atol=1e-9), seed


def _ratio(self_pairs=False, squared=False, inverted=False):
    """The closeness ratio with one realistic mistake."""
    import numpy as np

    def fn(x, labels):
        x, labels = np.asarray(x, float), np.asarray(labels)
        same, different = [], []
        for i in range(len(x)):
            for j in range(len(x)):
                if j > i or self_pairs:                      # self_pairs: every ordered pair, (i, i) too
                    d = np.linalg.norm(x[i] - x[j]) ** (2 if squared else 1)
                    (same if labels[i] == labels[j] else different).append(d)
        return float(np.mean(different) / np.mean(same)) if inverted else float(np.mean(same) / np.mean(different))
    return fn


@pytest.mark.parametrize("wrong, message", [
    (_ratio(self_pairs=True), "you counted each row paired with itself"),
    (_ratio(squared=True), "use the Euclidean distance, not its square"),
    (_ratio(inverted=True), "the ratio is same-label over different-label"),
    (lambda x, labels: 0.5, "the ratio is 1/7 = 0.1429, got 0.5000"),
])
def test_closeness_ratio_checker_rejects_wrong_ratios(capsys, wrong, message):
    ok, out = _verdict(capsys, "closeness_ratio", wrong)
    assert not ok and message in out, out


def test_the_closeness_reference_is_the_library_function():
    import numpy as np

    from mtlkit.embeddings import closeness_ratio
    from mtlkit.exercises.languages import closeness_ratio as exercise

    rng = np.random.default_rng(3)
    for _ in range(5):
        x, labels = rng.normal(size=(25, 8)), rng.choice(list("ABCDE"), size=25)
        assert np.isclose(closeness_ratio(x, labels), exercise(x, labels))
