"""DualProj: the mean gradient projected onto the cone of non-conflicting directions (GEM's projection)."""
from __future__ import annotations

import torch
from torch import Tensor

from .base import Combination, Weighting, check_grads, combine, gram
from .dual_cone import project_weights
from .mgda import MAX_TASKS


class DualProj(Weighting):
    """Grads (T, D) -> direction d = T pi(g0) (D,), g0 = (1/T) sum_i g_i, pi the projection onto the dual cone.

    The nearest direction to the mean gradient that conflicts with no task (g_i . d >= 0 for every i), as GEM
    projects a gradient against past tasks' (Lopez-Paz & Ranzato 2017); an aggregator in Quinton & Rey 2024.
    pi(g0) = sum_i v_i g_i with v = 1/T + mu, mu >= 0 minimising mu G mu + 2 mu . (G 1/T) (see ``dual_cone``).
    Weights recorded: T v (T,), 1 each without conflict. Granularity: the representation by default (``grad_on``).

    Introduced in notebooks/04_loss_weighting.ipynb.
    """

    needs_grads = True
    grad_on = "representation"
    max_tasks = MAX_TASKS

    def forward(self, losses: Tensor, grads: Tensor | None = None) -> Combination:
        dots = gram(check_grads(grads, self.num_tasks))
        mean = torch.full((self.num_tasks,), 1 / self.num_tasks, dtype=dots.dtype)
        return combine(self.num_tasks * project_weights(dots, mean), grads)
