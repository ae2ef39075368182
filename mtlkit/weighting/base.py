"""The one interface every loss-weighting method follows: task losses (and gradients) in, a Combination out.

Two families share it:

- weight-based methods (equal, fixed, uncertainty, dwa, rlw, gradnorm) return ``loss = sum_i w_i L_i`` (plus a
  regulariser for uncertainty); the trainer calls ``loss.backward()``.
- gradient-based methods (pcgrad, mgda, cagrad, imtl_g, nash_mtl) set ``needs_grads = True``, read the per-task
  gradients ``grads`` (T, D) and return ``direction`` (D,), the gradient to push into the shared encoder; ``loss``
  is None. The task-specific heads get their own *unweighted* gradients (backpropagate ``losses.sum()`` into the
  heads only).

Where the gradients are taken (``grad_on``; each class states its default, which ``fit(grad_on=...)`` overrides):
'representation', the shared encoder's output (MGDA-UB and IMTL-G are defined so; it costs one backward through
the heads per task), or 'parameters', the shared encoder's weights (PCGrad, CAGrad, Nash-MTL and GradNorm are
defined so; it costs one backward through the encoder per task, 2-3x an equal step for 4 tasks, so their
default stays 'representation'). LibMTL refuses PCGrad, CAGrad and Nash-MTL on the representation
(``rep_grad=True``).

gradnorm is the one hybrid: it needs ``grads`` to update its weights, but returns ``loss = sum_i w_i L_i`` and no
``direction``; its shared gradient is ``weights @ grads`` (the same as backpropagating ``loss``). With gradients
on the representation a trainer does, e.g.::

    shared = features.detach().requires_grad_()          # the encoder's output, cut from the encoder
    losses = torch.stack([loss_fn(head(shared)) for head, loss_fn in ...])                      # (T,)
    grads = torch.stack([torch.autograd.grad(l, shared, retain_graph=True)[0].flatten() for l in losses])
    out = weighting(losses, grads)
    losses.sum().backward()                              # heads: their own unweighted gradients
    direction = out.direction if out.direction is not None else out.weights @ grads   # gradnorm: no direction
    features.backward(direction.view_as(features))       # encoder: the combined gradient

Scale of ``weights``: equal weighting reads 1 per task for every method that fixes the weights only up to a
factor (mgda, imtl_g, dwa, rlw and gradnorm sum to T; pcgrad records effective weights, 1 without conflicts);
cagrad follows its paper and starts from the *mean* gradient (c=0 gives 1/T each); nash_mtl's scale is set by
its equation (alpha_i = 1/||g_i|| for orthogonal g_i). For gradient-based methods ``direction == weights @ grads``.
"""
from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

GRAD_ON = ("representation", "parameters")
"""Where task gradients are taken: the shared encoder's output, or its parameters."""


@dataclass
class Combination:
    """What a weighting returns: task weights (T,), a scalar loss to backpropagate, or a direction (D,)."""

    weights: Tensor
    loss: Tensor | None = None
    direction: Tensor | None = None


class Weighting(nn.Module):
    """Combine T task losses (T,) and, for gradient-based methods, their gradients (T, D) on the shared encoder.

    Introduced in notebooks/04_loss_weighting.ipynb.
    """

    needs_grads: bool = False
    grad_on: str = "representation"
    """Granularity of the gradients the method combines (its paper's); for weight-based methods, of the diagnostics."""
    max_tasks: int | None = None
    """The most tasks the method's exact solver handles (it tries all 2^T - 1 supports); None: no limit."""

    def __init__(self, tasks: list[str], **options):
        super().__init__()
        if options:
            raise ValueError(f"unknown option(s) for {type(self).__name__}: {', '.join(options)}")
        self.tasks = list(tasks)
        if not self.tasks or len(set(self.tasks)) != len(self.tasks):
            raise ValueError(f"tasks must be a non-empty list of distinct names, got {tasks!r}")
        if self.max_tasks is not None and len(self.tasks) > self.max_tasks:
            raise ValueError(f"{type(self).__name__}'s exact solver handles up to {self.max_tasks} tasks, "
                             f"got T={len(self.tasks)}")

    @property
    def num_tasks(self) -> int:
        """T, the number of tasks."""
        return len(self.tasks)

    def forward(self, losses: Tensor, grads: Tensor | None = None) -> Combination:
        """Losses (T,) with graph, grads (T, D) or None -> Combination."""
        raise NotImplementedError

    def epoch_end(self, epoch_losses: Tensor) -> None:
        """Receive the mean training loss per task (T,) of the epoch just ended; the default ignores it."""

    def extra_repr(self) -> str:
        return f"tasks={self.tasks}"


def weighted_sum(weights: Tensor, losses: Tensor) -> Combination:
    """Weights (T,) and losses (T,) -> Combination with ``loss = sum_i w_i L_i`` and the weights detached."""
    weights = weights.to(losses)
    return Combination(weights=weights.detach(), loss=(weights * losses).sum())


def combine(weights: Tensor, grads: Tensor) -> Combination:
    """Weights (T,) and task gradients (T, D) -> Combination with ``direction = sum_i w_i g_i`` (D,)."""
    weights = weights.detach().to(grads)
    return Combination(weights=weights, direction=weights @ grads)


def check_grads(grads: Tensor | None, num_tasks: int) -> Tensor:
    """Return ``grads`` (T, D) detached, or raise a clear error when the trainer did not pass them."""
    if grads is None or grads.dim() != 2 or grads.shape[0] != num_tasks:
        shape = None if grads is None else tuple(grads.shape)
        raise ValueError(f"this weighting needs grads of shape (T={num_tasks}, D), got {shape}")
    return grads.detach()


def gram(grads: Tensor) -> Tensor:
    """Task gradients (T, D) -> their dot products G G^T (T, T), in float64 on the CPU where the small solvers run."""
    g = grads.detach().double()
    return (g @ g.T).cpu()
