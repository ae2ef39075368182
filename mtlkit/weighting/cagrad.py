"""CAGrad (Liu et al. 2021): the direction near the mean gradient that most improves the worst-off task."""
from __future__ import annotations

import torch
from torch import Tensor

from .base import Combination, Weighting, check_grads, combine, gram
from .dual_cone import nonnegative_least_squares
from .mgda import MAX_TASKS, on_supports, onto_simplex


def cagrad_weights(dots: Tensor, c: float) -> Tensor:
    """Gram matrix G G^T (T, T) -> w (T,) on the simplex minimising F(w) = g_w . g0 + c ||g0|| ||g_w|| (CAGrad's dual).

    Exact for T <= 10, like :func:`~mtlkit.weighting.mgda.min_norm_weights`. On a support S, with s = ||g_w|| / r
    (r = c ||g0||), the optimality conditions are (G G^T)_SS w_S = nu 1 - s b_S (b_i = g_i . g0) and sum_S w_i = 1:
    w = w_p + s w_q, linear in s, and ||g_w||^2 = r^2 s^2 is a quadratic in s. Every support and every root s >= 0
    (and s = 0, the min-norm point) gives a candidate on the simplex; the one with the smallest F wins.
    """
    b, radius = dots.mean(1), c * dots.mean().clamp_min(0).sqrt()   # g_i . g0 (T,), r
    rhs = torch.zeros(len(b) + 1, 2, dtype=dots.dtype)
    rhs[-1, 0], rhs[:-1, 1] = 1.0, -b
    x = on_supports(dots, rhs)[0]
    wp, wq = x[:, :, 0], x[:, :, 1]                                  # (S, T) each
    qa = torch.einsum("si,ij,sj->s", wq, dots, wq) - radius ** 2      # qa s^2 + 2 qb s + qc = 0
    qb = torch.einsum("si,ij,sj->s", wp, dots, wq)
    qc = torch.einsum("si,ij,sj->s", wp, dots, wp)
    root = (qb ** 2 - qa * qc).clamp_min(0).sqrt()
    s = torch.stack([(-qb + root) / qa, (-qb - root) / qa, -qc / (2 * qb)], 1)   # the last: qa = 0
    s = torch.where(torch.isfinite(s) & (s >= 0), s, 0.0)
    w = onto_simplex(torch.cat([wp, (wp[:, None] + s[:, :, None] * wq[:, None]).flatten(0, 1)]))
    values = w @ b + radius * torch.einsum("si,ij,sj->s", w, dots, w).clamp_min(0).sqrt()
    return w[int(values.argmin())]


class CAGrad(Weighting):
    """Grads (T, D) -> direction d = g0 + (c ||g0|| / ||g_w||) g_w (D,), g0 the mean gradient.

    d maximises min_i g_i . d (the worst task's improvement) over the ball ||d - g0|| <= c ||g0||; g_w = sum_i w_i g_i
    with w (T,) solving the dual on the simplex. c = 0 gives the mean gradient, a large c approaches MGDA. If the
    dual optimum has g_w = 0 (0 lies in the gradients' hull and c is large enough), the best worst-task gain is 0,
    every d in the ball with g_i . d >= 0 for all i attains it, and the formula is undefined: d is then the one
    nearest g0, g0 + sum_i mu_i g_i with mu >= 0 (g0 itself when no task loses along g0). Both candidates are
    computed and the one with the larger min_i g_i . d is kept (the latter on a tie), so CAGrad never does worse on
    its own objective than g0. Weights recorded: 1/T + (c ||g0|| / ||g_w||) w_i (or 1/T + mu_i), so direction =
    weights @ grads; equal weighting is 1/T each, as in the paper. The official code also divides d by 1 + c^2 by
    default (rescale=1); this class does not (under Adam the scale barely matters).
    Granularity: the paper combines gradients of the shared parameters; the default here is the representation
    (``grad_on``), because per-task parameter gradients cost one encoder backward per task (2-3x an equal step
    for 4 tasks, over the 1.5x budget of benchmarks/bench_weighting.py); ``fit(grad_on='parameters')`` gives the
    paper's version.

    Introduced in notebooks/04_loss_weighting.ipynb.
    """

    needs_grads = True
    grad_on = "representation"
    max_tasks = MAX_TASKS

    def __init__(self, tasks: list[str], c: float = 0.5):
        super().__init__(tasks)
        if c < 0:
            raise ValueError(f"c must be >= 0, got {c}")
        self.c = c

    def forward(self, losses: Tensor, grads: Tensor | None = None) -> Combination:
        grads = check_grads(grads, self.num_tasks)
        dots = gram(grads)
        mean = torch.full((self.num_tasks,), 1 / self.num_tasks, dtype=dots.dtype)
        radius = self.c * dots.mean().clamp_min(0).sqrt()         # c ||g0||
        if radius == 0:
            return combine(mean, grads)
        candidates = []
        w = cagrad_weights(dots, self.c)
        norm_gw = (w @ dots @ w).clamp_min(0).sqrt()              # ||g_w||
        if norm_gw > 0:
            candidates.append(mean + radius / norm_gw * w)
        mu = nonnegative_least_squares(dots, dots.mean(1))       # g0 + G^T mu: nearest g0 with every g_i . d >= 0
        if mu @ dots @ mu <= radius ** 2 * (1 + 1e-9) or not candidates:   # inside the ball
            candidates.append(mean + mu)
        gains = torch.stack([(dots @ weights).min() for weights in candidates])   # min_i g_i . d of each
        tie = 1e-12 * dots.diagonal().max().sqrt() * radius / self.c                    # ~ max ||g_i|| ||g0||
        best = len(candidates) - 1 if gains[-1] >= gains.max() - tie else int(gains.argmax())   # ties: g0 + G^T mu
        return combine(candidates[best], grads)
