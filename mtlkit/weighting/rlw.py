"""Random loss weighting (Lin et al. 2022): fresh random weights every step, a surprisingly strong baseline."""
from __future__ import annotations

import torch
from torch import Tensor

from .base import Combination, Weighting, weighted_sum


class RLW(Weighting):
    """Losses (T,) -> loss = sum_i w_i L_i with w = T softmax(z), z ~ N(0, 1) (T,) drawn anew each step.

    Weights are positive and sum to T. Pass ``seed`` for a reproducible sequence of weights.

    Introduced in notebooks/04_loss_weighting.ipynb.
    """

    def __init__(self, tasks: list[str], seed: int | None = None):
        super().__init__(tasks)
        self.generator = None if seed is None else torch.Generator().manual_seed(seed)

    def forward(self, losses: Tensor, grads: Tensor | None = None) -> Combination:
        noise = torch.randn(self.num_tasks, generator=self.generator)
        return weighted_sum(self.num_tasks * torch.softmax(noise, dim=0), losses)
