"""Uncertainty weighting (Kendall, Gal & Cipolla 2018): learn one log-variance per task alongside the model."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .base import Combination, Weighting


class Uncertainty(Weighting):
    """Losses (T,) -> loss = sum_i exp(-s_i) L_i + s_i with s_i = log sigma_i^2 learnable (T,), initialised to 0.

    A noisy task (large sigma) gets a small weight exp(-s_i); the + s_i term stops every sigma from growing
    without bound. This is the common simplified form: Kendall et al. have 1/(2 sigma^2) for regression losses.
    ``log_var`` is an nn.Parameter: the trainer's optimizer updates it. Weights recorded: exp(-s_i).

    Introduced in notebooks/04_loss_weighting.ipynb.
    """

    def __init__(self, tasks: list[str]):
        super().__init__(tasks)
        self.log_var = nn.Parameter(torch.zeros(self.num_tasks))

    def forward(self, losses: Tensor, grads: Tensor | None = None) -> Combination:
        s = self.log_var.to(losses)
        weights = torch.exp(-s)
        return Combination(weights=weights.detach(), loss=(weights * losses + s).sum())
