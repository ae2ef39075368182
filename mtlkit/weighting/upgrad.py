"""UPGrad (Quinton & Rey 2024): project every task gradient onto the cone of non-conflicting directions, average."""
from __future__ import annotations

import torch
from torch import Tensor

from .base import Combination, Weighting, check_grads, combine, gram
from .dual_cone import project_weights
from .mgda import MAX_TASKS


class UPGrad(Weighting):
    """Grads (T, D) -> direction d = sum_i pi(g_i) (D,), pi the projection onto the dual cone of g_1..g_T.

    The dual cone holds the directions x with g_j . x >= 0 for every task j. pi(g_i) = sum_j v_ij g_j with
    v_i = e_i + mu_i, mu_i >= 0 minimising mu G mu + 2 mu . (G e_i), G the Gram matrix (see ``dual_cone``).
    Weights recorded: w = sum_i v_i (T,), so direction == weights @ grads, and without conflict (every g_i already
    in the cone) w = 1 each: the sum of the gradients, like equal weighting. TorchJD's ``UPGrad`` returns the mean
    of the projections, d / T. Its properties (non-conflicting, linear under scaling, weighted) are measured by
    :func:`mtlkit.weighting.properties`. Granularity: the paper aggregates the Jacobian of the shared parameters;
    the default here is the representation, like pcgrad and for the same cost reason (``grad_on``).

    Introduced in notebooks/04_loss_weighting.ipynb.
    """

    needs_grads = True
    grad_on = "representation"
    max_tasks = MAX_TASKS

    def forward(self, losses: Tensor, grads: Tensor | None = None) -> Combination:
        dots = gram(check_grads(grads, self.num_tasks))
        v = project_weights(dots, torch.eye(self.num_tasks, dtype=dots.dtype))    # column i: pi(g_i)'s weights
        return combine(v.sum(1), grads)
