"""Notebook 05's exercise: a gradient-reversal layer as a torch.autograd.Function (Ganin & Lempitsky 2015)."""
from __future__ import annotations

import torch

from .core import Exercise, Failed, register, run


def reverse_gradient(x: torch.Tensor, strength: float) -> torch.Tensor:
    """x (any shape) -> x unchanged; backward multiplies the incoming gradient by -strength."""

    class Reverse(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.view_as(x)

        @staticmethod
        def backward(ctx, grad):
            return -strength * grad

    return Reverse.apply(x)


def _check_reversal(fn, reference) -> str:
    x = torch.tensor([0.5, -2.0, 3.0], requires_grad=True)
    v = torch.tensor([1.0, 2.0, -1.0])
    out = run(fn, x, 0.3, what="x = (0.5, -2, 3), strength 0.3")
    if not isinstance(out, torch.Tensor) or out.shape != x.shape or not torch.allclose(out.detach(), x.detach()):
        raise Failed(f"the forward pass must return x unchanged; got {out!r} for x = {x.detach().tolist()}")
    if not out.requires_grad:
        raise Failed("the output does not require a gradient: the reversal must sit *in* the graph "
                     "(a torch.autograd.Function's apply), not detach it")
    (grad,) = torch.autograd.grad((out * v).sum(), x)
    expected = -0.3 * v
    if torch.allclose(grad, v):
        raise Failed("the gradient came through unchanged: backward must return -strength * grad")
    if torch.allclose(grad, -v):
        raise Failed("the gradient is negated but not scaled: multiply by strength (0.3 here) too")
    if not torch.allclose(grad, expected):
        raise Failed(f"backward gave {grad.tolist()} for an incoming gradient {v.tolist()} and strength 0.3; "
                     f"expected {expected.tolist()}")
    y = torch.randn(2, 3, requires_grad=True)
    (g2,) = torch.autograd.grad(run(fn, y, 2.0, what="a (2, 3) tensor, strength 2").pow(2).sum(), y)
    if not torch.allclose(g2, -2.0 * 2 * y.detach()):
        raise Failed("with strength 2 on a (2, 3) tensor the gradient of sum(out^2) should be -2 * 2x")
    return "forward is the identity, backward multiplies by -strength (0.3 and 2), and the output stays in the graph"


register(Exercise(
    name="gradient_reversal", notebook="05_embedding_explorer",
    statement=("A gradient-reversal layer is the identity on the way forward and multiplies the gradient by "
               "-strength on the way back, so that the layers below it learn to *fool* the classifier above. "
               "Write it as a torch.autograd.Function (static forward and backward) and return its apply(x)."),
    signature="def reverse_gradient(x: torch.Tensor, strength: float) -> torch.Tensor:   # same shape as x",
    reference=reverse_gradient, checker=_check_reversal,
    hints=["class Reverse(torch.autograd.Function) with @staticmethod forward(ctx, x) and backward(ctx, grad).",
           "forward returns x.view_as(x) (a new tensor, so autograd records the function).",
           "backward returns -strength * grad: one gradient per input of forward."]))
