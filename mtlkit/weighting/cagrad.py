"""CAGrad (Liu et al. 2021): the direction near the mean gradient that most improves the worst-off task."""
from __future__ import annotations

import torch
from torch import Tensor

from .base import Combination, Weighting, check_grads, combine, gram
from .mgda import min_norm_weights


def cagrad_weights(dots: Tensor, c: float, steps: int = 100) -> Tensor:
    """Gram matrix G G^T (T, T) -> w (T,) on the simplex minimising g_w . g0 + c ||g0|| ||g_w|| (CAGrad's dual).

    With tau = ||g_w|| held fixed, the problem is MGDA's min-norm problem on the shifted gradients
    h_i = g_i + (tau / (c ||g0||)) g0; alternating that exact solve with tau <- ||g_w|| lowers the dual every step.
    """
    g0_dots, g0_sq = dots.mean(1), dots.mean()                   # g_i . g0 (T,), ||g0||^2
    radius = c * g0_sq.sqrt()
    tau = dots.diagonal().mean().sqrt()
    for _ in range(steps):
        k = tau / radius
        w = min_norm_weights(dots + k * (g0_dots[:, None] + g0_dots[None, :]) + k * k * g0_sq)   # Gram of the h_i
        new_tau = (w @ dots @ w).clamp_min(0).sqrt()
        if abs(new_tau - tau) <= 1e-9 * tau:
            break
        tau = new_tau
    return w


class CAGrad(Weighting):
    """Grads (T, D) -> direction = g0 + (sqrt(phi) / ||g_w||) g_w (D,), g0 the mean gradient, phi = c^2 ||g0||^2.

    d maximises min_i g_i . d (the worst task's improvement) over the ball ||d - g0|| <= c ||g0||; g_w = sum_i w_i g_i
    with w (T,) solving the dual on the simplex. c = 0 gives the mean gradient, a large c approaches MGDA. If 0 lies
    in the gradients' hull (g_w = 0: no direction helps every task) the direction falls back to g0. Weights
    recorded: 1/T + w_i sqrt(phi) / ||g_w||, so direction = weights @ grads; equal weighting is 1/T each, as in
    the paper.

    Introduced in notebooks/04_loss_weighting.ipynb.
    """

    needs_grads = True

    def __init__(self, tasks: list[str], c: float = 0.5):
        super().__init__(tasks)
        if c < 0:
            raise ValueError(f"c must be >= 0, got {c}")
        self.c = c

    def forward(self, losses: Tensor, grads: Tensor | None = None) -> Combination:
        grads = check_grads(grads, self.num_tasks)
        dots = gram(grads)
        weights = torch.full((self.num_tasks,), 1 / self.num_tasks, dtype=dots.dtype)
        sqrt_phi = self.c * dots.mean().clamp_min(0).sqrt()     # c ||g0||
        if sqrt_phi > 0:
            w = cagrad_weights(dots, self.c)
            norm_gw = (w @ dots @ w).clamp_min(0).sqrt()         # ||g_w||
            if norm_gw > 1e-5 * dots.diagonal().max().sqrt():     # else 0 is (nearly) in the hull
                weights = weights + sqrt_phi / norm_gw * w
        return combine(weights, grads)
