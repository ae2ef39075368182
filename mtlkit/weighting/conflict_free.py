"""ConFIG (Liu, Chu & Thuerey 2024): the direction at an equal angle to every task gradient, as long as their sum."""
from __future__ import annotations

import torch
from torch import Tensor

from .base import Combination, Weighting, check_grads, combine, gram


class ConFIG(Weighting):
    """Grads (T, D) -> direction d = (sum_i g_i . u) u (D,), u the unit vector with equal cosine to every g_i.

    ConFIG: Towards Conflict-free Training of Physics Informed Neural Networks, Eq. 2: u = x / ||x||, x = U^+ 1,
    where U (T, D) holds the unit gradients g_i / ||g_i||, so that u . g_i / ||g_i|| is the same for every task
    (positive: no conflict, when the g_i are independent). From the Gram matrix alone: with N the unit gradients'
    Gram, a = N^+ 1 and x = sum_i (a_i / ||g_i||) g_i. Weights recorded: (sum_i g_i . u) a_i / (||g_i|| ||x||).
    IMTL-G asks for equal projections too, but its length comes from the gradients' differences; ConFIG's is the sum
    of the projections. Zero gradients are left out (as TorchJD does). Granularity: the representation by default.

    Introduced in notebooks/04_loss_weighting.ipynb.
    """

    needs_grads = True
    grad_on = "representation"

    def forward(self, losses: Tensor, grads: Tensor | None = None) -> Combination:
        dots = gram(check_grads(grads, self.num_tasks))
        norms = dots.diagonal().clamp_min(0).sqrt()
        inv = torch.where(norms > 0, 1 / norms.clamp_min(1e-300), 0.0)
        units = dots * inv[:, None] * inv[None, :]                   # N, the Gram of the unit gradients
        a = torch.linalg.pinv(units, hermitian=True) @ torch.ones(self.num_tasks, dtype=dots.dtype)
        x_norm = (a @ units @ a).clamp_min(0).sqrt()                 # ||x||
        if x_norm == 0:
            return combine(torch.zeros(self.num_tasks, dtype=dots.dtype), grads)
        length = (norms * (units @ a)).sum() / x_norm                # sum_i g_i . u
        return combine(length * a * inv / x_norm, grads)
