"""The multi-task model: one encoder or several towers, a head per task, and the sharing strategy between them.

Sharing strategies (the ``sharing`` argument; the names users type):
- ``separate``: one tower per task (the single-task baseline).
- ``hard``: one shared encoder; every head reads its last layer.
- ``soft``: a tower per task, coupled by the penalty lambda * sum_i ||theta_i - mean theta||^2.
- ``cross_stitch``: a tower per task; after each layer, task t continues with sum_j A[t, j] * h_j (A learned, init I).
- ``hierarchical``: one encoder; each task reads the layer named in ``depths`` (VAD low, speaker high).
- ``gated``: one encoder; task t reads alpha_t * f with its own gate (see :class:`TaskGate`).
- ``layer_attention``: one encoder; task t reads sum_k softmax(beta_t)_k * layer_k (as in SUPERB).

``private`` (any strategy) gives the named tasks a layer of their own, ReLU(W f + b) per frame, between what the
strategy hands them and their head: a task branch that an adversary can read without reading the shared features.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ..config import check_choice
from .encoder import Encoder, frame_mask, pool_frames
from .heads import FrameHead, UtteranceHead, reverse_gradient

SHARINGS = ("separate", "hard", "soft", "cross_stitch", "hierarchical", "gated", "layer_attention")
"""Sharing strategies; see the module docstring."""
FRAME_TASKS = ("vad",)
"""Tasks labelled per frame; the others are labelled per utterance."""
GATES = ("channel", "frame", "both")
"""What a task gate attends over in ``gated`` sharing: feature channels, frames, or both."""
DEFAULT_DEPTHS = {"vad": "cnn", "keyword": "lstm1", "speaker": "lstm2", "emotion": "lstm2", "accent": "lstm2",
                  "language": "lstm2"}
"""Which encoder layer each task reads in ``hierarchical`` sharing."""


@dataclass
class Output:
    """What the model returns: logits per task, the shared tensors, and the attention it used (for plots)."""

    logits: dict
    shared: list = field(default_factory=list)          # tensors every task reads from (with graph)
    shared_leaves: list = field(default_factory=list)   # detached copies the heads read, when split_shared=True
    adversary: torch.Tensor | None = None               # logits of the gradient-reversal branch
    gates: dict = field(default_factory=dict)            # task -> alpha (batch, frames or 1, width or 1)
    layer_weights: dict = field(default_factory=dict)    # task -> softmax weights over layers (n_layers,)


class TaskGate(nn.Module):
    """A task's gate: f (batch, frames, width) -> alpha in (0, 1), broadcastable to f.

    ``over="channel"``: alpha = sigmoid(W [mean_t f_t ; e] + b), one value per channel and utterance (mean over the
    valid frames; a task-conditioned squeeze-and-excitation, Hu et al. 2018). ``over="frame"``: alpha_t =
    sigmoid(<f_t, W_q e + b_q> / sqrt(width) + 2), one value per frame. ``"both"`` multiplies them. e is the
    task's learnt embedding. Introduced in notebooks/03_attention_task_gating.ipynb.
    """

    def __init__(self, width: int, embed_dim: int = 16, over: str = "channel"):
        super().__init__()
        check_choice("gate", over, GATES)
        self.over = over
        self.task_embed = nn.Parameter(torch.randn(embed_dim) * 0.1)
        self.channel = nn.Linear(width + embed_dim, width)
        self.frame_query = nn.Linear(embed_dim, width)
        nn.init.zeros_(self.channel.weight)
        nn.init.constant_(self.channel.bias, 2.0)          # gates start mostly open (sigmoid(2) = 0.88)

    def forward(self, f: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        alpha = torch.ones_like(f[:, :1, :1])
        if self.over in ("channel", "both"):
            summary = (f * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True).clamp_min(1)
            e = self.task_embed.expand(f.shape[0], -1)
            alpha = alpha * torch.sigmoid(self.channel(torch.cat([summary, e], -1))).unsqueeze(1)
        if self.over in ("frame", "both"):
            score = (f * self.frame_query(self.task_embed)).sum(-1, keepdim=True) / f.shape[-1] ** 0.5
            alpha = alpha * torch.sigmoid(score + 2.0)
        return alpha


class MultiTaskModel(nn.Module):
    """Encoder(s) + one head per task, shared as ``sharing`` says: features (batch, frames, n) -> :class:`Output`.

    ``tasks`` maps each enabled task to its number of classes; heads of other tasks are not built. ``dropout``
    is the encoder's (off by default, see :class:`~mtlkit.models.encoder.Encoder`). ``frame_pool``: the model
    reads the mean of each ``frame_pool`` feature frames (20 ms by default; the LSTMs halve that again, see
    :class:`~mtlkit.models.encoder.BiLSTMBlock`) and repeats each frame-level logit over its 10 ms label frames.
    Measured on the fast corpus (5 sharings x 2 seeds, 10 epochs): 1.75x faster to train than with 10 ms frames
    (LSTMs at 20 ms), the same accuracy within the seeds' spread (VAD F1 0.96-0.97 either way).
    Introduced in notebooks/02_hard_vs_soft_sharing.ipynb.
    """

    def __init__(self, tasks: dict, sharing: str = "hard", n_features: int = 40, width: int = 64,
                 lstm_layers: int = 2, pooling: str = "attentive", soft_lambda: float = 1e-2,
                 depths: dict | None = None,
                 gate: str = "channel", adversary_classes: int = 0, adversary_on: str = "emotion",
                 adversary_strength: float = 1.0, dropout: float = 0.0, private: tuple = (), frame_pool: int = 2):
        super().__init__()
        check_choice("sharing", sharing, SHARINGS)
        if not tasks:
            raise ValueError("at least one task is needed; tasks: vad, speaker, emotion, keyword, accent")
        if frame_pool < 1:
            raise ValueError(f"frame_pool must be a positive number of frames, got {frame_pool}")
        self.tasks, self.sharing, self.soft_lambda, self.frame_pool = dict(tasks), sharing, soft_lambda, frame_pool
        self.gates_forced_open = False
        make_encoder = lambda: Encoder(n_features, width, lstm_layers=lstm_layers, dropout=dropout)  # noqa: E731
        if sharing in ("separate", "soft", "cross_stitch"):
            self.towers = nn.ModuleDict({t: make_encoder() for t in self.tasks})
            names = next(iter(self.towers.values())).layer_names
            if sharing == "soft":           # theta_i = theta_0 + delta_i with every delta_i = 0 at the start
                first = next(iter(self.towers.values())).state_dict()
                for tower in self.towers.values():
                    tower.load_state_dict(first)
        else:
            self.encoder = make_encoder()
            names = self.encoder.layer_names
        self.layer_names = names
        if sharing == "cross_stitch":
            n = len(self.tasks)
            self.stitch = nn.Parameter(torch.eye(n).repeat(len(names), 1, 1))     # (layers, tasks, tasks)
        if sharing == "hierarchical":
            self.depths = {t: (depths or {}).get(t, DEFAULT_DEPTHS.get(t, names[-1])) for t in self.tasks}
            for t, d in self.depths.items():
                check_choice(f"layer for task {t}", d, tuple(names))
        if sharing == "gated":
            self.gates = nn.ModuleDict({t: TaskGate(width, over=gate) for t in self.tasks})
        if sharing == "layer_attention":
            self.layer_logits = nn.ParameterDict({t: nn.Parameter(torch.zeros(len(names))) for t in self.tasks})
        for t in private:
            check_choice("task with a private layer", t, tuple(self.tasks))
        self.private = nn.ModuleDict({t: nn.Sequential(nn.Linear(width, width), nn.ReLU()) for t in private})
        self.heads = nn.ModuleDict({t: FrameHead(width, k) if t in FRAME_TASKS else UtteranceHead(width, k, pooling)
                                    for t, k in self.tasks.items()})
        self.adversary_on, self.adversary_strength = adversary_on, adversary_strength
        self.adversary = None
        if adversary_classes:
            if adversary_on not in self.tasks or adversary_on in FRAME_TASKS:
                raise ValueError(f"adversary_on={adversary_on!r} must be an enabled utterance-level task of "
                                 f"{sorted(self.tasks)}")
            self.adversary = UtteranceHead(width, adversary_classes, pooling)

    def shared_parameters(self) -> list:
        """Parameters every task's loss depends on (empty for separate, soft and cross-stitch towers)."""
        return list(self.encoder.parameters()) if hasattr(self, "encoder") else []

    def penalty(self) -> torch.Tensor:
        """Soft sharing: lambda * sum_i ||theta_i - mean theta||^2 over the towers (zero for other strategies)."""
        if self.sharing != "soft" or len(self.tasks) < 2:
            return torch.zeros(())
        total = 0.0
        for params in zip(*(tower.parameters() for tower in self.towers.values())):
            stacked = torch.stack(params)
            total = total + ((stacked - stacked.mean(0)) ** 2).sum()
        return self.soft_lambda * total

    def tower_spread(self) -> float:
        """Relative distance of the towers from their mean, sqrt(sum_i ||theta_i - mean||^2 / sum_i ||mean||^2).

        0 when every task uses the same parameters (one shared encoder, or soft towers pulled together).
        """
        if not hasattr(self, "towers") or len(self.towers) < 2:
            return 0.0
        apart = together = 0.0
        with torch.no_grad():
            for params in zip(*(tower.parameters() for tower in self.towers.values())):
                stacked = torch.stack(params)
                apart += float(((stacked - stacked.mean(0)) ** 2).sum())
                together += float((stacked.mean(0) ** 2).sum()) * len(params)
        return (apart / together) ** 0.5

    def _task_inputs(self, x, lengths, mask, split_shared, out: Output) -> dict:
        """The (batch, frames, width) tensor each task head reads (through its private layer, if it has one)."""
        inputs = self._shared_inputs(x, lengths, mask, split_shared, out)
        return {t: self.private[t](v) if t in self.private else v for t, v in inputs.items()}

    def _shared_inputs(self, x, lengths, mask, split_shared, out: Output) -> dict:
        """The (batch, frames, width) tensor the sharing strategy hands each task."""
        tasks = list(self.tasks)
        if self.sharing in ("separate", "soft"):
            return {t: self.towers[t](x, lengths)[-1] for t in tasks}
        if self.sharing == "cross_stitch":
            h = [x] * len(tasks)
            for k in range(len(self.layer_names)):
                h = [self.towers[t].stage(k, h[i], lengths) for i, t in enumerate(tasks)]
                mix = self.stitch[k]
                h = [sum(mix[i, j] * h[j] for j in range(len(tasks))) for i in range(len(tasks))]
            return dict(zip(tasks, h))
        layers = self.encoder(x, lengths)
        if self.sharing == "hierarchical":
            used = sorted({self.layer_names.index(d) for d in self.depths.values()})
            layers = {k: layers[k] for k in used}
        else:
            layers = {k: layers[k] for k in (range(len(layers)) if self.sharing == "layer_attention"
                                              else [len(layers) - 1])}
        out.shared = list(layers.values())
        if split_shared:
            layers = {k: v.detach().requires_grad_() for k, v in layers.items()}
            out.shared_leaves = list(layers.values())
        if self.sharing == "hard":
            return {t: layers[len(self.layer_names) - 1] for t in tasks}
        if self.sharing == "hierarchical":
            return {t: layers[self.layer_names.index(self.depths[t])] for t in tasks}
        if self.sharing == "layer_attention":
            stacked = torch.stack([layers[k] for k in range(len(self.layer_names))])
            inputs = {}
            for t in tasks:
                w = torch.softmax(self.layer_logits[t], 0)
                out.layer_weights[t] = w.detach()
                inputs[t] = (w[:, None, None, None] * stacked).sum(0)
            return inputs
        f = layers[len(self.layer_names) - 1]                                # gated
        inputs = {}
        for t in tasks:
            alpha = torch.ones_like(f[:, :1, :1]) if self.gates_forced_open else self.gates[t](f, mask)
            out.gates[t] = alpha.detach()
            inputs[t] = alpha * f
        return inputs

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor, split_shared: bool = False) -> Output:
        """feats (batch, frames, n_features), lengths (batch,) -> Output; logits (batch, [frames,] n_classes).

        With ``split_shared`` the heads read detached copies of the shared tensors (``out.shared_leaves``), so
        that per-task gradients on the shared representation can be taken cheaply (gradient-based weightings).
        """
        if feats.dim() != 3:
            raise ValueError(f"feats must be (batch, frames, n_features), got shape {tuple(feats.shape)}")
        frames = feats.shape[1]
        feats, lengths = pool_frames(feats, lengths, self.frame_pool)
        mask = frame_mask(lengths, feats.shape[1])
        out = Output(logits={})
        inputs = self._task_inputs(feats, lengths, mask, split_shared, out)
        out.logits = {t: self.heads[t](inputs[t], mask) for t in self.tasks}
        for t in self.tasks:
            if t in FRAME_TASKS:                  # back to one logit per 10 ms label frame
                out.logits[t] = out.logits[t].repeat_interleave(self.frame_pool, 1)[:, :frames]
        if self.adversary is not None:
            out.adversary = self.adversary(reverse_gradient(inputs[self.adversary_on], self.adversary_strength), mask)
        return out

    def layer_outputs(self, feats: torch.Tensor, lengths: torch.Tensor, task: str | None = None) -> list:
        """Each encoder layer's output (batch, frames / frame_pool, width) as ``task`` sees it (its tower, if any)."""
        if self.sharing in ("separate", "soft", "cross_stitch"):
            check_choice("task (this model has one tower per task)", task, tuple(self.tasks))
        feats, lengths = pool_frames(feats, lengths, self.frame_pool)
        if self.sharing in ("separate", "soft"):
            return self.towers[task](feats, lengths)
        if self.sharing == "cross_stitch":
            tasks, outs, h = list(self.tasks), [], [feats] * len(self.tasks)
            for k in range(len(self.layer_names)):
                h = [self.towers[t].stage(k, h[i], lengths) for i, t in enumerate(tasks)]
                h = [sum(self.stitch[k][i, j] * h[j] for j in range(len(tasks))) for i in range(len(tasks))]
                outs.append(h[tasks.index(task)])
            return outs
        return self.encoder(feats, lengths)

    def embed(self, feats: torch.Tensor, lengths: torch.Tensor, task: str) -> torch.Tensor:
        """The utterance embedding (batch, hidden) that the head of ``task`` classifies."""
        feats, lengths = pool_frames(feats, lengths, self.frame_pool)
        mask = frame_mask(lengths, feats.shape[1])
        inputs = self._task_inputs(feats, lengths, mask, False, Output(logits={}))
        return self.heads[task].embed(inputs[task], mask)
