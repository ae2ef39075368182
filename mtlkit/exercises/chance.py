"""Notebook 08's exercise: the chance level every score in the kit is compared with."""
from __future__ import annotations

import math

import numpy as np

from .core import Exercise, Failed, register, run


def chance_level(task: str, labels: list) -> float:
    """labels: class names (one per utterance) or, for "vad", (frames,) 0/1 arrays -> the score of a blind guess."""
    if task == "vad":
        p = float(np.mean(np.concatenate(labels)))        # the speech share of all frames pooled
        return 2 * p / (1 + p)                             # F1 of saying "speech" on every frame
    _, counts = np.unique(np.asarray(labels), return_counts=True)
    return float(counts.max() / counts.sum())             # accuracy of always answering the majority class


def _close(a, b) -> bool:
    try:
        return math.isclose(float(a), b, abs_tol=1e-6)
    except (TypeError, ValueError):
        return False


def _check_chance(fn, reference) -> str:
    emotions = ["happy", "sad", "happy", "angry", "happy", "sad"]
    out = run(fn, "emotion", list(emotions), what=f"emotion labels {emotions}")
    if _close(out, 1 / 3):
        raise Failed(f"chance is the majority class's share of the evaluated set (3 'happy' of 6: 0.5), not 1/N "
                     f"(1/3): always answering 'happy' scores 0.5 on {emotions}")
    if not _close(out, 0.5):
        raise Failed(f"always answering the most frequent class, 'happy', scores 3/6 = 0.5 on {emotions}; got {out}")
    vad = [np.array([1, 1, 1, 0, 1, 1]), np.array([0, 0])]
    what = "two utterances' frames [1, 1, 1, 0, 1, 1] and [0, 0]"
    out = run(fn, "vad", [v.copy() for v in vad], what=what)
    p = 5 / 8
    if _close(out, p):
        raise Failed(f"for VAD the score is the F1 of the speech class, so chance is the F1 of saying 'speech' on "
                     f"every frame: precision p, recall 1, F1 = 2p / (1 + p) = {2 * p / (1 + p):.3f} for the speech "
                     f"share p = 5/8 of {what}; you returned p (or the majority share)")
    per_utterance = (5 / 6 + 0) / 2
    if _close(out, 2 * per_utterance / (1 + per_utterance)):
        raise Failed(f"pool the frames of all utterances before taking the speech share: 5 speech frames of 8, "
                     f"p = 5/8, not the mean of the utterances' shares (5/6 and 0) (on {what})")
    if not _close(out, 2 * p / (1 + p)):
        raise Failed(f"chance for VAD is 2p / (1 + p) = {2 * p / (1 + p):.3f} with p = 5/8 on {what}; got {out}")
    rng = np.random.default_rng(0)
    for trial in range(5):
        names = list(rng.choice(["neutral", "happy", "sad", "angry", "fearful"], size=int(rng.integers(5, 40)),
                                p=[0.4, 0.3, 0.1, 0.1, 0.1]))
        frames = [rng.integers(0, 2, size=int(rng.integers(1, 60))) for _ in range(int(rng.integers(1, 6)))]
        for task, labels in (("emotion", names), ("vad", frames)):
            mine = run(fn, task, list(labels), what=f"random {task} labels (numpy default_rng(0), trial {trial})")
            if not _close(mine, reference(task, labels)):
                raise Failed(f"on random {task} labels (trial {trial}) chance should be "
                             f"{reference(task, labels):.4f}, got {mine}")
    return "a majority share, VAD's 2p/(1+p) over pooled frames, and 10 random label sets"


register(Exercise(
    name="chance_level", notebook="08_playground",
    statement=("Every lesson in the kit is a score against chance: what a guess that ignores the audio scores on "
               "the evaluated set. For an utterance task (accuracy) that is always answering the most frequent "
               "class: its share of the labels. For VAD (scored by the F1 of the speech class) it is saying "
               "'speech' on every frame: with p the speech share of all frames, precision p and recall 1 give "
               "F1 = 2p / (1 + p). Return the chance level of a task's labels."),
    signature=("def chance_level(task: str, labels: list) -> float:"
               "   # class names, or for 'vad' a list of (frames,) 0/1 arrays"),
    reference=chance_level, checker=_check_chance,
    hints=["Utterance tasks: np.unique(labels, return_counts=True); the largest count over the total.",
           "VAD: p = np.concatenate(labels).mean(), the frames of all utterances pooled.",
           "F1 = 2 * precision * recall / (precision + recall) with precision p and recall 1."]))
