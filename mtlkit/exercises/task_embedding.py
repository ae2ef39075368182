"""Notebook 07's exercise: FiLM from the task embedding, then the head initialised at the class means."""
from __future__ import annotations

import torch

from .core import Exercise, Failed, register, run


def film_head(h_s: torch.Tensor, labels: torch.Tensor, n_way: int, film_weight: torch.Tensor,
              film_bias: torch.Tensor) -> tuple:
    """h_s (N*K, D), labels (N*K,), film_weight (2D, D), film_bias (2D,) -> initial head w (N, D), b (N,)."""
    z = h_s.mean(0)                                               # (D,) the task embedding
    gamma, beta = (film_weight @ z + film_bias).chunk(2)          # (D,) each
    f = h_s * (1 + gamma) + beta                                  # (N*K, D) FiLM-ed support features
    mu = torch.stack([f[labels == c].mean(0) for c in range(n_way)])
    return mu, -(mu ** 2).sum(-1) / 2


def _means(f, labels, n_way):
    return torch.stack([f[labels == c].mean(0) for c in range(n_way)])


def _wrong_weights(h, labels, n_way, weight, bias) -> dict:
    """The class means that realistic mistakes give, by what the student should fix."""
    z = h.mean(0)
    gamma, beta = (weight @ z + bias).chunk(2)
    n = len(h) // n_way
    return {
        "scale by (1 + gamma), not by gamma: tilde f = f * (1 + gamma) + beta, so that gamma = beta = 0 leaves "
        "the features unchanged": _means(h * gamma + beta, labels, n_way),
        "the first half of film_weight @ z + film_bias is gamma (the scale), the second half beta (the shift)":
            _means(h * (1 + beta) + gamma, labels, n_way),
        "the class means must be taken of the FiLM-ed features tilde f, not of the raw h_s":
            _means(h, labels, n_way),
        "the task embedding z is the *mean* of the support embeddings, not their sum":
            _means(h * (1 + (weight @ h.sum(0) + bias).chunk(2)[0]) + (weight @ h.sum(0) + bias).chunk(2)[1],
                   labels, n_way),
        "pick each class's rows by its label (labels == c), not by position":
            (h * (1 + gamma) + beta).view(n_way, n, -1).mean(1),
    }


def _check_film(fn, reference) -> str:
    for seed in range(3):
        g = torch.Generator().manual_seed(seed)
        n_way, k, d = 3, 2 + seed, 4
        h = torch.randn(n_way * k, d, generator=g)
        labels = torch.arange(n_way).repeat_interleave(k)[torch.randperm(n_way * k, generator=g)]
        weight, bias = 0.5 * torch.randn(2 * d, d, generator=g), 0.5 * torch.randn(2 * d, generator=g)
        what = f"a {n_way}-way {k}-shot support set of {d}-dimensional embeddings (torch.randn, seed {seed})"
        out = run(fn, h, labels, n_way, weight, bias, what=what)
        if not (isinstance(out, tuple) and len(out) == 2 and all(isinstance(t, torch.Tensor) for t in out)):
            raise Failed(f"return a pair (w, b) of tensors; got {type(out).__name__}")
        w, b = out
        if w.shape != (n_way, d) or b.shape != (n_way,):
            raise Failed(f"w must be (N, D) = ({n_way}, {d}) and b (N,) = ({n_way},); got {tuple(w.shape)} and "
                         f"{tuple(b.shape)}")
        ref_w, ref_b = reference(h, labels, n_way, weight, bias)
        if not torch.allclose(w, ref_w, atol=1e-5):
            for advice, wrong in _wrong_weights(h, labels, n_way, weight, bias).items():
                if torch.allclose(w, wrong, atol=1e-5):
                    raise Failed(f"w is not the FiLM-ed class means: {advice} (on {what})")
            raise Failed(f"w differs from the FiLM-ed class means by up to {float((w - ref_w).abs().max()):.3f} "
                         f"(on {what})")
        if torch.allclose(b, -ref_b, atol=1e-5):
            raise Failed("b has the wrong sign: b_c = -||mu_c||^2 / 2, so that a query far from mu_c scores low")
        if torch.allclose(b, 2 * ref_b, atol=1e-5):
            raise Failed("b_c = -||mu_c||^2 / 2: you forgot the 1/2 (with it, the logits are minus half the squared "
                         "distance, up to a term shared by all classes)")
        if torch.allclose(b, -w.norm(dim=-1) / 2, atol=1e-5):
            raise Failed("b_c = -||mu_c||^2 / 2 uses the *squared* norm of the class mean")
        if not torch.allclose(b, ref_b, atol=1e-5):
            raise Failed(f"b should be -||mu_c||^2 / 2 = {[round(v, 3) for v in ref_b.tolist()]}, got "
                         f"{[round(v, 3) for v in b.tolist()]} (on {what})")
    return "w and b on 3 support sets (3-way, 2 to 4 shots, shuffled order, random FiLM weights)"


register(Exercise(
    name="film_head", notebook="07_task_embeddings",
    statement=("The pipeline's first three stages for one task. The task embedding is z = the mean of the support "
               "embeddings h_s; the meta-learner is one linear layer, film_weight @ z + film_bias, whose first half "
               "is gamma and second half beta; the FiLM-ed features are tilde f = h_s * (1 + gamma) + beta. The "
               "initial head is w_c = mu_c, the mean of tilde f over the support rows of class c, and "
               "b_c = -||mu_c||^2 / 2. Return (w, b)."),
    signature=("def film_head(h_s, labels, n_way, film_weight, film_bias) -> tuple:"
               "   # (N*K, D), (N*K,), int, (2D, D), (2D,) -> w (N, D), b (N,)"),
    reference=film_head, checker=_check_film,
    hints=["z = h_s.mean(0); gamma, beta = (film_weight @ z + film_bias).chunk(2)",
           "f = h_s * (1 + gamma) + beta, then mu = torch.stack([f[labels == c].mean(0) for c in range(n_way)])",
           "b = -(mu ** 2).sum(-1) / 2"]))
