"""Dynamic weight average (Liu, Johns & Davison 2019): up-weight the tasks whose loss falls the slowest."""
from __future__ import annotations

import torch
from torch import Tensor

from .base import Combination, Weighting, weighted_sum


class DWA(Weighting):
    """Losses (T,) -> loss = sum_i w_i L_i with w = T softmax(r / temp), r_i = L_i(t-1) / L_i(t-2).

    L_i(t) are the epoch means handed to :meth:`epoch_end`; the first two epochs, with no ratio yet, use w_i = 1.
    A ratio near 1 means the task has stalled, so it gets more weight. Weights sum to T.

    Introduced in notebooks/04_loss_weighting.ipynb.
    """

    def __init__(self, tasks: list[str], temp: float = 2.0):
        super().__init__(tasks)
        if temp <= 0:
            raise ValueError(f"temp must be > 0, got {temp}")
        self.temp = temp
        self.history: list[Tensor] = []          # mean loss per task (T,) of the last two epochs

    def epoch_end(self, epoch_losses: Tensor) -> None:
        self.history = (self.history + [torch.as_tensor(epoch_losses, dtype=torch.float32).detach().cpu()])[-2:]

    def forward(self, losses: Tensor, grads: Tensor | None = None) -> Combination:
        if len(self.history) < 2:
            return weighted_sum(torch.ones(self.num_tasks), losses)
        before, last = self.history
        ratio = last / before.clamp_min(1e-12)
        return weighted_sum(self.num_tasks * torch.softmax(ratio / self.temp, dim=0), losses)
