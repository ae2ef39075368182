"""Notebook 04's exercise: the PCGrad projection (Yu et al. 2020)."""
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
