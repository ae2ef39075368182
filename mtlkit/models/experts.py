"""Experts and softmax gates for mixture-of-experts sharing: MMoE (Ma et al. 2018) and PLE (Tang et al. 2020).

An expert is a stack of the encoder's residual BiLSTM blocks; it replaces the encoder's top layers, and the
layers below (the CNN at least) stay one shared encoder. A gate turns what the experts read into one softmax
distribution over them per utterance, and a task reads the experts' outputs mixed by its gate.
"""
from __future__ import annotations

import torch
from torch import nn

from .encoder import BiLSTMBlock


class Expert(nn.Module):
    """``layers`` residual BiLSTM blocks of the encoder: h (batch, frames, width) -> each block's output, a list.

    Introduced in notebooks/03_attention_task_gating.ipynb.
    """

    def __init__(self, width: int, layers: int = 1, dropout: float = 0.0):
        super().__init__()
        self.blocks = nn.ModuleList([BiLSTMBlock(width, dropout) for _ in range(layers)])

    def forward(self, h: torch.Tensor, lengths: torch.Tensor) -> list[torch.Tensor]:
        outs = []
        for block in self.blocks:
            h = block(h, lengths)
            outs.append(h)
        return outs


class ExpertGate(nn.Module):
    """A softmax gate over ``n`` experts: h (batch, frames, width), mask (batch, frames) -> weights (batch, n).

    w = softmax(W mean_t h_t + b), the mean over each utterance's valid frames of h, the tensor the experts read
    (Ma et al. 2018 compute the gate from the experts' input x). W = 0 and b = 0 at the start: every gate begins
    uniform, 1/n for each expert, the same for every task. Introduced in notebooks/03_attention_task_gating.ipynb.
    """

    def __init__(self, width: int, n: int):
        super().__init__()
        self.linear = nn.Linear(width, n)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        summary = (h * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True).clamp_min(1)
        return torch.softmax(self.linear(summary), -1)


def mix(weights: torch.Tensor, outputs: list) -> torch.Tensor:
    """sum_e w[:, e] * outputs[e]: weights (batch, n) and n tensors (batch, frames, width) -> (batch, frames, width).

    Introduced in notebooks/03_attention_task_gating.ipynb.
    """
    return torch.einsum("bn,nbfw->bfw", weights, torch.stack(outputs))


class ExtractionLevel(nn.Module):
    """One PLE level: ``experts`` shared experts and ``task_experts`` per task, each one BiLSTM block.

    ``gates[t]`` weighs task t's own experts then the shared ones (task_experts + experts weights); below the top
    level a ``shared_gate`` weighs every expert of the level (all tasks' own ones, then the shared ones) into the
    input of the next level's shared experts (Tang et al. 2020). Introduced in notebooks/03_attention_task_gating.ipynb.
    """

    def __init__(self, tasks, width: int, experts: int, task_experts: int, top: bool, dropout: float = 0.0):
        super().__init__()
        self.shared = nn.ModuleList([Expert(width, 1, dropout) for _ in range(experts)])
        self.own = nn.ModuleDict({t: nn.ModuleList([Expert(width, 1, dropout) for _ in range(task_experts)])
                                  for t in tasks})
        self.gates = nn.ModuleDict({t: ExpertGate(width, task_experts + experts) for t in tasks})
        self.shared_gate = None if top else ExpertGate(width, len(tasks) * task_experts + experts)
