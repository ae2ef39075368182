"""FAMO (Liu et al. 2023): weights that make every task's log-loss fall at the same rate, with one backward pass."""
from __future__ import annotations

import torch
from torch import Tensor

from .base import Combination, Weighting, weighted_sum


class FAMO(Weighting):
    """Losses (T,) -> loss = sum_i w_i L_i with w_i = T (z_i / L_i) / sum_j (z_j / L_j), z = softmax(xi) (T,).

    Fast Adaptive Multitask Optimization: the step follows sum_i z_i grad log L_i (its gradient is the one of the
    loss above, up to the factor T / c), so a task counts by its relative, not absolute, loss. The logits xi learn
    which task falls too slowly: before each step, with delta_i = log L_i(previous step) - log L_i(now) (how much
    each log-loss fell), xi moves along -J^T delta (J the Jacobian of the softmax, J^T delta = z * (delta - z . delta))
    by Adam (learning rate ``lr``, weight decay ``gamma``; Adam written out below). The authors' code measures
    "now" by a second forward pass on the same batch after the step; here the next batch's losses stand in for it,
    so a step costs exactly what equal weighting's does (one forward, one backward), at the price of batch noise in
    delta. ``min_loss`` is subtracted from every loss (0 for cross-entropy). Weights recorded: w (sum to T).

    Introduced in notebooks/04_loss_weighting.ipynb.
    """

    def __init__(self, tasks: list[str], lr: float = 0.025, gamma: float = 0.01, min_loss: float = 0.0):
        super().__init__(tasks)
        if lr <= 0 or gamma < 0:
            raise ValueError(f"need lr > 0 and gamma >= 0, got lr={lr}, gamma={gamma}")
        self.lr, self.gamma, self.min_loss = lr, gamma, min_loss
        for name in ("logits", "adam_m", "adam_v", "previous"):
            self.register_buffer(name, torch.zeros(self.num_tasks, dtype=torch.float64))
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))
        self.register_buffer("started", torch.zeros((), dtype=torch.bool))   # a previous loss to compare with

    def update(self, log_losses: Tensor) -> None:
        """One Adam step on the logits from how much each log-loss fell since the previous call (T,) float64."""
        z = torch.softmax(self.logits, 0)
        delta = self.previous - log_losses
        grad = z * (delta - z @ delta) + self.gamma * self.logits     # J^T delta, plus Adam's L2 weight decay
        self.steps += 1
        beta1, beta2, t = 0.9, 0.999, int(self.steps)
        self.adam_m.mul_(beta1).add_((1 - beta1) * grad)
        self.adam_v.mul_(beta2).add_((1 - beta2) * grad ** 2)
        step = (self.adam_m / (1 - beta1 ** t)) / ((self.adam_v / (1 - beta2 ** t)).sqrt() + 1e-8)
        self.logits.sub_(self.lr * step)

    def forward(self, losses: Tensor, grads: Tensor | None = None) -> Combination:
        shifted = (losses.detach().to(self.logits) - self.min_loss).clamp_min(0) + 1e-8
        if self.started:
            self.update(shifted.log())
        self.started.fill_(True)
        self.previous.copy_(shifted.log())
        ratio = torch.softmax(self.logits, 0) / shifted
        return weighted_sum((self.num_tasks * ratio / ratio.sum()).to(losses), losses)
