"""Uncertainty weighting (Kendall, Gal & Cipolla 2018): learn one log-variance per task alongside the model."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .base import Combination, Weighting


class Uncertainty(Weighting):
    """Losses (T,) -> loss = sum_i exp(-s_i) L_i + s_i with s_i = log sigma_i^2 learnable (T,), initialised to 0.

    A noisy task (large sigma) gets a small weight exp(-s_i); the + s_i term stops every sigma from growing without
    bound. For a fixed loss L_i the objective's minimum is at d/ds_i = -exp(-s_i) L_i + 1 = 0, i.e. the weight
    exp(-s_i) = 1 / L_i. Kendall et al.'s regression form 1/(2 sigma^2) L + log sigma is exactly half of this
    objective (same s_i; its weight 1/(2 sigma^2) is 1/(2 L_i) at equilibrium), and their classification form
    (1/sigma^2) L + log sigma = exp(-s) L + s/2 settles at exp(-s_i) = 1/(2 L_i); the weights relative to each other
    (proportional to 1/L_i) are the same in all three. Weights recorded: exp(-s_i).

    ``log_var`` is an nn.Parameter. ``fit`` gives it its own Adam parameter group with the constant learning rate
    ``lr`` (not the model's lr and OneCycle schedule, under which s would move by at most ~0.5 in a run and the
    weights would stay near 1).

    Introduced in notebooks/04_loss_weighting.ipynb.
    """

    def __init__(self, tasks: list[str], lr: float = 0.05):
        super().__init__(tasks)
        if lr <= 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        self.lr = lr
        self.log_var = nn.Parameter(torch.zeros(self.num_tasks))

    def forward(self, losses: Tensor, grads: Tensor | None = None) -> Combination:
        s = self.log_var.to(losses)
        weights = torch.exp(-s)
        return Combination(weights=weights.detach(), loss=(weights * losses + s).sum())
