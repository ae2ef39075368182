"""Metrics: accuracy, macro-F1, VAD frame F1, confusion matrices, delta_m% and intervals over seeds."""
from __future__ import annotations

import math

import numpy as np

HIGHER_IS_BETTER = {"accuracy": True, "macro_f1": True, "f1": True, "loss": False, "error": False}
"""Direction of each metric, for the sign correction in :func:`delta_m`."""
MAIN_METRIC = {"vad": "f1", "speaker": "accuracy", "emotion": "accuracy", "keyword": "accuracy", "accent": "accuracy",
               "language": "accuracy"}
"""The metric each task is judged by in comparisons."""


def confusion(y_true, y_pred, n_classes: int) -> np.ndarray:
    """Counts (n_classes, n_classes): row = true class, column = predicted class."""
    m = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(m, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return m


def accuracy(y_true, y_pred) -> float:
    """Share of correct predictions."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return float((y_true == y_pred).mean()) if len(y_true) else float("nan")


def f1_scores(y_true, y_pred, n_classes: int) -> np.ndarray:
    """Per-class F1 (n_classes,); a class absent from both truth and prediction gets NaN."""
    m = confusion(y_true, y_pred, n_classes)
    tp = np.diag(m).astype(float)
    denom = m.sum(0) + m.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, 2 * tp / denom, np.nan)


def macro_f1(y_true, y_pred, n_classes: int) -> float:
    """Mean F1 over the classes present in the truth or the predictions."""
    return float(np.nanmean(f1_scores(y_true, y_pred, n_classes)))


def task_metrics(task: str, y_true, y_pred, n_classes: int) -> dict:
    """The metrics of one task: VAD -> accuracy and speech F1 over frames; others -> accuracy and macro-F1."""
    if task == "vad":
        return {"accuracy": accuracy(y_true, y_pred), "f1": float(f1_scores(y_true, y_pred, 2)[1])}
    return {"accuracy": accuracy(y_true, y_pred), "macro_f1": macro_f1(y_true, y_pred, n_classes)}


def delta_m(results: dict, baselines: dict, metrics: dict | None = None) -> float:
    """delta_m% = mean over tasks of the relative gain over the baseline, sign-corrected (Maninis et al. 2019).

    ``results`` and ``baselines`` map task -> {metric: value}; ``metrics`` picks one metric per task
    (default :data:`MAIN_METRIC`).  Positive means better than the single-task baselines.  A task whose
    baseline is 0 has no relative gain and is left out of the mean (NaN if every task is).
    """
    gains = list(relative_gains(results, baselines, metrics).values())
    return float(np.nanmean(gains)) if not np.isnan(gains).all() else float("nan")


def relative_gains(results: dict, baselines: dict, metrics: dict | None = None) -> dict:
    """Each task's sign-corrected relative gain over its baseline in % (the terms :func:`delta_m` averages)."""
    metrics = metrics or MAIN_METRIC
    gains = {}
    for task, got in results.items():
        name = metrics[task]
        base = baselines[task][name]
        sign = 1.0 if HIGHER_IS_BETTER[name] else -1.0
        gains[task] = 100.0 * sign * (got[name] - base) / abs(base) if base else float("nan")
    return gains


_T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
        12: 2.179, 15: 2.131, 20: 2.086, 30: 2.042}


def mean_ci(values) -> tuple[float, float]:
    """Mean and half-width of the 95% t-interval over seeds (half-width NaN for a single value)."""
    x = np.asarray(values, dtype=float)
    if len(x) < 2:
        return float(x.mean()) if len(x) else float("nan"), float("nan")
    df = len(x) - 1
    t = _T95.get(df) or _T95[max(k for k in _T95 if k <= df)] if df <= 30 else 1.96
    return float(x.mean()), float(t * x.std(ddof=1) / math.sqrt(len(x)))


def bootstrap_ci(values, groups, draws: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Mean of ``values`` and the half-width of its 95% bootstrap interval, resampling whole ``groups``.

    Values (n,) that share a group (e.g. episodes of one held-out speaker) are not independent: drawing the
    groups with replacement, not the values, gives an interval that counts each group once. Half-width NaN
    with fewer than 2 groups.
    """
    x, g = np.asarray(values, dtype=float), np.asarray(groups)
    names = np.unique(g)
    if len(names) < 2:
        return float(x.mean()), float("nan")
    sums = np.array([x[g == n].sum() for n in names])
    counts = np.array([(g == n).sum() for n in names])
    pick = np.random.default_rng(seed).integers(0, len(names), (draws, len(names)))
    means = sums[pick].sum(1) / counts[pick].sum(1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(x.mean()), float((high - low) / 2)


def chance(corpus, task: str, split: str = "test") -> float:
    """The score of a guess that ignores the audio on ``split``: F1 of "always speech" for VAD; otherwise the
    majority class's share of ``split`` (what always answering its most frequent class scores)."""
    test = corpus.split(split)
    if task == "vad":
        speech = float(np.mean(np.concatenate([u.vad for u in test])))
        return 2 * speech / (1 + speech)
    return majority_share(test.labels(task))


def majority_share(labels) -> float:
    """The share of the most frequent label in ``labels``: the accuracy of always guessing it."""
    values, counts = np.unique(np.asarray(labels), return_counts=True)
    return float(counts.max() / counts.sum())
