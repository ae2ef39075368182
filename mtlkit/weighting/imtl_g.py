"""IMTL-G (Liu et al. 2021): the combined gradient that makes an equal angle with every task gradient."""
from __future__ import annotations

import torch
from torch import Tensor

from .base import Combination, Weighting, check_grads, combine, gram


class IMTLG(Weighting):
    """Grads (T, D) -> direction d = sum_i w_i g_i (D,) with d . u_i the same for every unit gradient u_i = g_i/||g_i||.

    Closed form: with rows D_i = g_1 - g_i and U_i = u_1 - u_i (i = 2..T), alpha_{2..T} = g_1 U^T (D U^T)^{-1} and
    alpha_1 = 1 - sum alpha_{2..T} (the paper's weights sum to 1). Weights recorded: w = T alpha (sum to T, so
    equal weights read 1 each, like mgda); a pseudo-inverse keeps collinear or zero gradients finite. Both products
    are computed from the Gram matrix g g^T (T, T), one pass over the D-dimensional gradients.
    Granularity: the shared representation, as the paper defines IMTL-G.

    Introduced in notebooks/04_loss_weighting.ipynb.
    """

    needs_grads = True
    grad_on = "representation"

    def forward(self, losses: Tensor, grads: Tensor | None = None) -> Combination:
        dots = gram(check_grads(grads, self.num_tasks))           # (T, T): everything below needs only dot products
        if self.num_tasks == 1:
            return combine(torch.ones(1), grads)
        m = dots / dots.diagonal().sqrt().clamp_min(1e-300)        # m[i, j] = g_i . u_j
        gu = m[0, 0] - m[0, 1:]                                    # g_1 U^T (T-1,)
        du = gu[None, :] - m[1:, :1] + m[1:, 1:]                   # D U^T (T-1, T-1)
        rest = gu @ torch.linalg.pinv(du)                          # alpha_2..T (T-1,)
        alpha = torch.cat([1 - rest.sum(0, keepdim=True), rest])
        return combine(self.num_tasks * alpha, grads)
