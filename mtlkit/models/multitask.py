"""The multi-task model: one encoder or several towers, a head per task, and the sharing strategy between them.

Sharing strategies (the ``sharing`` argument; the names users type):
- ``separate``: one tower per task (the single-task baseline).
- ``hard``: one shared encoder; every head reads its last layer.
- ``soft``: a tower per task, coupled by the penalty lambda * sum_i ||theta_i - mean theta||^2.
- ``cross_stitch``: a tower per task; after each layer, task t continues with sum_j A[t, j] * h_j (A learned, init I).
- ``hierarchical``: one encoder; each task reads the layer named in ``depths`` (VAD low, speaker high).
- ``gated``: one encoder; task t reads alpha_t * f with its own gate (see :class:`TaskGate`).
- ``layer_attention``: one encoder; task t reads sum_k softmax(beta_t)_k * layer_k (as in SUPERB).
- ``mtan``: one encoder; at every layer j, task t's attention module turns the layer's features and the task's
  attended features of layer j-1 into a mask a_t^j in (0, 1) per frame and channel; the task reads a_t^j * p^j
  of the last layer (Liu, Johns & Davison 2019; see :class:`TaskAttention`).
- ``mmoe``: a shared CNN (and lower LSTMs) u, then ``experts`` experts, each a stack of the top ``expert_layers``
  LSTM layers; task t reads sum_e g_t,e(u) * expert_e(u) with a softmax gate g_t of its own (Ma et al. 2018).
- ``ple``: as ``mmoe``, plus ``task_experts`` experts of each task's own; task t's gate weighs its own and the
  shared experts, at each of ``expert_layers`` extraction levels (Tang et al. 2020; one level is their CGC).

``private`` (any strategy) gives the named tasks a layer of their own, ReLU(W f + b) per frame, between what the
strategy hands them and their head: a task branch that an adversary can read without reading the shared features.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ..config import check_choice
from .encoder import Encoder, frame_mask, pool_frames
from .experts import Expert, ExpertGate, ExtractionLevel, mix
from .heads import FrameHead, UtteranceHead, reverse_gradient

SHARINGS = ("separate", "hard", "soft", "cross_stitch", "hierarchical", "gated", "layer_attention", "mtan", "mmoe",
            "ple")
"""Sharing strategies; see the module docstring."""
PER_TASK_LAYERS = ("separate", "soft", "cross_stitch", "mmoe", "ple")
"""Strategies whose encoder layers differ from task to task: ``layer_outputs`` needs the task."""
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
                                                         # (mtan: its last layer's mask (batch, frames, width))
    layer_weights: dict = field(default_factory=dict)    # task -> softmax weights over layers (n_layers,)
    expert_weights: dict = field(default_factory=dict)   # task -> softmax weights over experts (batch, experts)
                                                         # (mmoe; ple: the top level's, own experts first)


class TaskGate(nn.Module):
    """A task's gate: f (batch, frames, width) -> alpha in (0, 1), broadcastable to f.

    ``over="channel"``: alpha = sigmoid(W [mean_t f_t ; e] + b), one value per channel and utterance (mean over the
    valid frames; a task-conditioned squeeze-and-excitation, Hu et al. 2018). ``over="frame"``: alpha_t =
    sigmoid(<f_t, W_q e + b_q> / sqrt(width) + 2), one value per frame. ``"both"`` multiplies them. e is the
    task's learnt embedding. One gate, after the last layer only; MTAN (:class:`TaskAttention`) has a mask at every
    layer, per frame and channel, computed from the features alone and chained from layer to layer.
    Introduced in notebooks/03_attention_task_gating.ipynb.
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


