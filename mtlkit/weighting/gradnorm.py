"""GradNorm (Chen et al. 2018): tune the weights so every task's gradient norm matches its training rate."""
from __future__ import annotations

import torch
from torch import Tensor

from .base import Combination, Weighting, check_grads, weighted_sum


class GradNorm(Weighting):
    """Losses (T,), grads (T, D) -> loss = sum_i w_i L_i, then one step on w towards balanced gradient norms.

    With G_i = ||w_i g_i||, Gbar = mean_i G_i, r_i = (L_i / L_i(0)) / mean_j (L_j / L_j(0)) (the relative inverse
    training rate; L_i(0) is the loss at the first call), GradNorm minimises sum_i |G_i - Gbar r_i^alpha| over w
    with the target held constant. The weights are a buffer, not a parameter: the trainer's optimizer must not
    touch them. This class takes its own plain gradient step of size ``lr`` on that loss divided by Gbar (so the
    step does not depend on the scale of the gradients), then keeps w positive and rescales it to sum to T.
    ``loss`` uses the weights before the step (those are the ones recorded); ``direction`` is None.
    Granularity: the paper takes the norms on shared parameters (the last shared layer's); the default here is the
    representation (``grad_on``), because per-task parameter gradients cost one encoder backward per task
    (2-3x an equal step for 4 tasks, over the 1.5x budget of benchmarks/bench_weighting.py);
    ``fit(grad_on='parameters')`` takes them on all the shared encoder's parameters.

    Introduced in notebooks/04_loss_weighting.ipynb.
    """

    needs_grads = True
    grad_on = "representation"

    def __init__(self, tasks: list[str], alpha: float = 1.5, lr: float = 0.025):
        super().__init__(tasks)
        self.alpha, self.lr = alpha, lr
        self.register_buffer("weights", torch.ones(self.num_tasks))
        self.register_buffer("initial_losses", torch.full((self.num_tasks,), float("nan")))   # L_i(0), first call

    def forward(self, losses: Tensor, grads: Tensor | None = None) -> Combination:
        grads = check_grads(grads, self.num_tasks)
        combination = weighted_sum(self.weights.clone(), losses)
        losses = losses.detach().to(self.weights)
        if self.initial_losses.isnan().any():
            self.initial_losses = losses.clone()
        norms = grads.norm(dim=1).to(self.weights)                     # ||g_i|| (T,)
        norm_w = self.weights * norms                                  # G_i = ||w_i g_i|| (T,)
        mean_norm = norm_w.mean().clamp_min(1e-12)                     # Gbar
        ratio = losses / self.initial_losses.clamp_min(1e-12)          # L_i / L_i(0)
        target = mean_norm * (ratio / ratio.mean().clamp_min(1e-12)) ** self.alpha
        step = torch.sign(norm_w - target) * norms / mean_norm         # d/dw_i of sum |G - target|, over Gbar
        weights = (self.weights - self.lr * step).clamp_min(1e-3)
        self.weights = self.num_tasks * weights / weights.sum()
        return combination
