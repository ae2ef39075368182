"""Notebook 06's exercise: prototypical-network logits (Snell et al. 2017)."""
from __future__ import annotations

import torch

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
