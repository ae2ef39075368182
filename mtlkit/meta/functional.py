"""MAML's inner and outer loop on torch.func: parameters in a dict, a functional forward, vmap over tasks.

    theta_i' = theta - alpha * grad L_support_i(theta)        (``steps`` times; alpha per parameter: Meta-SGD)
    meta-loss = mean_i L_query_i(theta_i')                     (backpropagated to theta: second order,
                                                                unless first_order detaches the inner gradients)
Introduced in notebooks/06_maml_fast_adaptation.ipynb.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.func import functional_call, grad, vmap
from torch.utils._pytree import tree_leaves, tree_map

from ..device import model_device, to_device
from .model import can_vmap

KEYS = ("x_s", "len_s", "y_s", "x_q", "len_q", "y_q")
"""The meta-batch tensors, each with a leading task dimension (see EpisodeSampler.tensors)."""


def over_tasks(fn, *args, vectorize: bool = True, chunk_size: int | None = None):
    """``fn`` on each task's slice of ``args`` (tensors, or dicts of tensors, with a leading task dimension).

    vmap when ``vectorize`` (``chunk_size`` tasks at a time), else a Python loop; the results are stacked.
    """
    if vectorize:
        return vmap(fn, chunk_size=chunk_size)(*args)
    outs = [fn(*tree_map(lambda a: a[i], args)) for i in range(len(tree_leaves(args)[0]))]
    return tree_map(lambda *xs: torch.stack(xs), *outs)


def use_vmap(model, vectorize: bool | None) -> bool:
    """Whether to vmap over tasks: ``vectorize``, or when None whether the model allows it (no LSTM)."""
    vectorize = can_vmap(model) if vectorize is None else vectorize
    if vectorize and not can_vmap(model):
        raise ValueError("this model holds an LSTM, which has no vmap batching rule; use vectorize=False")
    return vectorize


def loss_fn(model, params: dict, buffers: dict, x, lengths, y) -> torch.Tensor:
    """Cross-entropy of the model run with ``params`` on one task's (batch, frames, n) features."""
    return F.cross_entropy(functional_call(model, (params, buffers), (x, lengths)), y)


def adapt(model, params: dict, buffers: dict, x, lengths, y, steps: int, lr: float, first_order: bool = False,
          names=None, lrs: dict | None = None) -> dict:
    """Fast adaptation: ``steps`` gradient steps on the support set; only ``names`` move (ANIL: the head).

    ``lrs`` (Meta-SGD) gives a learning rate per parameter, same shape as it; otherwise ``lr`` for all.
    """
    names = list(params) if names is None else list(names)
    for _ in range(steps):
        fixed = {k: v for k, v in params.items() if k not in names}
        moving = {k: params[k] for k in names}
        g = grad(lambda p: loss_fn(model, {**fixed, **p}, buffers, x, lengths, y))(moving)
        if first_order:
            g = {k: v.detach() for k, v in g.items()}
        params = {**params, **{k: moving[k] - (lrs[k] if lrs is not None else lr) * g[k] for k in names}}
    return params


def adapt_context(model, params: dict, buffers: dict, x, lengths, y, steps: int, lr: float,
                  first_order: bool = False) -> list:
    """CAVIA's inner loop on one task: phi_0 = 0, then phi_{s+1} = phi_s - lr * dL_support(theta, phi_s)/dphi.

    ``model`` takes the context as its third input (a :class:`~mtlkit.meta.model.ContextNet`); theta
    (``params``) is only read, never moved. Returns [phi_0, ..., phi_steps], each (context,).
    Introduced in notebooks/07_task_embeddings.ipynb.
    """
    weight = params["film.weight"]
    phi = torch.zeros(model.context_size, dtype=weight.dtype, device=weight.device)
    phis = [phi]
    for _ in range(steps):
        g = grad(lambda c: F.cross_entropy(functional_call(model, (params, buffers), (x, lengths, c)), y))(phi)
        phi = phi - lr * (g.detach() if first_order else g)
        phis.append(phi)
    return phis


def query_loss(model, params, buffers, x_s, len_s, y_s, x_q, len_q, y_q, **adapt_options) -> torch.Tensor:
    """One task: adapt on the support set, return the loss of the adapted parameters on the query set."""
    adapted = adapt(model, params, buffers, x_s, len_s, y_s, **adapt_options)
    return loss_fn(model, adapted, buffers, x_q, len_q, y_q)


def meta_loss(model, params: dict, buffers: dict, batch: dict, vectorize: bool | None = None,
              chunk_size: int | None = None, **adapt_options) -> torch.Tensor:
    """Mean query loss over a meta-batch (tensors with a leading task dimension, see EpisodeSampler.tensors).

    ``vectorize=None`` picks vmap when the model allows it (no LSTM) and a per-task loop otherwise;
    ``chunk_size`` bounds how many tasks vmap runs at once (memory). The batch is moved to the model's device.
    """
    batch = to_device(batch, model_device(model))
    vectorize = use_vmap(model, vectorize)
    task = lambda *t: query_loss(model, params, buffers, *t, **adapt_options)   # noqa: E731
    return over_tasks(task, *(batch[k] for k in KEYS), vectorize=vectorize, chunk_size=chunk_size).mean()


def accuracy_curve(model, params: dict, buffers: dict, batch: dict, steps: int, lr: float, names=None,
                   lrs: dict | None = None, vectorize: bool | None = None, chunk_size: int | None = None,
                   per_task: dict | None = None):
    """(tasks, steps + 1) query accuracy after 0, 1, ..., ``steps`` adaptation steps (no meta-gradient).

    ``per_task`` maps parameter names to (tasks, ...) tensors that replace ``params`` task by task (e.g. a
    head initialised differently for each episode). The batch is moved to the model's device.
    """
    batch = to_device(batch, model_device(model))
    vectorize = use_vmap(model, vectorize)
    params = {k: v.detach() for k, v in params.items()}
    lrs = None if lrs is None else {k: v.detach() for k, v in lrs.items()}
    per_task = {k: v.detach() for k, v in (per_task or {}).items()}

    def task(own, x_s, len_s, y_s, x_q, len_q, y_q):
        accs, p = [], {**params, **own}
        for step in range(steps + 1):
            logits = functional_call(model, (p, buffers), (x_q, len_q))
            accs.append((logits.argmax(-1) == y_q).float().mean())
            if step < steps:
                p = adapt(model, p, buffers, x_s, len_s, y_s, 1, lr, True, names, lrs)
        return torch.stack(accs)

    return over_tasks(task, per_task, *(batch[k] for k in KEYS), vectorize=vectorize, chunk_size=chunk_size)
