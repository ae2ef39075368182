"""The few-shot learner: a CNN (or the multi-task core's CNN + BiLSTM) encoder, mean pooling and a linear head."""
from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import nn

from ..config import check_choice
from ..models.encoder import ConvBlock, Encoder, frame_mask, pooled_lengths

ENCODERS = ("cnn", "cnn_lstm")
"""``cnn``: two conv blocks (vmappable: tasks of a meta-batch run in parallel). ``cnn_lstm``: the multi-task
core's encoder; ``nn.LSTM`` has no vmap rule, so its tasks run one after another."""
NORMS = ("layer", "batch")
"""Normalisation in the CNN: LayerNorm (no statistics) or BatchNorm handled for MAML (see MetaBatchNorm)."""


class LayerNorm(nn.LayerNorm):
    """nn.LayerNorm with its scale and shift applied outside the fused op: (..., width) -> (..., width), same numbers.

    Under vmap, the second derivative of the fused ``native_layer_norm`` *with* weight and bias is wrong in
    torch 2.11 (measured: MAML meta-gradients 1e-3 off the per-task loop); without them it is exact (1e-17 in
    float64), so the meta-learner normalises with the fused op and scales and shifts after it: MAML's meta-step
    measured 1.26x faster than with the normalisation written out in elementary ops.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, self.normalized_shape, None, None, self.eps) * self.weight + self.bias


class MetaBatchNorm(nn.BatchNorm1d):
    """BatchNorm over (batch, channels, frames) whose running statistics change only inside
    :func:`update_statistics`: never in MAML's inner loop, so adapted copies cannot corrupt them.

    In training mode it normalises with the batch's statistics; in eval mode with the running ones.
    """

    updating = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)
        if self.updating:
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, True,
                                self.momentum, self.eps)
        return F.batch_norm(x, None, None, self.weight, self.bias, True, 0.0, self.eps)


@contextlib.contextmanager
def update_statistics(model: nn.Module):
    """Let the model's MetaBatchNorm layers update their running statistics inside this block."""
    layers = [m for m in model.modules() if isinstance(m, MetaBatchNorm)]
    for m in layers:
        m.updating = True
    try:
        yield
    finally:
        for m in layers:
            m.updating = False


class BatchNormConvBlock(nn.Module):
    """Conv1d + MetaBatchNorm + ReLU: (batch, frames, n_in) -> (batch, frames, width), padding zeroed."""

    def __init__(self, n_in: int, width: int, kernel: int = 5):
        super().__init__()
        self.conv = nn.Conv1d(n_in, width, kernel, padding=kernel // 2)
        self.norm = MetaBatchNorm(width)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.norm(self.conv(x.transpose(1, 2)))).transpose(1, 2)
        return y * frame_mask(lengths, y.shape[1]).unsqueeze(-1)


