"""Utterance embeddings from a trained model, 2-D projections (PCA, t-SNE) and linear probes.

Introduced in notebooks/05_embedding_explorer.ipynb.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .config import check_choice
from .device import model_device, to_device, to_numpy
from .models.encoder import frame_mask, pooled_lengths
from .models.multitask import PER_TASK_LAYERS
from .train import batches, features_for

PROJECTIONS = ("pca", "tsne")
"""2-D projections of an embedding."""


@torch.no_grad()
def embed(history, corpus, layer: str = "head", task: str | None = None, batch_size: int = 64) -> np.ndarray:
    """(N, D) embeddings of the corpus's utterances from a trained run (``history.model``).

    ``layer='head'``: what the head of ``task`` classifies (its pooled input); an encoder layer name ('cnn',
    'lstm1', ...): that layer's output averaged over the valid frames (tower models: the tower of ``task``; mmoe,
    ple and, given a task, mtan: the layer as that task reads it).
    """
    model = history.model.eval()
    check_choice("layer", layer, tuple(model.layer_names) + ("head",))
    if layer == "head" or model.sharing in PER_TASK_LAYERS:
        check_choice("task", task, tuple(model.tasks))
    rows, device = [], model_device(model)
    for batch in batches(features_for(history, corpus), batch_size, None):
        feats, lengths = to_device((batch["feats"], batch["lengths"]), device)
        if layer == "head":
            rows.append(model.embed(feats, lengths, task))
        else:
            out = model.layer_outputs(feats, lengths, task)[model.layer_names.index(layer)]
            lengths = pooled_lengths(lengths, model.frame_pool)           # the layers' frame rate
            mask = frame_mask(lengths, out.shape[1]).unsqueeze(-1)
            rows.append((out * mask).sum(1) / lengths[:, None])
    return to_numpy(torch.cat(rows))


def pca(x: np.ndarray, k: int = 2) -> np.ndarray:
    """(N, D) -> (N, k) coordinates on the k directions of largest variance."""
    x = np.asarray(x, float) - np.mean(x, 0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    return x @ vt[:k].T


def _conditional_p(d2: np.ndarray, perplexity: float) -> np.ndarray:
    """Row-wise Gaussian neighbour probabilities whose entropy is log(perplexity) (binary search on 1/2sigma^2)."""
    n, target = len(d2), np.log(perplexity)
    p = np.zeros((n, n))
    for i in range(n):
        d = np.delete(d2[i], i)
        lo, hi, beta = 0.0, np.inf, 1.0 / max(np.median(d), 1e-12)
        for _ in range(64):
            w = np.exp(-(d - d.min()) * beta)
            q = w / w.sum()
            entropy = -(q * np.log(np.maximum(q, 1e-300))).sum()
            if abs(entropy - target) < 1e-5:
                break
            if entropy > target:
                lo, beta = beta, beta * 2 if hi == np.inf else (beta + hi) / 2
            else:
                hi, beta = beta, (beta + lo) / 2
        p[i, np.arange(n) != i] = q
    return p


def tsne(x: np.ndarray, perplexity: float = 30.0, steps: int = 750, seed: int = 0) -> np.ndarray:
    """(N, D) -> (N, 2) t-SNE (exact gradients; van der Maaten & Hinton 2008), for a few hundred points."""
    x = np.asarray(x, float)
    n = len(x)
    if n < 4:
        raise ValueError(f"t-SNE needs at least 4 points, got {n}")
    perplexity = min(perplexity, (n - 1) / 3)
    d2 = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    p = _conditional_p(d2, perplexity)
    p = np.maximum((p + p.T) / (2 * n), 1e-12)
    y = np.random.default_rng(seed).normal(0, 1e-4, (n, 2))
    velocity, gains, lr = np.zeros_like(y), np.ones_like(y), max(n / 12, 50.0)
    for step in range(steps):
        exaggeration, momentum = (12.0, 0.5) if step < 250 else (1.0, 0.8)
        diff = y[:, None, :] - y[None, :, :]
        kernel = 1.0 / (1.0 + (diff ** 2).sum(-1))
        np.fill_diagonal(kernel, 0.0)
        q = np.maximum(kernel / kernel.sum(), 1e-12)
        grad = 4 * (((exaggeration * p - q) * kernel)[:, :, None] * diff).sum(1)
        gains = np.where(np.sign(grad) != np.sign(velocity), gains + 0.2, gains * 0.8).clip(0.01)
        velocity = momentum * velocity - lr * gains * grad
        y = y + velocity
        y = y - y.mean(0)
    return y


def project(x: np.ndarray, method: str = "pca", seed: int = 0) -> np.ndarray:
    """(N, D) -> (N, 2) with ``method`` in :data:`PROJECTIONS`."""
    check_choice("projection", method, PROJECTIONS)
    return pca(x) if method == "pca" else tsne(x, seed=seed)


def _folds(n: int, folds: int, seed: int, groups=None) -> list:
    """(train, test) index arrays of ``folds`` cross-validation folds over ``n`` rows; with ``groups`` (one per
    row, e.g. the speaker), whole groups go to one fold, so no group is on both sides of a fold."""
    rng = np.random.default_rng(seed)
    if groups is None:
        fold_of = np.empty(n, int)
        fold_of[rng.permutation(n)] = np.arange(n) % folds
    else:
        names, g = np.unique(np.asarray(groups), return_inverse=True)
        if len(g) != n or len(names) < folds:
            raise ValueError(f"need one group per row and at least {folds} groups, got {len(names)} for {len(g)} rows")
        fold_of = (np.arange(len(names)) % folds)[np.argsort(rng.permutation(len(names)))][g]
    return [(np.flatnonzero(fold_of != f), np.flatnonzero(fold_of == f)) for f in range(folds)]


def linear_probe(x: np.ndarray, labels, folds: int = 2, seed: int = 0, l2: float = 1e-2, groups=None) -> float:
    """Cross-validated accuracy of a logistic-regression classifier reading ``labels`` off embeddings (N, D).

    How much of a label is *linearly* decodable from the embedding: near chance (the majority share,
    :func:`mtlkit.metrics.majority_share`) means the embedding has (almost) forgotten it. ``groups`` (one per
    row) keeps whole groups in one fold (see :func:`linear_r2`).
    """
    x = torch.as_tensor(np.asarray(x, np.float32))
    names, y = np.unique(np.asarray(labels), return_inverse=True)
    y = torch.as_tensor(y)
    if len(names) < 2:
        raise ValueError(f"a probe needs at least 2 distinct labels, got {list(names)}")
    correct = 0
    for train, test in _folds(len(y), folds, seed, groups):
        train, test = torch.as_tensor(train), torch.as_tensor(test)
        mean, std = x[train].mean(0), x[train].std(0) + 1e-6
        xs = (x - mean) / std
        w = torch.zeros(x.shape[1], len(names), requires_grad=True)
        b = torch.zeros(len(names), requires_grad=True)
        opt = torch.optim.LBFGS([w, b], max_iter=200, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = F.cross_entropy(xs[train] @ w + b, y[train]) + l2 * (w ** 2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        with torch.no_grad():
            correct += int(((xs[test] @ w + b).argmax(1) == y[test]).sum())
    return correct / len(y)


def linear_r2(x: np.ndarray, values, folds: int = 2, seed: int = 0, l2: float = 1.0, groups=None) -> float:
    """Cross-validated R^2 of a ridge regression reading a number (e.g. pitch in Hz) off embeddings (N, D).

    1 means the number is a linear function of the embedding; 0, no better than predicting the mean.
    ``groups`` (one per row, e.g. the speaker of each episode) puts whole groups in one fold: rows of one
    speaker share its pitch, and a fold that sees the speaker's other rows could read the pitch off a
    memorised speaker instead of a voice it never saw. Introduced in notebooks/07_task_embeddings.ipynb.
    """
    x, v = np.asarray(x, np.float64), np.asarray(values, np.float64)
    if len(v) != len(x) or len(x) < 2 * folds:
        raise ValueError(f"need one value per embedding and at least {2 * folds} of them, got {len(v)} for {len(x)}")
    residual = np.empty_like(v)
    for train, test in _folds(len(v), folds, seed, groups):
        mean, std = x[train].mean(0), x[train].std(0) + 1e-6
        a = np.c_[(x[train] - mean) / std, np.ones(len(train))]
        w = np.linalg.solve(a.T @ a + l2 * np.eye(a.shape[1]), a.T @ v[train])
        residual[test] = v[test] - np.c_[(x[test] - mean) / std, np.ones(len(test))] @ w
    return float(1 - (residual ** 2).sum() / ((v - v.mean()) ** 2).sum())


def _pair_distances(x: np.ndarray) -> tuple:
    """Row indices i < j of every unordered pair of rows (N, D), and their Euclidean distances."""
    x = np.asarray(x, np.float64)
    i, j = np.triu_indices(len(x), k=1)
    return i, j, np.linalg.norm(x[i] - x[j], axis=1)


def _ratio(pairs: tuple, labels: np.ndarray) -> float:
    i, j, d = pairs
    same = labels[i] == labels[j]
    if same.all() or not same.any():
        raise ValueError("need at least one pair with the same label and one with different labels")
    return float(d[same].mean() / d[~same].mean())


def closeness_ratio(x: np.ndarray, labels) -> float:
    """Mean Euclidean distance between rows (N, D) with the same label over the mean between rows with different
    labels, each unordered pair once: below 1, rows that share a label lie closer together."""
    return _ratio(_pair_distances(x), np.asarray(labels))


def closeness_test(x: np.ndarray, labels, permutations: int = 2000, seed: int = 0) -> tuple[float, float]:
    """:func:`closeness_ratio` and its one-sided permutation p-value: the share of random relabellings (the same
    label counts) whose ratio is as small or smaller. Introduced in notebooks/10_a_new_language.ipynb."""
    rng = np.random.default_rng(seed)
    pairs, labels = _pair_distances(x), np.asarray(labels)         # distances once; relabelling moves the labels
    ratio = _ratio(pairs, labels)
    shuffled = [_ratio(pairs, rng.permutation(labels)) for _ in range(permutations)]
    return ratio, float((1 + sum(r <= ratio for r in shuffled)) / (1 + permutations))


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA (Kornblith et al. 2019) of two representations (N, D1) and (N, D2) of the same N items.

    With the columns centred, ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F): 1 when the two agree up to a rotation and
    a scale, near 0 when unrelated. Introduced in notebooks/07_task_embeddings.ipynb.
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if len(x) != len(y):
        raise ValueError(f"linear_cka compares two representations of the same items: got {len(x)} and {len(y)} rows")
    x, y = x - x.mean(0), y - y.mean(0)
    return float(np.linalg.norm(y.T @ x) ** 2 / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)))


def cka_test(x: np.ndarray, y: np.ndarray, permutations: int = 1000, seed: int = 0) -> tuple[float, np.ndarray]:
    """:func:`linear_cka` of x and y, and the CKAs of ``permutations`` controls (permutations,) in which the rows of
    y are shuffled: the same two clouds of points with the item-to-item correspondence broken.
    Introduced in notebooks/07_task_embeddings.ipynb."""
    rng = np.random.default_rng(seed)
    return linear_cka(x, y), np.array([linear_cka(x, y[rng.permutation(len(y))]) for _ in range(permutations)])
