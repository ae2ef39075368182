"""A learn2learn-style object API over the functional core: ``MAML(model, lr).clone().adapt(loss)``.

Code written for ``learn2learn.algorithms.MAML`` reads the same::

    maml = MAML(model, lr=0.5, first_order=False)
    learner = maml.clone()                       # parameters that stay connected to maml's
    learner.adapt(F.cross_entropy(learner(x_s, len_s), y_s))
    F.cross_entropy(learner(x_q, len_q), y_q).backward()   # meta-gradient lands in model's .grad

Introduced in notebooks/06_maml_fast_adaptation.ipynb.
"""
from __future__ import annotations

import contextlib
import importlib
import io
import sys

import torch
from torch import nn
from torch.func import functional_call


class Learner:
    """A differentiable copy of a model's parameters; ``adapt`` takes a gradient step, calling runs the model."""

    def __init__(self, model: nn.Module, params: dict, lr: float, first_order: bool):
        self.model, self.params, self.lr, self.first_order = model, params, lr, first_order

    def adapt(self, loss: torch.Tensor) -> "Learner":
        """theta' = theta - lr * grad(loss) (second order keeps the graph of the gradient)."""
        if not torch.isfinite(loss):
            raise FloatingPointError(f"adaptation loss is {loss.item()}; lower the inner learning rate")
        names = [k for k, p in self.params.items() if p.requires_grad]
        grads = torch.autograd.grad(loss, [self.params[k] for k in names], create_graph=not self.first_order,
                                    allow_unused=True)
        for k, g in zip(names, grads):
            if g is not None:
                self.params[k] = self.params[k] - self.lr * g
        return self

    def __call__(self, *args):
        return functional_call(self.model, (self.params, dict(self.model.named_buffers())), args)

    def parameters(self):
        return iter(self.params.values())


class MAML(nn.Module):
    """Wraps a model for MAML; ``first_order=True`` drops the second-order terms of the meta-gradient."""

    def __init__(self, model: nn.Module, lr: float, first_order: bool = False):
        super().__init__()
        if lr <= 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        self.module, self.lr, self.first_order = model, lr, first_order

    def forward(self, *args):
        return self.module(*args)

    def clone(self) -> Learner:
        """A Learner whose parameters are (differentiable) copies of this model's."""
        return Learner(self.module, {k: p.clone() for k, p in self.module.named_parameters()}, self.lr,
                       self.first_order)


def import_learn2learn():
    """``import learn2learn``, without the notice gym prints on import; other output and warnings pass through."""
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            return importlib.import_module("learn2learn")
    finally:
        sys.stderr.write(_without_gym_notice(captured.getvalue()))


def _without_gym_notice(text: str) -> str:
    """``text`` with gym's "Gym has been unmaintained" notice (the one of the installed gym_notices) removed."""
    try:
        from gym_notices.notices import notices
    except Exception:   # gym_notices absent or changed: remove nothing
        return text
    for notice in set(notices.values()):
        text = text.replace(notice + "\n", "")
    return text
