"""MGDA-UB (Sener & Koltun 2018): the min-norm point of the task gradients' convex hull, a common descent direction."""
from __future__ import annotations

from functools import lru_cache

import torch
from torch import Tensor

from ..config import check_choice
from .base import Combination, Weighting, check_grads, combine, gram

NORMALIZATIONS = ("none", "l2", "loss", "loss+")
"""How MGDA divides each g_i before solving: by 1, ||g_i||, L_i or L_i ||g_i|| (the paper's options)."""
MAX_TASKS = 10
"""The exact solver tries all 2^T - 1 supports: 1023 small linear systems for T = 10."""


@lru_cache(maxsize=None)
def supports(T: int) -> Tensor:
    """Every non-empty subset of T tasks as a (2^T - 1, T) bool mask, the largest subsets first."""
    masks = torch.tensor([[(k >> i) & 1 for i in range(T)] for k in range(1, 2 ** T)], dtype=torch.bool)
    return masks[masks.sum(1).argsort(descending=True, stable=True)]


def solve_each(A: Tensor, rhs: Tensor) -> Tensor:
    """A (S, n, n), rhs (S, n, k) -> x (S, n, k) solving every A x = rhs; least squares where A is singular."""
    x, info = torch.linalg.solve_ex(A, rhs)
    singular = (info != 0) | ~torch.isfinite(x).flatten(1).all(1)
    if singular.any():
        x[singular] = torch.linalg.lstsq(A[singular], rhs[singular], driver="gelsd").solution
    return x


def on_supports(gram: Tensor, rhs: Tensor) -> tuple[Tensor, Tensor]:
    """Gram (T, T), rhs (T + 1, k) -> (w (S, T, k), masks (S, T)): on every support S, [[M_SS, -1], [1, 0]] x = rhs.

    Rows and columns of the tasks outside S are replaced by the identity (their w_i = 0); the last unknown is the
    multiplier of sum_S w_i. The bordered matrix is singular only when the gradients on S are affinely dependent.
    """
    T = gram.shape[0]
    if T > MAX_TASKS:
        raise ValueError(f"the exact solver tries all 2^T - 1 supports and handles up to {MAX_TASKS} tasks, got T={T}")
    mask = supports(T)
    A = torch.zeros(len(mask), T + 1, T + 1, dtype=gram.dtype)
    A[:, :T, :T] = torch.where(mask[:, :, None] & mask[:, None, :], gram, 0.0) + torch.diag_embed((~mask).to(gram))
    A[:, :T, T] = -mask.to(gram)
    A[:, T, :T] = mask.to(gram)
    rhs = torch.where(torch.cat([mask, torch.ones(len(mask), 1, dtype=torch.bool)], 1)[:, :, None], rhs, 0.0)
    return solve_each(A, rhs)[:, :T], mask


def onto_simplex(w: Tensor) -> Tensor:
    """Candidates (N, T) -> the same with negative or non-finite entries set to 0, rescaled to sum to 1."""
    w = w.nan_to_num(0.0, 0.0, 0.0).clamp_min(0)
    total = w.sum(1, keepdim=True)
    return torch.where(total > 0, w / total.clamp_min(1e-300), 1.0 / w.shape[1])


def min_norm_weights(gram: Tensor) -> Tensor:
    """Gram matrix G G^T (T, T) -> w (T,) on the simplex minimising ||w @ G||^2 = w G G^T w, exactly (T <= 10).

    On a support S (the tasks with w_i > 0) the optimum solves (G G^T)_SS w_S = lambda 1, sum_S w_i = 1, with
    lambda = ||d||^2 for d = w @ G. Every support is solved (least squares when the gradients on S are affinely
    dependent: duplicated or zero), each solution is clipped back onto the simplex, and the shortest d wins. That
    is the global minimum: every candidate lies on the simplex, and the optimum is one of them.
    """
    M = gram.double().cpu()
    rhs = torch.zeros(M.shape[0] + 1, 1, dtype=M.dtype)
    rhs[-1] = 1.0
    w = onto_simplex(on_supports(M, rhs)[0][:, :, 0])
    values = torch.einsum("si,ij,sj->s", w, M, w)                # ||d||^2 of every candidate
    best = values.min()
    return w[int((values <= best + 1e-12 * best.abs()).nonzero()[0])]   # ties: the largest support


class MGDA(Weighting):
    """Grads (T, D) -> direction = sum_i w_i g_i (D,) with w = T * argmin_{w in simplex} ||sum_i w_i g_i||.

    The min-norm point d* has g_i . d* >= ||d*||^2 for every i (with equality where w_i > 0): a step along it
    lowers every loss at once. Weights are scaled by T so that equal weights read 1 each (the direction is T d*).
    With ``normalize`` ('l2', 'loss', 'loss+') w is solved on the normalised gradients g_i / s_i and the direction
    is their min-norm point: d = T sum_i w_i g_i / s_i, so every task still gains (g_i . d >= T s_i ||d~||^2 >= 0).
    Weights recorded: T w_i / s_i, so that direction == weights @ grads. (The paper's code applies w to the raw
    g_i instead, which can raise a task's loss to first order when the s_i differ.) Granularity: the shared
    representation, as MGDA-UB defines it.

    Introduced in notebooks/04_loss_weighting.ipynb.
    """

    needs_grads = True
    grad_on = "representation"

    def __init__(self, tasks: list[str], normalize: str = "none"):
        super().__init__(tasks)
        check_choice("normalization", normalize, NORMALIZATIONS)
        self.normalize = normalize

    def forward(self, losses: Tensor, grads: Tensor | None = None) -> Combination:
        grads = check_grads(grads, self.num_tasks)
        dots = gram(grads)
        scale = torch.ones(self.num_tasks, dtype=dots.dtype)    # g_i is divided by scale_i before solving
        if self.normalize in ("l2", "loss+"):
            scale = scale * dots.diagonal().sqrt()
        if self.normalize in ("loss", "loss+"):
            scale = scale * losses.detach().double().cpu()
        scale = scale.clamp_min(1e-12)
        w = min_norm_weights(dots / scale[:, None] / scale[None, :])
        return combine(self.num_tasks * w / scale, grads)
