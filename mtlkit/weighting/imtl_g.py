"""IMTL-G (Liu et al. 2021): the combined gradient that makes an equal angle with every task gradient."""
from __future__ import annotations

import torch
from torch import Tensor

from .base import Combination, Weighting, check_grads, combine


class IMTLG(Weighting):
    """Grads (T, D) -> direction d = sum_i w_i g_i (D,) with d . u_i the same for every unit gradient u_i = g_i/||g_i||.

    Closed form: with rows D_i = g_1 - g_i and U_i = u_1 - u_i (i = 2..T), alpha_{2..T} = g_1 U^T (D U^T)^{-1} and
    alpha_1 = 1 - sum alpha_{2..T} (the paper's weights sum to 1). Weights recorded: w = T alpha (sum to T, so
    equal weights read 1 each, like mgda); a pseudo-inverse keeps collinear or zero gradients finite.
    Granularity: the shared representation, as the paper defines IMTL-G.

    Introduced in notebooks/04_loss_weighting.ipynb.
    """

    needs_grads = True
    grad_on = "representation"

    def __init__(self, tasks: list[str]):
        super().__init__(tasks)

    def forward(self, losses: Tensor, grads: Tensor | None = None) -> Combination:
        g = check_grads(grads, self.num_tasks).double()
        if self.num_tasks == 1:
            return combine(torch.ones(1), grads)
        u = g / g.norm(dim=1, keepdim=True).clamp_min(1e-300)    # unit gradients (T, D)
        D, U = g[:1] - g[1:], u[:1] - u[1:]                        # (T-1, D) each
        rest = g[0] @ U.T @ torch.linalg.pinv(D @ U.T)             # alpha_2..T (T-1,)
        alpha = torch.cat([1 - rest.sum(0, keepdim=True), rest])
        return combine(self.num_tasks * alpha, grads)
