"""Fixed weighting: hand-chosen weights per task, the two knobs of a classic multi-task loss."""
from __future__ import annotations

import torch
from torch import Tensor

from ..config import check_choice
from .base import Combination, Weighting, weighted_sum


class Fixed(Weighting):
    """Losses (T,) -> loss = sum_i w_i L_i with ``weights={task: w}``; tasks not in the dict get w = 1.

    Introduced in notebooks/04_loss_weighting.ipynb.
    """

    def __init__(self, tasks: list[str], weights: dict[str, float] | None = None):
        super().__init__(tasks)
        weights = dict(weights or {})
        for task in weights:
            check_choice("task", task, self.tasks)
        self.register_buffer("weights", torch.tensor([float(weights.get(t, 1.0)) for t in self.tasks]))

    def forward(self, losses: Tensor, grads: Tensor | None = None) -> Combination:
        return weighted_sum(self.weights, losses)
