"""Notebook 04's exercises: the PCGrad projection (Yu et al. 2020) and MGDA's two-task closed form (Sener &
Koltun 2018)."""
from __future__ import annotations

import torch

from .core import Exercise, Failed, register, run


def pcgrad_project(grads: torch.Tensor) -> torch.Tensor:
    """Grads (T, D) -> projected grads (T, D): each g_i loses its component along every g_j it conflicts with."""
    projected = grads.clone()
    for i in range(len(grads)):
        for j in range(len(grads)):
            dot = projected[i] @ grads[j]
            if j != i and dot < 0:
                projected[i] = projected[i] - dot / (grads[j] @ grads[j]) * grads[j]
    return projected


def _check_pcgrad(fn, reference) -> str:
    g = torch.tensor([[1.0, 0.0], [-1.0, 1.0]])               # g_1 . g_2 = -1: a conflict
    out = run(fn, g.clone(), what="g_1 = (1, 0), g_2 = (-1, 1)")
    if not isinstance(out, torch.Tensor) or out.shape != g.shape:
        raise Failed(f"return a tensor of the same shape as grads, (T, D) = {tuple(g.shape)}; got "
                     f"{getattr(out, 'shape', type(out).__name__)}")
    dot = float(out[0] @ g[1])
    if dot < -1e-5:
        raise Failed(f"the projected gradient still conflicts with task 2: g_1' . g_2 = {dot:.2f} < 0 "
                     f"(g_1 = (1, 0), g_2 = (-1, 1)); subtract (g_1' . g_2 / ||g_2||^2) g_2")
    if dot > 1e-5:
        raise Failed(f"you removed more than the conflict: g_1' . g_2 = {dot:.2f} should be exactly 0 after the "
                     f"projection (g_1 = (1, 0), g_2 = (-1, 1)); divide by ||g_2||^2, not ||g_2||")
    agree = torch.tensor([[1.0, 0.5], [0.5, 1.0]])
    kept = run(fn, agree.clone(), what="g_1 = (1, 0.5), g_2 = (0.5, 1)")
    if not torch.allclose(kept, agree):
        raise Failed("gradients that do not conflict (g_1 . g_2 = 1 > 0) must come back unchanged; yours moved "
                     f"them to {kept.tolist()}")
    for seed in range(5):
        grads = torch.randn(4, 6, generator=torch.Generator().manual_seed(seed))
        mine, ref = run(fn, grads.clone(), what=f"torch.randn(4, 6) with seed {seed}"), reference(grads.clone())
        if not torch.allclose(mine, ref, atol=1e-5):
            raise Failed(f"on 4 tasks (grads = torch.randn(4, 6, generator=torch.Generator().manual_seed({seed}))) "
                         f"task {int((mine - ref).abs().sum(1).argmax())} differs from the reference by up to "
                         f"{float((mine - ref).abs().max()):.3f}: project g_i' off the *original* g_j, in the order "
                         f"j = 0, 1, ..., T-1, and do not change grads in place")
    return ("a two-task conflict is removed exactly, agreeing gradients are unchanged, and 5 random 4-task cases "
            "match the reference")


register(Exercise(
    name="pcgrad_project", notebook="04_loss_weighting",
    statement=("PCGrad removes conflicts between task gradients. For each task i, go through the other tasks j in "
               "the order 0, 1, ..., T-1; whenever the (partly projected) g_i' points against the original g_j "
               "(g_i' . g_j < 0), remove its component along g_j: g_i' <- g_i' - (g_i' . g_j / ||g_j||^2) g_j. "
               "Return all the projected gradients; do not modify the input."),
    signature="def pcgrad_project(grads: torch.Tensor) -> torch.Tensor:   # (T, D) -> (T, D)",
    reference=pcgrad_project, checker=_check_pcgrad,
    hints=["Start from a copy: projected = grads.clone(); loop over i, then over j.",
           "The test of a conflict uses the current projected[i] and the original grads[j].",
           "The coefficient is a scalar: (projected[i] @ grads[j]) / (grads[j] @ grads[j])."]))