class TaskAttention(nn.Module):
    """MTAN's attention module of one task at one layer: z (batch, frames, n_in) -> mask a (batch, frames, width).

    a = sigmoid(W2 ReLU(LayerNorm(W1 z + b1)) + b2) at each frame, in (0, 1) per frame and channel; z is u^1 at the
    first layer and [u^j ; a^(j-1) * p^(j-1)] above it (see ``MultiTaskModel._mtan_layers`` for u and p).
    Liu, Johns & Davison (2019) build it from two 1x1 convolutions over an image, g (conv, batch norm, ReLU) and h
    (conv, batch norm, sigmoid). Adapted to speech: a 1x1 convolution over the frames of an utterance is a linear
    layer applied to each frame, so W1 and W2 are per-frame linear layers; g's batch norm is a LayerNorm over each
    frame's channels (no running statistics, as in the encoder); h has no norm before its sigmoid; and the paper's
    shared 3x3 convolution f^(j), which brings the attended features of block j-1 to block j's resolution and
    channels, is left out, since every layer here has the same width and frame rate. Unlike a :class:`TaskGate`
    (one gate after the last layer, from the task's embedding), MTAN attends at every layer, its mask depends on
    the input frame by frame, and each layer's module also reads the task's attended features of the layer below.
    Introduced in notebooks/03_attention_task_gating.ipynb.
    """

    def __init__(self, n_in: int, width: int):
        super().__init__()
        self.inner, self.norm, self.outer = nn.Linear(n_in, width), nn.LayerNorm(width), nn.Linear(width, width)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.outer(torch.relu(self.norm(self.inner(z)))))


