"""Task heads: frame-level (VAD) and utterance-level with mean or attentive statistics pooling."""
from __future__ import annotations

import torch
from torch import nn

from ..config import check_choice

POOLINGS = ("mean", "attentive")
"""Utterance pooling choices: mean over frames, or attentive statistics (weighted mean and std)."""


class MeanPool(nn.Module):
    """Mean over the valid frames: (batch, frames, width), mask (batch, frames) -> (batch, width)."""

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        w = mask.unsqueeze(-1).to(x.dtype)
        return (x * w).sum(1) / w.sum(1).clamp_min(1.0)


class AttentiveStatsPool(nn.Module):
    """Attention-weighted mean and std over valid frames: (batch, frames, width) -> (batch, 2 * width)."""

    def __init__(self, width: int, hidden: int = 64):
        super().__init__()
        self.score = nn.Sequential(nn.Linear(width, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        scores = self.score(x).squeeze(-1).masked_fill(~mask, float("-inf"))
        alpha = torch.softmax(scores, dim=1).unsqueeze(-1)
        mean = (alpha * x).sum(1)
        var = (alpha * x * x).sum(1) - mean * mean
        return torch.cat([mean, torch.sqrt(var.clamp_min(1e-6))], dim=-1)


class FrameHead(nn.Module):
    """Per-frame classifier (VAD): (batch, frames, width) -> logits (batch, frames, n_classes)."""

    def __init__(self, width: int, n_classes: int = 2):
        super().__init__()
        self.out = nn.Linear(width, n_classes)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.out(x)


class UtteranceHead(nn.Module):
    """Pool then a small MLP: (batch, frames, width) -> logits (batch, n_classes); ``embed`` gives the pooled vector."""

    def __init__(self, width: int, n_classes: int, pooling: str = "mean", hidden: int = 128, dropout: float = 0.1):
        super().__init__()
        check_choice("pooling", pooling, POOLINGS)
        self.pool = MeanPool() if pooling == "mean" else AttentiveStatsPool(width)
        pooled = width if pooling == "mean" else 2 * width
        self.mlp = nn.Sequential(nn.Linear(pooled, hidden), nn.ReLU(), nn.Dropout(dropout))
        self.out = nn.Linear(hidden, n_classes)

    def embed(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The utterance embedding (batch, hidden) the classifier reads."""
        return self.mlp(self.pool(x, mask))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.out(self.embed(x, mask))


class GradientReversal(torch.autograd.Function):
    """Identity forward; multiplies the gradient by -strength backward (Ganin & Lempitsky 2015)."""

    @staticmethod
    def forward(ctx, x, strength: float):
        ctx.strength = strength
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -ctx.strength * grad, None


def reverse_gradient(x: torch.Tensor, strength: float = 1.0) -> torch.Tensor:
    """Gradient reversal layer as a function."""
    return GradientReversal.apply(x, strength)