def mgda_two_tasks(g1: torch.Tensor, g2: torch.Tensor) -> torch.Tensor:
    """g1, g2 (D,) -> d* (D,): the point a g1 + (1 - a) g2, a in [0, 1], of smallest norm."""
    diff = g1 - g2
    if diff @ diff == 0:
        return g1.clone()                                          # one point: any a gives it
    a = ((g2 - g1) @ g2 / (diff @ diff)).clamp(0.0, 1.0)
    return a * g1 + (1 - a) * g2


def _check_mgda(fn, reference) -> str:
    cases = [((1.0, 0.0), (0.0, 1.0), "orthogonal gradients: a = 1/2, d* = (0.5, 0.5)"),
             ((1.0, 0.0), (1.0, 2.0), "g1 = (1, 0), g2 = (1, 2): the foot of the perpendicular is g1 itself, a = 1"),
             ((1.0, 0.0), (3.0, 0.0), "parallel gradients: the shorter one, g1, is d* (a = 1.5 clipped to 1)"),
             ((2.0, 1.0), (2.0, 1.0), "equal gradients: d* = g1")]
    for a, b, what in cases:
        g1, g2 = torch.tensor(a), torch.tensor(b)
        d = run(fn, g1.clone(), g2.clone(), what=f"g1 = {a}, g2 = {b}")
        if not isinstance(d, torch.Tensor) or d.shape != g1.shape:
            raise Failed(f"return d* as a tensor of the gradients' shape (D,) = (2,); got "
                         f"{getattr(d, 'shape', type(d).__name__)}")
        if not torch.isfinite(d).all():
            raise Failed(f"your d* is {d.tolist()} for g1 = g2 = {a}: ||g1 - g2||^2 = 0, so every a gives the same "
                         "point; return g1 in that case instead of dividing by 0")
        ref = reference(g1, g2)
        if torch.allclose(d, ref, atol=1e-5):
            continue
        if d.norm() < ref.norm() - 1e-5:
            raise Failed(f"on {what}: your d* = {d.tolist()} is shorter than any point of the segment between g1 "
                         "and g2 allows; clip a to [0, 1] so that d* stays on the segment (a convex combination)")
        worst = min(float(g @ d - d @ d) for g in (g1, g2))
        if worst < -1e-5:
            raise Failed(f"on {what}: your d* = {d.tolist()} is not the min-norm point: g_i . d* >= ||d*||^2 fails "
                         f"by {-worst:.2f} for one task. a multiplies g1: a = (g2 - g1) . g2 / ||g1 - g2||^2")
        raise Failed(f"on {what}: expected d* = {ref.tolist()}, got {d.tolist()}")
    for seed in range(5):
        g1, g2 = torch.randn(2, 7, generator=torch.Generator().manual_seed(seed))
        d = run(fn, g1.clone(), g2.clone(), what=f"torch.randn(2, 7) with seed {seed}")
        if not torch.allclose(d, reference(g1, g2), atol=1e-5):
            raise Failed(f"on random 7-dimensional gradients (seed {seed}) d* differs from the reference by up to "
                         f"{float((d - reference(g1, g2)).abs().max()):.3f}")
    return "orthogonal, clipped (a = 1), parallel and equal gradients, and 5 random pairs"


register(Exercise(
    name="mgda_two_tasks", notebook="04_loss_weighting",
    statement=("MGDA steps along the point of smallest norm in the convex hull of the task gradients. For two "
               "tasks the hull is the segment d(a) = a g1 + (1 - a) g2, a in [0, 1], and setting the derivative of "
               "||d(a)||^2 to zero gives a = (g2 - g1) . g2 / ||g1 - g2||^2, clipped to [0, 1]. Return d* = d(a); "
               "when g1 = g2 the segment is one point, return g1."),
    signature="def mgda_two_tasks(g1: torch.Tensor, g2: torch.Tensor) -> torch.Tensor:   # (D,), (D,) -> (D,)",
    reference=mgda_two_tasks, checker=_check_mgda,
    hints=["d(a) = g2 + a (g1 - g2): ||d(a)||^2 is a parabola in a; its minimum is at a = -(g1 - g2) . g2 / ||g1 - g2||^2.",
           "Clip: a = a.clamp(0, 1). The minimum of a parabola over [0, 1] is at the clipped vertex.",
           "Handle g1 == g2 (||g1 - g2||^2 == 0) before dividing."]))
