"""Notebook 01's exercise: attentive statistics pooling (Okabe et al. 2018)."""
from __future__ import annotations

import math

import torch

from .core import Exercise, Failed, register, run


def attentive_stats(x: torch.Tensor, mask: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    """x (B, T, D), mask (B, T) bool, scores (B, T) -> (B, 2D): attention-weighted [mean ; std] of the valid frames."""
    alpha = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=1).unsqueeze(-1)     # (B, T, 1)
    mean = (alpha * x).sum(1)                                                               # (B, D)
    var = (alpha * (x - mean.unsqueeze(1)) ** 2).sum(1)                                     # (B, D)
    return torch.cat([mean, var.clamp_min(1e-6).sqrt()], dim=-1)


def _check_attentive(fn, reference) -> str:
    # frames 0 and 4 are valid, with weights softmax(ln 3, 0) = (0.75, 0.25); frame 100 is padding
    x, mask = torch.tensor([[[0.0], [4.0], [100.0]]]), torch.tensor([[True, True, False]])
    scores = torch.tensor([[math.log(3.0), 0.0, 5.0]])
    what = "x = [0, 4, 100] (the 100 is padding), scores = [ln 3, 0, 5]"
    out = run(fn, x, mask, scores, what=what)
    if not isinstance(out, torch.Tensor) or out.shape != (1, 2):
        raise Failed(f"return (B, 2D) = (1, 2) here, [mean ; std]; got {getattr(out, 'shape', type(out).__name__)} "
                     f"(on {what})")
    mean, std = (float(v) for v in out[0])
    if mean > 50:
        raise Failed(f"the padded frame (x = 100) got attention: mean {mean:.1f}. Set the scores of padded frames "
                     "to -inf before the softmax (scores.masked_fill(~mask, float('-inf')))")
    if math.isclose(mean, math.sqrt(3), abs_tol=1e-4) and math.isclose(std, 1.0, abs_tol=1e-4):
        raise Failed("mean and std are swapped: return torch.cat([mean, std], dim=-1), the mean first")
    if math.isclose(mean, 2.0, abs_tol=1e-4):
        raise Failed("your mean is the plain average of the valid frames (2.0); weight them by alpha = softmax of "
                     f"the scores over the frames: 0.75 * 0 + 0.25 * 4 = 1.0 (on {what})")
    if not math.isclose(mean, 1.0, abs_tol=1e-4):
        raise Failed(f"the weighted mean should be 0.75 * 0 + 0.25 * 4 = 1.0, got {mean:.4f}: alpha is the softmax "
                     f"of the scores over the frames (dim=1), so it sums to 1 per utterance (on {what})")
    if math.isclose(std, 3.0, abs_tol=1e-4):
        raise Failed("you returned the weighted variance (3.0); the statistic is its square root, the std sqrt(3)")
    if any(math.isclose(std, v, abs_tol=1e-4) for v in (2.0, math.sqrt(8), math.sqrt(5))):
        raise Failed(f"your std ({std:.3f}) ignores the attention weights; the variance is weighted too: "
                     "sum_t alpha_t (x_t - mean)^2 = 0.75 * 1 + 0.25 * 9 = 3, so std = sqrt(3)")
    if not math.isclose(std, math.sqrt(3), abs_tol=1e-4):
        raise Failed(f"the weighted std should be sqrt(0.75 * (0 - 1)^2 + 0.25 * (4 - 1)^2) = 1.732, got {std:.4f}")
    for seed in range(3):
        g = torch.Generator().manual_seed(seed)
        x, scores = torch.randn(3, 7, 5, generator=g), torch.randn(3, 7, generator=g)
        mask = torch.arange(7) < torch.tensor([[7], [4], [1]])          # lengths 7, 4 and 1
        what = f"3 utterances of 7, 4 and 1 valid frames (torch.randn, seed {seed})"
        x.requires_grad_(True)
        mine, ref = run(fn, x, mask, scores, what=what), reference(x, mask, scores)
        if torch.isnan(mine).any():
            raise Failed(f"your output has NaN on {what}: one valid frame has variance 0 (or slightly below, by "
                         "rounding); clamp the variance at 1e-6 before the square root")
        (grad,) = torch.autograd.grad(mine.sum(), x, allow_unused=True)
        if grad is None:
            raise Failed(f"your pooled vector is cut off from x (no gradient reaches the frames) on {what}")
        if torch.isnan(grad).any():
            raise Failed(f"the gradient of your pooled vector is NaN on {what}: the square root of a variance of 0 "
                         "has an infinite slope; clamp the variance at 1e-6 before the square root")
        mine, ref = mine.detach(), ref.detach()
        if not torch.allclose(mine, ref, atol=2e-3):
            row = int((mine - ref).abs().amax(1).argmax())
            raise Failed(f"on {what}, utterance {row} differs from the reference by up to "
                         f"{float((mine - ref).abs().max()):.3f}; use only each utterance's valid frames")
    return ("the worked example (padding masked, weighted mean 1, weighted std sqrt 3), and 3 random batches with "
            "7, 4 and 1 valid frames")


register(Exercise(
    name="attentive_stats", notebook="01_single_task_baselines",
    statement=("Attentive statistics pooling turns a variable-length sequence of frame features into one vector. "
               "Each frame t has a score s_t (from a small network; given here). The weights are "
               "alpha_t = softmax over the *valid* frames of s_t (padded frames get no weight), the pooled "
               "vector is [mean ; std] with mean = sum_t alpha_t x_t and std = sqrt(sum_t alpha_t (x_t - mean)^2), "
               "the variance clamped at 1e-6 before the square root."),
    signature=("def attentive_stats(x: torch.Tensor, mask: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:"
               "   # (B, T, D), (B, T) bool, (B, T) -> (B, 2D)"),
    reference=attentive_stats, checker=_check_attentive,
    hints=["alpha = torch.softmax(scores.masked_fill(~mask, float('-inf')), dim=1), then .unsqueeze(-1) to (B, T, 1).",
           "mean = (alpha * x).sum(1); the variance uses the same alpha: (alpha * (x - mean[:, None]) ** 2).sum(1).",
           "Return torch.cat([mean, var.clamp_min(1e-6).sqrt()], dim=-1)."]))
