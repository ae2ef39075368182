"""PCGrad (Yu et al. 2020): project each task gradient off the gradients it conflicts with, then sum."""
from __future__ import annotations

import torch
from torch import Tensor

from .base import Combination, Weighting, check_grads, combine, gram


class PCGrad(Weighting):
    """Grads (T, D) -> direction = sum_i g_i' (D,), g_i' = g_i projected off every g_j with g_i' . g_j < 0.

    For each task i, the other tasks j come in a random order (``seed`` makes it reproducible), and a conflict
    is removed by g_i' <- g_i' - (g_i' . g_j / ||g_j||^2) g_j. Each g_i' is a combination of the original g_k, so
    the direction is sum_k w_k g_k: those effective weights w (T,) are recorded; no conflict gives w_k = 1.
    Granularity: the paper combines gradients of the shared parameters; the default here is the representation
    (``grad_on``), because per-task parameter gradients cost one encoder backward per task (2-3x an equal step
    for 4 tasks, over the 1.5x budget of benchmarks/bench_weighting.py); ``fit(grad_on='parameters')`` gives the
    paper's version.

    Introduced in notebooks/04_loss_weighting.ipynb.
    """

    needs_grads = True
    grad_on = "representation"

    def __init__(self, tasks: list[str], seed: int | None = None):
        super().__init__(tasks)
        self.generator = None if seed is None else torch.Generator().manual_seed(seed)

    def forward(self, losses: Tensor, grads: Tensor | None = None) -> Combination:
        grads = check_grads(grads, self.num_tasks)
        dots = gram(grads)                                       # dots[i, j] = g_i . g_j
        coef = torch.eye(self.num_tasks, dtype=dots.dtype)       # row i: g_i' = coef[i] @ grads
        for i in range(self.num_tasks):
            for j in torch.randperm(self.num_tasks, generator=self.generator).tolist():
                dot = coef[i] @ dots[:, j]                       # g_i' . g_j
                if j != i and dot < 0:
                    coef[i, j] -= dot / dots[j, j]
        return combine(coef.sum(0), grads)
