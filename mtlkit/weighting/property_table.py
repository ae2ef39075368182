"""Four properties of every weighting, measured on seeded random and adversarial gradient sets rather than quoted.

A weighting maps task losses L (T,) and gradients J (T, D) (rows g_i) to a direction d (D,). Measured here, each
on a fresh instance (the state a weighting starts training with):

- non-conflicting: g_i . d >= 0 for every task: no loss goes up to first order (Quinton & Rey 2024, Sec. 2.2);
- linear under scaling: scaling task i (its loss and its gradient) by c_i > 0 gives a d that is linear in c,
  so each task counts in proportion to its gradient (Quinton & Rey 2024's definition);
- scale-invariant: multiplying one loss by a constant leaves the direction of d unchanged;
- weighted: d = sum_i w_i g_i with every w_i >= 0;
- cost: whether it needs the T task gradients (T backward passes, or T through the heads on the representation),
  and the milliseconds of one call on T = 4 gradients of D = 1024.

The two scaling properties can hold together: a fixed direction whose length is linear in c (ConFIG's). A method
whose weights do not depend on the gradients (equal, rlw) is linear and not invariant; one that divides each task
by its own loss (famo) is invariant and not linear. Introduced in notebooks/04_loss_weighting.ipynb.
"""
from __future__ import annotations

import time

import torch
from torch import Tensor

from . import WEIGHTINGS, make_weighting

OPTIONS = {"pcgrad": dict(seed=0), "rlw": dict(seed=0)}
"""Options that make the random methods draw the same numbers on every call, so that a property is a property."""
TOLERANCE = 1e-9
"""Relative error below which a measured identity counts as holding: round-off (the exact solvers reach ~1e-13)."""


def gradient_sets(seed: int = 0) -> list[tuple[str, Tensor, Tensor]]:
    """(kind, losses (T,), grads (T, D)) float64: random sets for T = 2..6 and five adversarial kinds."""
    gen = torch.Generator().manual_seed(seed)
    rand = lambda *shape: torch.randn(*shape, generator=gen, dtype=torch.float64)   # noqa: E731
    sets = []
    for T in range(2, 7):
        sets.append(("random", T, rand(T, 16)))
        g = rand(T, 16)
        sets.append(("conflicting", T, g - 1.2 * g.mean(0)))                 # many pairs at an obtuse angle
        sets.append(("extreme norms", T, g * torch.logspace(-3, 3, T, dtype=torch.float64)[:, None]))
    base = rand(1, 16)
    sets.append(("near-collinear", 4, base + 1e-3 * rand(4, 16)))           # ill-conditioned: cond(G) ~ 1e7
    sets.append(("more tasks than dimensions", 6, rand(6, 3)))
    g = rand(3, 16)
    sets.append(("opposed pair", 3, torch.stack([g[0], -g[0] + 0.1 * g[1], g[2]])))
    out = []
    for kind, T, grads in sets:
        losses = torch.rand(T, generator=gen, dtype=torch.float64) * 2 + 0.2
        out.append((kind, losses, grads))
    return out


def direction(name: str, losses: Tensor, grads: Tensor) -> tuple[Tensor, Tensor]:
    """(d (D,), weights (T,)) of a fresh weighting ``name`` on losses (T,) and grads (T, D), float64.

    A d shorter than 1e-9 of the sum it was formed from (sum_i |w_i| ||g_i||) is round-off of 0 and returned as 0:
    e.g. when the g_i point every way, the only direction that conflicts with none is 0.
    """
    weighting = make_weighting(name, [f"task{i}" for i in range(len(losses))], **OPTIONS.get(name, {}))
    out = weighting(losses.clone().requires_grad_(), grads)
    weights = out.weights.to(grads)
    d = out.direction.to(grads) if out.direction is not None else weights @ grads
    if d.norm() <= 1e-9 * (weights.abs() @ grads.norm(dim=1)):
        d = torch.zeros_like(d)
    return d, weights


def _scaled(name, losses, grads, c):
    return direction(name, losses * c, grads * c[:, None])[0]


def measure(name: str, seed: int = 0) -> dict:
    """The measured properties of weighting ``name``: booleans, the worst value behind each, and in ``worst_set``
    the kind of gradient set where it was worst."""
    gen = torch.Generator().manual_seed(seed + 1)
    worst_cos, worst_linear, worst_invariant, worst_weight = 1.0, 0.0, 0.0, 0.0
    where = {}                                          # property -> the kind of gradient set that did worst
    for kind, losses, grads in gradient_sets(seed):
        d, w = direction(name, losses, grads)
        norms = grads.norm(dim=1) * d.norm()
        cos = torch.where(norms > 0, grads @ d / norms.clamp_min(1e-300), 0.0)
        if float(cos.min()) < worst_cos:
            worst_cos, where["non_conflicting"] = float(cos.min()), kind
        if float(w.min() / w.abs().max().clamp_min(1e-300)) < worst_weight:
            worst_weight, where["weighted"] = float(w.min() / w.abs().max().clamp_min(1e-300)), kind
        T = len(losses)
        c1 = torch.rand(T, generator=gen, dtype=torch.float64) * 3 + 0.1
        c2 = torch.rand(T, generator=gen, dtype=torch.float64) * 3 + 0.1
        a1, a2, a12 = (_scaled(name, losses, grads, c) for c in (c1, c2, c1 + c2))
        gap, scale = (a12 - a1 - a2).norm(), a1.norm() + a2.norm()
        error = float(gap / scale) if scale > 0 else (0.0 if gap == 0 else float("inf"))
        if error > worst_linear:
            worst_linear, where["linear_under_scaling"] = error, kind
        for factor in (0.1, 10.0):
            c = torch.ones(T, dtype=torch.float64)
            c[0] = factor
            e = _scaled(name, losses, grads, c)
            if d.norm() > 0 and e.norm() > 0 and float(1 - (d @ e) / (d.norm() * e.norm())) > worst_invariant:
                worst_invariant, where["scale_invariant"] = float(1 - (d @ e) / (d.norm() * e.norm())), kind
    return dict(name=name, non_conflicting=worst_cos >= -TOLERANCE, linear_under_scaling=worst_linear <= TOLERANCE,
                scale_invariant=worst_invariant <= TOLERANCE, weighted=worst_weight >= -TOLERANCE,
                needs_grads=WEIGHTINGS[name].needs_grads, ms_per_call=_timed(name),
                worst_cosine=worst_cos, worst_linearity_error=worst_linear, worst_angle_change=worst_invariant,
                most_negative_weight=worst_weight, worst_set=where)


def _timed(name: str, repeats: int = 5) -> float:
    """Median milliseconds of one call on T = 4 random gradients of D = 1024 (float32, as in training)."""
    gen = torch.Generator().manual_seed(0)
    grads, losses = torch.randn(4, 1024, generator=gen), torch.rand(4, generator=gen) + 0.5
    weighting = make_weighting(name, ["a", "b", "c", "d"], **OPTIONS.get(name, {}))
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        weighting(losses.clone().requires_grad_(), grads)
        times.append(time.perf_counter() - start)
    return 1000 * sorted(times[1:])[repeats // 2]


def properties(names=None, seed: int = 0) -> list[dict]:
    """One row per weighting (all of :data:`WEIGHTINGS` by default): its measured properties, see the module doc.

    Introduced in notebooks/04_loss_weighting.ipynb.
    """
    return [measure(name, seed) for name in (names or WEIGHTINGS)]