class MetaNet(nn.Module):
    """features (batch, frames, n_features), lengths (batch,) -> logits (batch, n_way).

    ``embed`` gives the pooled (batch, width) embedding the head (``head``) reads. Introduced in
    notebooks/06_maml_fast_adaptation.ipynb.
    """

    def __init__(self, n_way: int = 5, n_features: int = 40, width: int = 32, encoder: str = "cnn",
                 norm: str = "layer", frame_pool: int = 3):
        super().__init__()
        if frame_pool < 1:
            raise ValueError(f"frame_pool must be >= 1, got {frame_pool}")
        self.frame_pool = frame_pool
        check_choice("encoder", encoder, ENCODERS)
        check_choice("norm", norm, NORMS)
        if encoder == "cnn_lstm" and norm != "layer":
            raise ValueError("the cnn_lstm encoder (the multi-task core's) uses LayerNorm; use norm='layer'")
        self.encoder_kind = encoder
        if encoder == "cnn":
            block = (lambda a, b: ConvBlock(a, b, dropout=0.0, norm=LayerNorm)) if norm == "layer" \
                else BatchNormConvBlock
            self.blocks = nn.ModuleList([block(n_features, width), block(width, width)])
        else:
            self.lstm_encoder = Encoder(n_features, width, dropout=0.0)
        self.head = nn.Linear(width, n_way)

    def embed(self, feats: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(batch, frames, n) -> (batch, width): the encoder's output averaged over the valid frames.

        Frames are first averaged ``frame_pool`` at a time (30 ms frames by default): utterance labels do not
        need 10 ms resolution, and a meta-step costs about a third of one at 10 ms (MAML measured 1.3x faster
        than at 20 ms). At 40 ms it is faster again, but on the tests' preset MAML then fell behind
        fine-tuning (0.41 against 0.53), so 30 ms it is.
        """
        x, lengths = self.pooled(feats, lengths)
        for layer in self.layers():
            x = layer(x, lengths)
        return self.average(x, lengths)

    def pooled(self, feats: torch.Tensor, lengths: torch.Tensor) -> tuple:
        """(batch, frames, n), (batch,) -> the same averaged ``frame_pool`` frames at a time, and their lengths."""
        if self.frame_pool == 1:
            return feats, lengths
        feats = F.avg_pool1d(feats.transpose(1, 2), self.frame_pool, ceil_mode=True).transpose(1, 2)
        return feats, pooled_lengths(lengths, self.frame_pool)

    def layers(self) -> list:
        """The encoder's layers in order, each ``layer(x, lengths)``: (batch, frames, n) -> (batch, frames, width)."""
        if self.encoder_kind == "cnn":
            return list(self.blocks)
        return [lambda x, n, k=k: self.lstm_encoder.stage(k, x, n) for k in range(len(self.lstm_encoder.stages))]

    @staticmethod
    def average(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(batch, frames, width) -> (batch, width): the mean over each utterance's valid frames."""
        mask = frame_mask(lengths, x.shape[1]).unsqueeze(-1)
        return (x * mask).sum(1) / lengths.clamp_min(1).unsqueeze(-1)

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(feats, lengths))


class ContextNet(MetaNet):
    """A MetaNet conditioned on a task context phi: features (batch, frames, n), lengths (batch,), phi (context,)
    -> logits (batch, n_way); CAVIA's network (Zintgraf et al. 2019).

    phi enters by FiLM (Perez et al. 2018) of the first layer's output h (batch, frames, width):
    h -> h * (1 + gamma) + beta, with (gamma, beta) = ``film(phi)``, a linear layer whose bias starts at zero (so
    phi = 0 starts as the identity); padding frames stay zero. FiLM, not concatenation to the input, as the
    paper's convolutional networks do (it FiLMs a middle conv layer of its Mini-Imagenet network): features
    along time are convolved, so a context concatenated to every frame could only shift the first conv's
    output (away from the utterance's ends), while FiLM also scales it, and a conv layer, a nonlinearity and
    the pooling still follow. Unlike the paper, the FiLM comes after the first block's ReLU, not before it
    (the kit's blocks end with their ReLU). The form of the ``task_embedding`` method's FiLM, fed with a
    vector found by gradient descent instead of the mean support embedding. ``context=None`` is phi = 0.
    Introduced in notebooks/07_task_embeddings.ipynb.
    """

    def __init__(self, n_way: int = 5, n_features: int = 40, width: int = 32, encoder: str = "cnn",
                 norm: str = "layer", context: int = 16, frame_pool: int = 3):
        if isinstance(context, bool) or not isinstance(context, int) or context < 1:
            raise ValueError(f"context={context!r}: the context vector needs a whole number of entries >= 1")
        super().__init__(n_way, n_features, width, encoder, norm, frame_pool)
        self.context_size = context
        self.film = nn.Linear(context, 2 * width)
        nn.init.zeros_(self.film.bias)

    def embed(self, feats: torch.Tensor, lengths: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """(batch, frames, n), (batch,), phi (context,) -> (batch, width), the first layer's output FiLM-ed by phi."""
        if context is None:
            context = torch.zeros(self.context_size, dtype=self.film.weight.dtype, device=self.film.weight.device)
        # one row through the linear layer: F.linear's path for a 1-D input failed under vmap and grad on the
        # tests' stand-in GPU tensors (tests/test_device.py)
        gamma, beta = self.film(context[None])[0].chunk(2, -1)             # (width,) each
        x, lengths = self.pooled(feats, lengths)
        for k, layer in enumerate(self.layers()):
            x = layer(x, lengths)
            if k == 0:                                                     # padding stays zero for the next conv
                x = (x * (1 + gamma) + beta) * frame_mask(lengths, x.shape[1]).unsqueeze(-1)
        return self.average(x, lengths)

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.embed(feats, lengths, context))


def can_vmap(model: nn.Module) -> bool:
    """False when the model holds a recurrent layer (``aten::lstm`` has no vmap batching rule)."""
    return not any(isinstance(m, nn.RNNBase) for m in model.modules())
