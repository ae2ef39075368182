"""Nash-MTL (Navon et al. 2022): weights from the Nash bargaining solution between the tasks."""
from __future__ import annotations

import torch
from torch import Tensor

from .base import Combination, Weighting, check_grads, combine, gram


def nash_weights(dots: Tensor, steps: int = 100, tol: float = 1e-10) -> Tensor:
    """Gram matrix G G^T (T, T) -> alpha > 0 (T,) solving G G^T alpha = 1 / alpha, by damped Newton steps.

    The solution minimises the strictly convex f(alpha) = alpha^T G G^T alpha / 2 - sum_i log alpha_i on alpha > 0,
    so Newton with a backtracking line search that stays positive and lowers f converges in a few steps.
    """
    def f(a):
        return a @ dots @ a / 2 - a.log().sum()

    alpha = dots.diagonal().rsqrt()                              # exact when the gradients are orthogonal
    for _ in range(steps):
        residual = dots @ alpha - 1 / alpha                      # the gradient of f
        if residual.norm() <= tol * (1 / alpha).norm():
            break
        step = torch.linalg.solve(dots + torch.diag(alpha ** -2), residual)
        t = 1.0
        while t > 1e-12 and ((alpha - t * step).min() <= 0 or f(alpha - t * step) > f(alpha)):
            t /= 2
        alpha = alpha - t * step
    return alpha


class NashMTL(Weighting):
    """Grads (T, D) -> direction = sum_i alpha_i g_i (D,) with alpha > 0 (T,) solving G G^T alpha = 1 / alpha.

    The equation says g_i . d = 1 / alpha_i: a task that gains much from d gets a small weight, and the product of
    the gains is maximised (the Nash bargaining solution). alpha's scale is fixed by the equation, so for
    orthogonal gradients alpha_i = 1 / ||g_i||. A task with a zero gradient cannot bargain: it gets alpha_i = 0.
    Exactly opposite gradients have no solution: a tiny ridge on G G^T (1e-12 ||g_i||^2 on each diagonal entry, so
    that rescaling a task rescales its alpha and nothing else) keeps alpha finite (but huge) and d = 0.
    Weights recorded: alpha. The official code divides G G^T by its Frobenius norm before solving (its alpha is
    ||G G^T||_F^(1/2) times this one) and clips the shared gradient to norm ``max_norm`` = 1; this class does neither
    (under Adam the scale barely matters).
    Granularity: the paper combines gradients of the shared parameters; the default here is the representation
    (``grad_on``), because per-task parameter gradients cost one encoder backward per task (2-3x an equal step
    for 4 tasks, over the 1.5x budget of benchmarks/bench_weighting.py); ``fit(grad_on='parameters')`` gives the
    paper's version.

    Introduced in notebooks/04_loss_weighting.ipynb.
    """

    needs_grads = True
    grad_on = "representation"

    def forward(self, losses: Tensor, grads: Tensor | None = None) -> Combination:
        grads = check_grads(grads, self.num_tasks)
        dots = gram(grads)
        active = dots.diagonal() > 1e-20 * dots.diagonal().max().clamp_min(1e-300)
        alpha = torch.zeros(self.num_tasks, dtype=dots.dtype)
        if active.any():
            sub = dots[active][:, active]
            alpha[active] = nash_weights(sub + 1e-12 * torch.diag(sub.diagonal()))   # a ridge of each task's own scale
        return combine(alpha, grads)
