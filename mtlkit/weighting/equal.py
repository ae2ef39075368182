"""Equal weighting: the plain sum of the task losses, the baseline every other method is compared with."""
from __future__ import annotations

import torch
from torch import Tensor

from .base import Combination, Weighting, weighted_sum


class Equal(Weighting):
    """Losses (T,) -> loss = sum_i L_i, weights w_i = 1.

    Introduced in notebooks/04_loss_weighting.ipynb.
    """

    def forward(self, losses: Tensor, grads: Tensor | None = None) -> Combination:
        return weighted_sum(torch.ones(self.num_tasks), losses)
