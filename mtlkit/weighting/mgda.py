"""MGDA-UB (Sener & Koltun 2018): the min-norm point of the task gradients' convex hull, a common descent direction."""
from __future__ import annotations

import torch
from torch import Tensor

from ..config import check_choice
from .base import Combination, Weighting, check_grads, combine, gram

NORMALIZATIONS = ("none", "l2", "loss", "loss+")
"""How MGDA divides each g_i before solving: by 1, ||g_i||, L_i or L_i ||g_i|| (the paper's options)."""


def line_search(aa: Tensor, ab: Tensor, bb: Tensor) -> Tensor:
    """Gamma in [0, 1] minimising ||gamma a + (1 - gamma) b||^2, from a.a, a.b and b.b (the exact two-task case)."""
    gap = aa - 2 * ab + bb                                       # ||a - b||^2
    if gap <= 1e-12 * max(float(aa), float(bb), 1e-300):
        return torch.ones_like(aa)                               # a == b: any gamma, stay at a
    return ((bb - ab) / gap).clamp(0, 1)


def min_norm_weights(gram: Tensor, steps: int = 250) -> Tensor:
    """Gram matrix G G^T (T, T) -> w (T,) on the simplex minimising ||w @ G||, by pairwise Frank-Wolfe.

    Each step moves weight from the task in use that d = w @ G helps most (s) to the one it helps least (t), as
    far as the exact two-task line search says; unlike plain Frank-Wolfe this converges linearly.
    """
    T = gram.shape[0]
    w = torch.full((T,), 1.0 / T, dtype=gram.dtype)
    for _ in range(steps):
        gw = gram @ w                                            # (G G^T w)_i = g_i . d
        t = int(gw.argmin())
        s = int(torch.where(w > 0, gw, -torch.inf).argmax())
        if gw[s] - gw[t] <= 1e-12 * gram.diagonal().max():      # no pair to trade: optimal
            break
        moved = w.clone()                                        # the point with all of s's weight on t
        moved[t] += moved[s]
        moved[s] = 0
        gamma = line_search(w @ gw, moved @ gw, moved @ gram @ moved)
        w = gamma * w + (1 - gamma) * moved
    return w


class MGDA(Weighting):
    """Grads (T, D) -> direction = sum_i w_i g_i (D,) with w = T * argmin_{w in simplex} ||sum_i w_i g_i||.

    The min-norm point d* has d* . g_i >= ||d*||^2 for every i: a step along it lowers every loss at once.
    Weights are scaled by T so that equal weights read 1 each (the direction is T d*). With ``normalize``
    ('l2', 'loss', 'loss+') the weights are solved on the normalised g_i and applied to the raw g_i, as in the
    paper's code.

    Introduced in notebooks/04_loss_weighting.ipynb.
    """

    needs_grads = True

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
        return combine(self.num_tasks * w, grads)