class MultiTaskModel(nn.Module):
    """Encoder(s) + one head per task, shared as ``sharing`` says: features (batch, frames, n) -> :class:`Output`.

    ``tasks`` maps each enabled task to its number of classes; heads of other tasks are not built. ``dropout``
    is the encoder's (off by default, see :class:`~mtlkit.models.encoder.Encoder`). ``frame_pool``: the model
    reads the mean of each ``frame_pool`` feature frames (20 ms by default; the LSTMs halve that again, see
    :class:`~mtlkit.models.encoder.BiLSTMBlock`) and repeats each frame-level logit over its 10 ms label frames.
    Measured on the fast corpus (5 sharings x 2 seeds, 10 epochs): 1.75x faster to train than with 10 ms frames
    (LSTMs at 20 ms), the same accuracy within the seeds' spread (VAD F1 0.96-0.97 either way).
    ``experts`` (shared experts), ``task_experts`` (each task's own, ``ple`` only) and ``expert_layers`` (how many
    of the top LSTM layers the experts replace; ``ple``: its extraction levels) size ``mmoe`` and ``ple``
    (notebooks/03_attention_task_gating.ipynb). Introduced in notebooks/02_hard_vs_soft_sharing.ipynb.
    """

    def __init__(self, tasks: dict, sharing: str = "hard", n_features: int = 40, width: int = 64,
                 lstm_layers: int = 2, pooling: str = "attentive", soft_lambda: float = 1e-2,
                 depths: dict | None = None,
                 gate: str = "channel", adversary_classes: int = 0, adversary_on: str = "emotion",
                 adversary_strength: float = 1.0, dropout: float = 0.0, private: tuple = (), frame_pool: int = 2,
                 experts: int = 2, task_experts: int = 1, expert_layers: int = 1):
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
        elif sharing in ("mmoe", "ple"):
            self._check_experts(experts, task_experts, expert_layers, lstm_layers)
            self.encoder = Encoder(n_features, width, lstm_layers=lstm_layers - expert_layers, dropout=dropout)
            names = ["cnn"] + [f"lstm{i + 1}" for i in range(lstm_layers)]
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
        if sharing == "mtan":           # layer 1 reads u^1; layer j > 1 reads [u^j ; the task's attended layer j-1]
            self.attention = nn.ModuleDict({t: nn.ModuleList([TaskAttention(width if j == 0 else 2 * width, width)
                                                              for j in range(len(names))]) for t in self.tasks})
        if sharing == "mmoe":
            self.experts = nn.ModuleList([Expert(width, expert_layers, dropout) for _ in range(experts)])
            self.expert_gates = nn.ModuleDict({t: ExpertGate(width, experts) for t in self.tasks})
        if sharing == "ple":
            self.levels = nn.ModuleList([ExtractionLevel(self.tasks, width, experts, task_experts,
                                                         top=j == expert_layers - 1, dropout=dropout)
                                         for j in range(expert_layers)])
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

    @staticmethod
    def _check_experts(experts: int, task_experts: int, expert_layers: int, lstm_layers: int) -> None:
        if experts < 1:
            raise ValueError(f"experts must be a positive number of shared experts, got experts={experts}")
        if task_experts < 0:
            raise ValueError(f"task_experts must be 0 or more experts per task, got task_experts={task_experts}")
        if not 1 <= expert_layers <= lstm_layers:
            raise ValueError(f"expert_layers must be between 1 and lstm_layers={lstm_layers} (experts replace the "
                             f"top LSTM layers; the CNN stays shared), got expert_layers={expert_layers}")

    def shared_parameters(self) -> list:
        """The parameters below ``out.shared``, where gradient-based weightings combine the task gradients.

        Every task's loss depends on them; every other parameter is one task's own (heads, gates, attention).
        Empty for separate, soft and cross-stitch towers. ``mmoe``: the encoder and the experts (each gate is its
        task's own). ``ple``: the encoder, every level below the top and the top level's shared experts; the top
        level's own experts and gates are each task's own. (Task t's gates below the top level feed only task t,
        yet lie below ``out.shared``, so they count as shared here.)
        """
        if self.sharing == "mmoe":
            return list(self.encoder.parameters()) + list(self.experts.parameters())
        if self.sharing == "ple":
            return (list(self.encoder.parameters()) + list(self.levels[:-1].parameters())
                    + list(self.levels[-1].shared.parameters()))
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
        if self.sharing in ("mtan", "mmoe", "ple"):
            return {t: layers[-1] for t, layers in self._task_layers(x, lengths, mask, split_shared, out).items()}
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

    @staticmethod
    def _share(tensors: list, split_shared: bool, out: Output) -> list:
        """Record ``tensors`` in ``out.shared``; return what the task modules read: the tensors, or with
        ``split_shared`` detached copies that are leaves of the graph (also kept in ``out.shared_leaves``)."""
        out.shared += tensors
        if not split_shared:
            return tensors
        leaves = [v.detach().requires_grad_() for v in tensors]
        out.shared_leaves += leaves
        return leaves

    def _task_layers(self, x, lengths, mask, split_shared, out: Output, every_layer: bool = False) -> dict:
        """mtan, mmoe, ple: task -> its layers as the task reads them, each (batch, frames, width).

        Only the last layer unless ``every_layer`` (the lower ones for :meth:`layer_outputs`). Every module of a
        task's own reads the tensors :meth:`_share` returns, so with ``split_shared`` the task losses reach the
        shared parameters only through ``out.shared``.
        """
        if self.sharing == "mtan":
            return self._mtan_layers(x, lengths, split_shared, out)
        bottom = self.encoder(x, lengths)
        if self.sharing == "mmoe":
            return self._mmoe_layers(bottom, lengths, mask, split_shared, out, every_layer)
        return self._ple_layers(bottom, lengths, mask, split_shared, out)

    def _mtan_layers(self, x, lengths, split_shared, out: Output) -> dict:
        """Attended features a_t^j * p^j of every layer j for each task (Liu et al. 2019, adapted to frames).

        p^j is layer j's output; u^j, what the attention of layer j reads besides, is the output of the first conv
        block for the CNN (p^1 that of the last) and p^j itself for an LSTM layer, which is a single block.
        """
        convs = self.encoder.stages[0]
        u = convs[0](x, lengths)
        p = u
        for conv in convs[1:]:
            p = conv(p, lengths)
        shared = [u, p]
        for k in range(1, len(self.layer_names)):
            shared.append(self.encoder.stage(k, shared[-1], lengths))
        u, *ps = self._share(shared, split_shared, out)
        layers = {}
        for t, modules in self.attention.items():
            attended = []
            for j, (p, attend) in enumerate(zip(ps, modules)):
                a = attend(u if j == 0 else torch.cat([p, attended[-1]], -1))
                attended.append(a * p)
            out.gates[t] = a.detach()
            layers[t] = attended
        return layers

    def _mmoe_layers(self, bottom, lengths, mask, split_shared, out: Output, every_layer: bool) -> dict:
        """The shared encoder's layers, then the experts' layers mixed by the task's gate (Ma et al. 2018)."""
        stacks = [expert(bottom[-1], lengths) for expert in self.experts]          # experts x expert_layers
        u, *tops = self._share([bottom[-1]] + [stack[-1] for stack in stacks], split_shared, out)
        layers = {}
        for t, gate in self.expert_gates.items():
            w = gate(u, mask)                                                      # (batch, experts)
            out.expert_weights[t] = w.detach()
            inner = [mix(w, [stack[d] for stack in stacks]) for d in range(len(stacks[0]) - 1)] if every_layer else []
            layers[t] = bottom + inner + [mix(w, tops)]
        return layers

    def _ple_layers(self, bottom, lengths, mask, split_shared, out: Output) -> dict:
        """The shared encoder's layers, then each extraction level's output for the task (Tang et al. 2020)."""
        tasks, u = list(self.tasks), bottom[-1]
        task_in, shared_in, path = {t: u for t in tasks}, u, {t: list(bottom) for t in tasks}
        for level in self.levels[:-1]:
            shared_out = [expert(shared_in, lengths)[-1] for expert in level.shared]
            own = {t: [expert(task_in[t], lengths)[-1] for expert in level.own[t]] for t in tasks}
            shared_in = mix(level.shared_gate(shared_in, mask), [o for t in tasks for o in own[t]] + shared_out)
            task_in = {t: mix(level.gates[t](task_in[t], mask), own[t] + shared_out) for t in tasks}
            for t in tasks:
                path[t].append(task_in[t])
        top = self.levels[-1]
        shared_out = [expert(shared_in, lengths)[-1] for expert in top.shared]
        inputs = [u] if len(self.levels) == 1 else [task_in[t] for t in tasks]     # what the top's own modules read
        leaves = self._share(inputs + shared_out, split_shared, out)
        task_in = {t: leaves[0] if len(self.levels) == 1 else leaves[i] for i, t in enumerate(tasks)}
        shared_out = leaves[len(inputs):]
        for t in tasks:
            own = [expert(task_in[t], lengths)[-1] for expert in top.own[t]]
            w = top.gates[t](task_in[t], mask)                                   # (batch, task_experts + experts)
            out.expert_weights[t] = w.detach()
            path[t].append(mix(w, own + shared_out))
        return path

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
        """Each encoder layer's output (batch, frames / frame_pool, width) as ``task`` sees it (its tower, if any).

        ``mmoe``: the shared layers, then the experts' layers mixed by the task's gate; ``ple``: each extraction
        level's output for the task; ``mtan``: the task's attended features, or the shared ones for task None.
        """
        if self.sharing in PER_TASK_LAYERS:
            check_choice("task (this model's layers differ per task)", task, tuple(self.tasks))
        elif self.sharing == "mtan" and task is not None:            # mtan: any task, or None for the shared layers
            check_choice("task", task, tuple(self.tasks))
        feats, lengths = pool_frames(feats, lengths, self.frame_pool)
        if self.sharing in ("mmoe", "ple") or (self.sharing == "mtan" and task is not None):
            mask = frame_mask(lengths, feats.shape[1])
            return self._task_layers(feats, lengths, mask, False, Output(logits={}), every_layer=True)[task]
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
