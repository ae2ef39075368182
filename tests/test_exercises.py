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


def _cell(nb: dict, suffix: str) -> str:
    return next("".join(c["source"]) for c in nb["cells"] if c.get("id", "").endswith(suffix))


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_each_notebook_exercise_reports_its_stub_as_not_done_and_passes_with_the_reference_filled_in(capsys, name):
    exercise = EXERCISES[name]
    nb = json.loads((NOTEBOOKS / f"{exercise.notebook}.ipynb").read_text())
    stub, check_cell = _cell(nb, "-exercise-stub"), _cell(nb, "-exercise-check")
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
