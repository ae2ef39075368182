"""Notebooks 02 and 03's exercises: the soft-sharing penalty and a task's channel gate."""
from __future__ import annotations

import torch

from .core import Exercise, Failed, register, run


def soft_penalty(towers: list, lam: float) -> torch.Tensor:
    """towers: one list of parameter tensors per task (same shapes) -> lam * sum_i ||theta_i - mean theta||^2."""
    total = 0.0
    for params in zip(*towers):
        stacked = torch.stack(params)
        total = total + ((stacked - stacked.mean(0)) ** 2).sum()
    return lam * total


def _check_penalty(fn, reference) -> str:
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    b = torch.tensor([3.0, -2.0], requires_grad=True)
    lam, setting = 0.25, "a = (1, 2), b = (3, -2) and lam 0.25"
    out = run(fn, [[a], [b]], lam, what=f"two towers with one parameter each, {setting}")
    if not isinstance(out, torch.Tensor) or out.dim() != 0:
        raise Failed(f"return a scalar tensor; got {getattr(out, 'shape', type(out).__name__)}")
    distance = ((a - b) ** 2).sum().item()                          # ||a - b||^2 = 20
    expected = lam * distance / 2                                    # each tower is (a - b) / 2 from the mean
    value = out.item()
    if abs(value - expected / lam) < 1e-4:
        raise Failed("lam is missing: multiply the sum by lam (0.25 here)")
    if abs(value - lam * distance ** 0.5) < 1e-4:
        raise Failed("the penalty squares the distances: sum (theta_i - mean)^2, not a norm")
    if abs(value - lam * distance) < 1e-4:
        raise Failed(f"measure each tower from the towers' *mean*, not from the first tower: with {setting} the "
                     f"penalty is {expected:.2f}")
    if abs(value - expected) > 1e-4:
        raise Failed(f"with {setting} the penalty is {expected:.2f} (= lam * 2 * ||(a - b) / 2||^2); "
                     f"yours is {value:.4f}")
    if not out.requires_grad:
        raise Failed("the penalty does not reach the towers' parameters (no gradient): keep it a torch expression")
    ga, _ = torch.autograd.grad(out, [a, b])
    want = (2 * lam * (a - (a + b) / 2)).detach()
    if not torch.allclose(ga, want):
        raise Failed(f"its gradient on a should be 2 lam (a - mean) = {want.tolist()}; got {ga.tolist()}")
    g = torch.Generator().manual_seed(0)
    towers = [[torch.randn(3, 4, generator=g), torch.randn(5, generator=g)] for _ in range(4)]
    mine = run(fn, towers, 0.1, what="4 towers of two parameters (3, 4) and (5,)")
    if abs(float(mine) - float(reference(towers, 0.1))) > 1e-4:
        raise Failed("with 4 towers of two parameters each your penalty differs from the reference: sum over every "
                     "parameter and every tower, each measured from the mean of that parameter over the towers")
    return "the two-tower closed form, lam, squares, the mean, its gradient 2 lam (theta_i - mean), and 4 towers"


register(Exercise(
    name="soft_penalty", notebook="02_hard_vs_soft_sharing",
    statement=("Soft sharing gives each task its own tower theta_i and pulls the towers together with the penalty "
               "lam * sum_i ||theta_i - mean theta||^2, summed over every parameter (the mean is over the towers). "
               "Write it for towers given as lists of parameter tensors, one list per task, in the same order."),
    signature="def soft_penalty(towers: list, lam: float) -> torch.Tensor:   # list of T lists of tensors -> ()",
    reference=soft_penalty, checker=_check_penalty,
    hints=["zip(*towers) gives, for each parameter, its T copies; torch.stack them into (T, ...).",
           "Subtract the mean over dimension 0, square, sum, and add up over the parameters.",
           "Multiply by lam at the end; two towers a, b give lam * ||a - b||^2 / 2."]))


def channel_gate(f: torch.Tensor, mask: torch.Tensor, e: torch.Tensor, weight: torch.Tensor,
                 bias: torch.Tensor) -> torch.Tensor:
    """f (B, T, W), mask (B, T), e (E,), weight (W, W + E), bias (W,) -> alpha (B, 1, W) in (0, 1)."""
    summary = (f * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True).clamp_min(1)       # (B, W)
    z = torch.cat([summary, e.expand(f.shape[0], -1)], -1)                                  # (B, W + E)
    return torch.sigmoid(z @ weight.T + bias).unsqueeze(1)


def _check_gate(fn, reference) -> str:
    g = torch.Generator().manual_seed(0)
    f = torch.randn(3, 6, 4, generator=g)
    mask = torch.tensor([[1] * 6, [1] * 4 + [0] * 2, [1] * 2 + [0] * 4]).bool()
    f = f * mask.unsqueeze(-1) + 5.0 * (~mask).unsqueeze(-1)              # padding frames hold 5: must not count
    e, weight, bias = torch.randn(2, generator=g), torch.randn(4, 6, generator=g), torch.randn(4, generator=g)
    what = "f (3, 6, 4) with 2 and 4 padding frames in the 2nd and 3rd utterance, e (2,), weight (4, 6)"
    out = run(fn, f, mask, e, weight, bias, what=what)
    if not isinstance(out, torch.Tensor) or out.shape != (3, 1, 4):
        raise Failed(f"return alpha of shape (batch, 1, width) = (3, 1, 4), one value per channel that broadcasts "
                     f"over the frames; got {getattr(out, 'shape', type(out).__name__)}")
    ref = reference(f, mask, e, weight, bias)
    if out.min() < 0 or out.max() > 1:
        raise Failed(f"alpha must lie in (0, 1): pass W z + b through a sigmoid (yours spans {out.min():.2f} to "
                     f"{out.max():.2f})")
    if torch.allclose(out[0], ref[0], atol=1e-5) and not torch.allclose(out, ref, atol=1e-5):
        raise Failed("right for the utterance without padding, wrong for the padded ones: average f over the "
                     "*valid* frames only (mask), not over all frames")
    swapped = torch.sigmoid(torch.cat([e.expand(3, -1), (f * mask.unsqueeze(-1)).sum(1)
                                       / mask.sum(1, keepdim=True)], -1) @ weight.T + bias).unsqueeze(1)
    if torch.allclose(out, swapped, atol=1e-5):
        raise Failed("the input is [mean_t f_t ; e] in that order: the first W columns of weight read the summary")
    if not torch.allclose(out, ref, atol=1e-5):
        raise Failed(f"alpha differs from sigmoid(W [mean_t f_t ; e] + b) by up to {float((out - ref).abs().max()):.3f} "
                     f"(on {what})")
    return "the shape (B, 1, W), the range (0, 1), the mean over valid frames only, the order [f ; e], the values"


register(Exercise(
    name="channel_gate", notebook="03_attention_task_gating",
    statement=("A task's channel gate summarises the shared features f by their mean over the *valid* frames, "
               "appends the task's embedding e, and maps that to one value per channel in (0, 1): "
               "alpha = sigmoid(W [mean_t f_t ; e] + b). The head then reads alpha * f."),
    signature=("def channel_gate(f, mask, e, weight, bias) -> torch.Tensor:"
               "   # (B, T, W), (B, T), (E,), (W, W + E), (W,) -> (B, 1, W)"),
    reference=channel_gate, checker=_check_gate,
    hints=["The mean over valid frames: (f * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True).",
           "Repeat e for every utterance (e.expand(batch, -1)) and torch.cat([summary, e], -1).",
           "z @ weight.T + bias, then torch.sigmoid, then unsqueeze(1) so it broadcasts over the frames."]))
