"""Notebook 10's exercise: are related languages close in the task space? The closeness ratio."""
from __future__ import annotations

import numpy as np

from .core import Exercise, Failed, register, run


def closeness_ratio(x: np.ndarray, labels) -> float:
    """x (N, D), labels (N,) -> mean distance of same-label pairs / mean distance of different-label pairs."""
    x, labels = np.asarray(x, float), np.asarray(labels)
    same, different = [], []
    for i in range(len(x)):
        for j in range(i + 1, len(x)):                     # each unordered pair once, never a row with itself
            (same if labels[i] == labels[j] else different).append(np.linalg.norm(x[i] - x[j]))
    return float(np.mean(same) / np.mean(different))


def _check_closeness(fn, reference) -> str:
    x, labels = np.array([[0.0], [1.0], [10.0], [12.0]]), ["A", "A", "B", "B"]
    what = "points 0, 1 (family A) and 10, 12 (family B) on a line"
    out = run(fn, x.copy(), list(labels), what=what)
    try:
        out = float(out)
    except (TypeError, ValueError):
        raise Failed(f"return one number (a float); got {type(out).__name__}") from None
    for wrong, advice in ((1 / 14, "you counted each row paired with itself (distance 0) among the same-label pairs: "
                                   "use pairs i < j only"),
                          (2.5 / 111.5, "use the Euclidean distance, not its square"),
                          (7.0, "the ratio is same-label over different-label (below 1 when families cluster), "
                                "not the other way round")):
        if np.isclose(out, wrong, atol=1e-6):
            raise Failed(f"on {what}: {advice}; expected (1 + 2) / 2 over (10 + 12 + 9 + 11) / 4 = 1/7, got {out:.4f}")
    if not np.isclose(out, 1 / 7, atol=1e-6):
        raise Failed(f"on {what}: same-label pairs are 1 and 2 apart (mean 1.5), different-label pairs 10, 12, 9 "
                     f"and 11 (mean 10.5): the ratio is 1/7 = 0.1429, got {out:.4f}")
    rng = np.random.default_rng(0)
    for trial in range(4):
        x = rng.normal(size=(12, 5))
        labels = list(rng.choice(["Romance", "Slavic", "Bantu"], size=12))
        labels[:3] = ["Romance", "Slavic", "Bantu"]          # every family present, so both kinds of pairs exist
        mine = float(run(fn, x.copy(), list(labels), what=f"12 random rows in 5 dimensions (trial {trial})"))
        if not np.isclose(mine, reference(x, labels), atol=1e-6):
            raise Failed(f"on 12 random rows (numpy default_rng(0), trial {trial}) the ratio should be "
                         f"{reference(x, labels):.4f}, got {mine:.4f}")
    return "the worked example (self-pairs, squares and the direction ruled out) and 4 random sets of 12 rows"


register(Exercise(
    name="closeness_ratio", notebook="10_a_new_language",
    statement=("Do related languages lie close together in the task space? Given one vector per language (N, D) "
               "and its family, return the mean Euclidean distance over the pairs of languages of the same "
               "family divided by the mean over the pairs of different families, counting each unordered pair "
               "once (never a language with itself). Below 1: families cluster."),
    signature="def closeness_ratio(x: np.ndarray, labels) -> float:   # (N, D), N labels -> float",
    reference=closeness_ratio, checker=_check_closeness,
    hints=["Loop over i < j; np.linalg.norm(x[i] - x[j]) is the Euclidean distance.",
           "Collect the distances in two lists, by whether labels[i] == labels[j].",
           "Return mean(same) / mean(different)."]))
