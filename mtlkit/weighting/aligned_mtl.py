"""Aligned-MTL (Senushkin et al. 2023): make the task gradients orthogonal and equally long, then add them."""
from __future__ import annotations

import torch
from torch import Tensor

from ..config import check_choice
from .base import Combination, Weighting, check_grads, combine, gram

SCALES = ("min", "median", "mean")
"""Which eigenvalue of G sets the length of the aligned gradients: the smallest (the paper), the median, the mean."""


def balance_transformation(dots: Tensor, scale: str = "min") -> Tensor:
    """Gram G (T, T) -> B (T, T) = sqrt(s) V Lambda^-1/2 V^T from G = V Lambda V^T, on the eigenvalues above zero.

    The aligned gradients, the rows of B g, have Gram B G B = s P (P the projector onto G's range; the identity when
    G has full rank): orthogonal, each of length sqrt(s). Eigenvalues below max * T * eps count as zero.
    """
    lam, V = torch.linalg.eigh(dots)
    keep = lam > lam.max().clamp_min(0) * len(lam) * torch.finfo(lam.dtype).eps
    if not keep.any():
        return torch.eye(len(lam), dtype=dots.dtype)
    lam, V = lam[keep], V[:, keep]
    s = {"min": lam.min(), "median": lam.median(), "mean": lam.mean()}[scale]
    return s.sqrt() * (V / lam.sqrt()) @ V.T


class AlignedMTL(Weighting):
    """Grads (T, D) -> direction d = sum_i w_i g_i (D,) with w = B 1 (T,), B the balance transformation of G.

    Senushkin et al. 2023 (Independent Component Alignment for Multi-Task Learning), Algorithm 1: d is the sum of
    the aligned gradients B g, which are orthogonal and all of length sqrt(lambda_min) (condition number 1), so no
    task dominates by its gradient's size and no two tasks point against each other. ``scale``: 'min' as in the
    paper, 'median' or 'mean' (the authors' code). Weights recorded: B 1, 1 each for orthogonal gradients of equal
    length; TorchJD's ``AlignedMTL`` uses the mean, d / T. Granularity: the representation by default.

    Introduced in notebooks/04_loss_weighting.ipynb.
    """

    needs_grads = True
    grad_on = "representation"

    def __init__(self, tasks: list[str], scale: str = "min"):
        super().__init__(tasks)
        check_choice("scale", scale, SCALES)
        self.scale = scale

    def forward(self, losses: Tensor, grads: Tensor | None = None) -> Combination:
        dots = gram(check_grads(grads, self.num_tasks))
        return combine(balance_transformation(dots, self.scale).sum(1), grads)
