"""Notebook 06's exercises: one MAML inner step with torch.func (Finn et al. 2017) and prototypical-network
logits (Snell et al. 2017)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from .core import Exercise, Failed, register, run


def proto_logits(support: torch.Tensor, labels: torch.Tensor, query: torch.Tensor, n_way: int) -> torch.Tensor:
    """support (N*K, D), labels (N*K,), query (Q, D) -> logits (Q, N): minus squared distance to each class mean."""
    prototypes = torch.stack([support[labels == c].mean(0) for c in range(n_way)])     # (N, D)
    return -torch.cdist(query, prototypes) ** 2


def _check_proto(fn, reference) -> str:
    support = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0], [0.0, 6.0]])
    labels = torch.tensor([0, 0, 1, 1])                          # prototypes (1, 0) and (0, 5)
    query = torch.tensor([[1.0, 1.0]])
    out = run(fn, support, labels, query, 2, what="the 2-way 2-shot example of the statement")
    if not isinstance(out, torch.Tensor) or out.shape != (1, 2):
        raise Failed(f"return (Q, N) logits, here (1, 2); got {getattr(out, 'shape', type(out).__name__)}")
    expected = torch.tensor([[-1.0, -17.0]])                     # -||(1,1)-(1,0)||^2, -||(1,1)-(0,5)||^2
    if torch.allclose(out, -expected):
        raise Failed("the signs are flipped: a logit must be *larger* for a closer prototype (use minus the distance)")
    if torch.allclose(out, expected.neg().sqrt().neg()):
        raise Failed("use the *squared* Euclidean distance: query (1, 1) should score -1 and -17, "
                     f"got {out.tolist()}")
    if not torch.allclose(out, expected, atol=1e-5):
        raise Failed(f"query (1, 1) against prototypes (1, 0) and (0, 5) should score [-1, -17], got {out.tolist()}; "
                     "a prototype is the *mean* of its class's support embeddings")
    for seed in range(3):
        g = torch.Generator().manual_seed(seed)
        k = 3 + seed
        s, q = torch.randn(5 * k, 8, generator=g), torch.randn(7, 8, generator=g)
        y = torch.arange(5).repeat_interleave(k)[torch.randperm(5 * k, generator=g)]      # classes in any order
        mine = run(fn, s, y, q, 5, what=f"a 5-way {k}-shot episode (seed {seed})")
        if not torch.allclose(mine, reference(s, y, q, 5), atol=1e-4):
            raise Failed(f"on a 5-way {k}-shot episode with shuffled support order (seed {seed}) your logits differ "
                         "from the reference: pick each class's support rows by its label, not by position")
    return "the worked 2-way example, the sign, squared distances, means, and 3 shuffled 5-way episodes"


register(Exercise(
    name="proto_logits", notebook="06_maml_fast_adaptation",
    statement=("A prototypical network represents each class by the mean of its support embeddings (its "
               "prototype) and scores a query by minus its squared Euclidean distance to each prototype. Given "
               "support embeddings, their labels 0..N-1 (in any order) and query embeddings, return the logits."),
    signature=("def proto_logits(support: torch.Tensor, labels: torch.Tensor, query: torch.Tensor, n_way: int)"
               " -> torch.Tensor:   # (N*K, D), (N*K,), (Q, D) -> (Q, N)"),
    reference=proto_logits, checker=_check_proto,
    hints=["prototypes[c] = support[labels == c].mean(0), for c in range(n_way).",
           "torch.cdist(query, prototypes) gives the (Q, N) Euclidean distances.",
           "The logits are minus the squared distances."]))


def maml_inner_step(model: nn.Module, params: dict, x: torch.Tensor, y: torch.Tensor, lr: float) -> dict:
    """params {name: tensor}, support x (K, D), y (K,) -> adapted {name: theta - lr * grad L_S(theta)}, graph kept."""
    loss = F.cross_entropy(functional_call(model, params, (x,)), y)
    grads = torch.autograd.grad(loss, list(params.values()), create_graph=True)
    return {name: p - lr * g for (name, p), g in zip(params.items(), grads)}


def _net(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))


def _episode(seed: int):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(6, 4, generator=g), torch.arange(3).repeat(2),
            torch.randn(9, 4, generator=g), torch.arange(3).repeat(3))


def _meta_gradient(model, theta, adapted, x_q, y_q):
    """The gradient of the query loss at the adapted parameters with respect to theta (None where cut off)."""
    loss = F.cross_entropy(functional_call(model, adapted, (x_q,)), y_q)
    if not loss.requires_grad:
        return [None] * len(theta)
    return torch.autograd.grad(loss, list(theta.values()), allow_unused=True)


def _first_order(model, theta, x, y, lr):
    loss = F.cross_entropy(functional_call(model, theta, (x,)), y)
    grads = torch.autograd.grad(loss, list(theta.values()))
    return {k: p - lr * g for (k, p), g in zip(theta.items(), grads)}


def _check_inner_step(fn, reference) -> str:
    checked = 0
    for seed, lr in ((0, 0.5), (1, 0.1), (2, 1.0)):
        model = _net(seed)
        theta = {k: v.detach().clone().requires_grad_() for k, v in model.named_parameters()}
        before = {k: v.detach().clone() for k, v in theta.items()}
        x, y, x_q, y_q = _episode(seed)
        what = f"a Linear(4, 8)-Tanh-Linear(8, 3) network, 6 support examples, lr {lr} (seed {seed})"
        try:
            mine = run(fn, model, theta, x, y, lr, what=what)
        except Failed as failure:
            if "not have been used in the graph" in str(failure):
                raise Failed(f"{failure}. The loss does not depend on params: call the network as "
                             "functional_call(model, params, (x,)), not model(x)") from None
            raise
        if not isinstance(mine, dict) or set(mine) != set(theta):
            raise Failed(f"return a dict with the same names as params ({', '.join(theta)}); got "
                         f"{sorted(mine) if isinstance(mine, dict) else type(mine).__name__}")
        if any(not torch.equal(theta[k].detach(), before[k]) for k in theta):
            raise Failed("your step changed params in place; build new tensors (theta - lr * g) and leave theta as it is")
        ref = reference(model, theta, x, y, lr)
        grads = {k: (before[k] - ref[k].detach()) / lr for k in theta}
        if all(torch.allclose(mine[k].detach(), before[k] + lr * grads[k], atol=1e-5) for k in theta):
            raise Failed(f"you stepped *up* the gradient: theta' = theta - lr * grad L_S(theta), a minus (on {what})")
        summed = reference(model, theta, x, y, lr * len(y))          # the step of the summed loss
        if all(torch.allclose(mine[k].detach(), summed[k].detach(), atol=1e-5) for k in theta):
            raise Failed(f"your step is {len(y)} times too long: the support loss is the *mean* cross-entropy over "
                         f"the {len(y)} examples (F.cross_entropy's default), not the sum (on {what})")
        for k in theta:
            if not torch.allclose(mine[k].detach(), ref[k].detach(), atol=1e-5):
                raise Failed(f"the adapted {k!r} differs from theta - lr * grad by up to "
                             f"{float((mine[k].detach() - ref[k].detach()).abs().max()):.2e} (on {what}); the loss "
                             "is F.cross_entropy(functional_call(model, params, (x,)), y)")
        meta = _meta_gradient(model, theta, mine, x_q, y_q)
        if any(g is None for g in meta):
            missing = [k for k, g in zip(theta, meta) if g is None]
            raise Failed(f"the meta-gradient is None for {', '.join(missing)}: your adapted parameters are cut off "
                         "from theta. Do not .detach() them or build them under torch.no_grad(); compute "
                         "theta - lr * g from the params tensors themselves")
        right = _meta_gradient(model, theta, ref, x_q, y_q)
        first = _meta_gradient(model, theta, _first_order(model, theta, x, y, lr), x_q, y_q)
        if all(torch.allclose(a, b, atol=1e-6) for a, b in zip(meta, first)):
            raise Failed("your inner step does not keep the graph of the inner gradient: the meta-gradient is the "
                         "first-order one (no second derivatives). Did you pass create_graph=True to "
                         "torch.autograd.grad?")
        for k, a, b in zip(theta, meta, right):
            if not torch.allclose(a, b, atol=1e-5):
                raise Failed(f"the meta-gradient for {k!r} differs from the second-order one by up to "
                             f"{float((a - b).abs().max()):.2e} (on {what})")
        checked += 1
    return (f"the adapted parameters and the second-order meta-gradient of {checked} episodes (lr 0.5, 0.1, 1.0), "
            "with params left unchanged")


register(Exercise(
    name="maml_inner_step", notebook="06_maml_fast_adaptation",
    statement=("Write one MAML inner step as a function of the parameters: with params a dict {name: tensor}, "
               "compute the mean cross-entropy of functional_call(model, params, (x,)) on the support set, its "
               "gradient with respect to every tensor of params, and return the adapted dict "
               "{name: theta - lr * grad}. Keep the graph of the gradient, so that the query loss at the adapted "
               "parameters can be differentiated with respect to theta (MAML's second-order meta-gradient)."),
    signature=("def maml_inner_step(model: nn.Module, params: dict, x: torch.Tensor, y: torch.Tensor, lr: float)"
               " -> dict:   # {name: tensor}, (K, D), (K,), float -> {name: tensor}"),
    reference=maml_inner_step, checker=_check_inner_step,
    hints=["loss = F.cross_entropy(torch.func.functional_call(model, params, (x,)), y)",
           "grads = torch.autograd.grad(loss, list(params.values()), create_graph=True): without create_graph the "
           "gradient is a constant and the second derivatives are lost.",
           "Return {name: p - lr * g for (name, p), g in zip(params.items(), grads)}."]))
