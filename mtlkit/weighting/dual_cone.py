"""The dual cone of the task gradients: the directions that conflict with none of them, and projections onto it.

A direction d is in the dual cone of g_1..g_T when g_i . d >= 0 for every i. Projecting u = sum_i u_i g_i onto it,
min ||d - u||^2 subject to g_i . d >= 0, has the dual form (Quinton & Rey 2024, Proposition 1; the same as GEM's,
Lopez-Paz & Ranzato 2017): d = sum_i v_i g_i with v = u + mu, where mu >= 0 minimises mu G mu + 2 mu . (G u) and
G = g g^T is the Gram matrix. Only dot products are needed, so the small solver works for any D.
Introduced in notebooks/04_loss_weighting.ipynb.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .mgda import solve_each, supports


def nonnegative_least_squares(dots: Tensor, b: Tensor) -> Tensor:
    """Gram G G^T (T, T), b (T,) or (T, k) -> mu >= 0 of b's shape minimising mu G G^T mu + 2 mu . b (per column).

    Exact, by trying every support: on a support S the minimum solves (G G^T)_SS mu_S = -b_S (least squares when
    singular); every solution clipped to mu >= 0 is feasible, the optimum is one of them (or mu = 0), and the
    smallest objective wins. All supports and all columns are solved in one batched call.
    """
    column = b.dim() == 1
    b = b[:, None] if column else b                                   # (T, k)
    mask = supports(len(b))
    A = torch.where(mask[:, :, None] & mask[:, None, :], dots, 0.0) + torch.diag_embed((~mask).to(dots))
    x = solve_each(A, torch.where(mask[:, :, None], -b, 0.0))         # (S, T, k)
    mu = torch.cat([x.nan_to_num(0.0, 0.0, 0.0).clamp_min(0), torch.zeros(1, *b.shape, dtype=dots.dtype)])
    values = torch.einsum("sik,ij,sjk->sk", mu, dots, mu) + 2 * (mu * b).sum(1)   # the last candidate is mu = 0
    best = mu[values.argmin(0), :, torch.arange(b.shape[1])]          # (k, T)
    return best[0] if column else best.T


def project_weights(dots: Tensor, u: Tensor) -> Tensor:
    """Gram (T, T), weights u (T,) or (T, k) -> v: sum_i v_i g_i is the projection of sum_i u_i g_i onto the dual
    cone (for each column of u)."""
    return u + nonnegative_least_squares(dots, dots @ u)
