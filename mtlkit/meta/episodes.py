"""Few-shot speech tasks as episodes: support and query sets drawn from speakers or conditions never trained on.

Task families (the ``family`` argument):
- ``speaker_id``: N-way K-shot speaker identification among N speakers.
- ``speaker_adaptation``: one speaker; K labelled utterances per ``label`` class (emotion or keyword),
  queried on that speaker's other utterances. Emotion cues are relative to the speaker's own voice.
- ``accent``: one accent; N-way K-shot keyword recognition among its utterances.
- ``noise``: one noise condition (type and SNR band); N-way K-shot keyword recognition in it.
- ``language``: one language; N-way K-shot recognition of spoken numbers in it (the ``languages`` corpus).

Meta-training episodes come from the training speakers (or conditions), test episodes from held-out ones.
Introduced in notebooks/06_maml_fast_adaptation.ipynb.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import torch

from ..config import check_choice
from ..data.labels import HELD_OUT_LANGUAGES
from ..features import FeatureDataset

FAMILIES = ("speaker_id", "speaker_adaptation", "accent", "noise", "language")
"""Few-shot task families; see the module docstring."""
SNR_BANDS = ((-np.inf, 10.0), (10.0, 20.0), (20.0, np.inf))
"""SNR bands (dB) that, with the noise type, define a noise condition."""


@dataclass
class Episode:
    """One few-shot task: support (N*K items) and query sets as indices into the pool, labels remapped to 0..N-1."""

    support: np.ndarray          # (N * K,) indices into the sampler's feature pool
    support_y: np.ndarray        # (N * K,) labels in 0..N-1
    query: np.ndarray            # (Q,)
    query_y: np.ndarray          # (Q,)
    classes: list                # class names, position = remapped label
    task: str                    # which speaker / accent / condition this task is


def _condition(u) -> str:
    if u.noise in ("", "none"):
        return "clean"
    band = next(i for i, (lo, hi) in enumerate(SNR_BANDS) if lo <= u.snr_db < hi)
    lo, hi = SNR_BANDS[band]
    return f"{u.noise} {'' if np.isinf(lo) else int(lo)}-{'' if np.isinf(hi) else int(hi)} dB"


class EpisodeSampler:
    """Samples episodes of one family from a corpus: ``sampler.sample('train' | 'test', rng) -> Episode``.

    Features of every utterance are computed once, standardised with the training speakers' statistics and
    padded to the longest utterance: ``feats`` (utterances, frames, n_features), ``lengths`` (utterances,).
    ``held_out`` names the test accents, noise conditions or languages (default: the most frequent accent /
    condition; for languages :data:`~mtlkit.data.labels.HELD_OUT_LANGUAGES`, six families).
    ``shuffle_labels`` draws a new class-to-label map for every episode (as learn2learn's
    ``RemapLabels(shuffle=True)``), so no label means the same class in every task and the support set must
    be read; ``False`` numbers the classes in sorted order in every episode (0 = angry, ... for emotions),
    which lets a meta-learner memorise one global classifier (Yin et al. 2020).
    """

    def __init__(self, corpus, family: str = "speaker_adaptation", n_way: int = 5, k_shot: int = 5,
                 queries: int = 3, label: str | None = None, held_out=None, shuffle_labels: bool = True):
        check_choice("task family", family, FAMILIES)
        if label is not None and family != "speaker_adaptation":
            raise ValueError(f"label={label!r} applies to the speaker_adaptation family only; {family} tasks classify "
                             f"{'speakers' if family == 'speaker_id' else 'keywords'}")
        if held_out is not None and family in ("speaker_id", "speaker_adaptation"):
            raise ValueError(f"held_out={held_out!r} applies to the accent, noise and language families; the test "
                             f"tasks of {family} are the corpus's held-out speakers")
        label = label or "emotion"
        check_choice("label", label, ("emotion", "keyword"))
        if n_way < 2 or k_shot < 1 or queries < 1:
            raise ValueError(f"need n_way >= 2, k_shot >= 1 and queries >= 1, got n_way={n_way}, k_shot={k_shot}, "
                             f"queries={queries}")
        self.family, self.n_way, self.k_shot, self.queries = family, n_way, k_shot, queries
        self.shuffle_labels = shuffle_labels
        self.label = label if family == "speaker_adaptation" else ("speaker" if family == "speaker_id" else "keyword")
        corpus.require(self.label)
        if family == "language":
            corpus.require("language")
        self.corpus = corpus
        train_speakers = corpus.subset(lambda u: u.split != "heldout")
        data = FeatureDataset(corpus, (), stats=FeatureDataset(train_speakers, ()).stats)
        self.lengths = torch.tensor([len(f) for f in data.feats])
        self.feats = torch.nn.utils.rnn.pad_sequence(data.feats, batch_first=True)
        self.labels = np.array(corpus.labels(self.label))
        self.groups = {"train": {}, "test": {}}
        self._group(corpus, held_out)
        for split in ("train", "test"):
            if not self.groups[split]:
                raise ValueError(f"no {split} tasks of family {family!r} in this corpus")

    def _group(self, corpus, held_out) -> None:
        """Pool utterance indices by task (speaker, accent or condition) for 'train' and 'test', and by label
        within each task (the classes with at least k_shot + queries utterances), once."""
        if self.family in ("speaker_id", "speaker_adaptation"):
            key, split_of = (lambda u: u.speaker), (lambda u: "test" if u.split == "heldout" else "train")
        else:
            key = {"accent": lambda u: u.accent, "language": lambda u: u.language}.get(self.family, _condition)
            counts = Counter(key(u) for u in corpus)
            values = sorted(counts)
            if held_out is None and self.family == "language":
                held_out = [v for v in HELD_OUT_LANGUAGES if v in counts] or [values[-1]]
            elif held_out is None:                # the most frequent: enough utterances to form test episodes
                held_out = [max(values, key=lambda v: counts[v])]
            if isinstance(held_out, str):
                held_out = [held_out]
            for value in held_out:
                check_choice(self.family, value, values)
            split_of = lambda u: "test" if key(u) in held_out else "train"   # noqa: E731
        for i, u in enumerate(corpus):
            self.groups[split_of(u)].setdefault(key(u), []).append(i)
        need = self.k_shot + self.queries
        self.pools = {split: {} for split in self.groups}       # split -> task -> label -> indices (>= need)
        for split, groups in self.groups.items():
            for name in sorted(groups):
                members = np.asarray(groups[name])
                labels = self.labels[members]
                self.pools[split][name] = {c: members[labels == c] for c in np.unique(labels)
                                           if (labels == c).sum() >= need}

    def tasks(self, split: str) -> list:
        """The speakers / accents / conditions episodes of ``split`` are drawn from."""
        check_choice("split", split, ("train", "test"))
        return sorted(self.groups[split])

    def max_shots(self, split: str) -> int:
        """The largest k_shot for which :meth:`sample` can draw a ``split`` episode at these n_way and queries
        (0: not even one shot). Depends on the corpus only, not on this sampler's own k_shot."""
        check_choice("split", split, ("train", "test"))
        if self.family == "speaker_id":                 # n_way speakers, each with k_shot + queries utterances
            sizes = sorted((len(idx) for idx in self.groups[split].values()), reverse=True)
            best = sizes[self.n_way - 1] if len(sizes) >= self.n_way else 0
        else:                                           # one task with n_way classes of k_shot + queries each
            best = max(self.nth_class_sizes(split).values(), default=0)
        return max(0, best - self.queries)

    def nth_class_sizes(self, split: str) -> dict:
        """Task -> the size of its ``n_way``-th largest class on ``split``, for the tasks with n_way classes."""
        sizes = {}
        for task, members in self.groups[split].items():
            counts = sorted(Counter(self.labels[np.asarray(members)].tolist()).values(), reverse=True)
            if len(counts) >= self.n_way:
                sizes[task] = counts[self.n_way - 1]
        return sizes

    def sample(self, split: str, rng: np.random.Generator) -> Episode:
        """Draw one episode from the tasks of ``split`` ('train': meta-training, 'test': held out)."""
        check_choice("split", split, ("train", "test"))
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy Generator, e.g. np.random.default_rng(0); got {rng!r}")
        groups = self.groups[split]
        need = self.k_shot + self.queries
        if self.family == "speaker_id":
            ok = [g for g, idx in groups.items() if len(idx) >= need]
            if len(ok) < self.n_way:
                raise ValueError(f"{self.n_way}-way speaker identification needs {self.n_way} {split} speakers with "
                                 f">= k_shot + queries = {need} utterances each; this corpus has {len(ok)}")
            chosen = sorted(rng.choice(ok, self.n_way, replace=False).tolist())
            pools = {c: np.asarray(groups[c]) for c in chosen}
            task = "+".join(chosen)
        else:
            by_task = self.pools[split]
            eligible = [name for name, ok in by_task.items() if len(ok) >= self.n_way]
            if not eligible:
                best = max(by_task, key=lambda name: len(by_task[name]))
                sizes = Counter(self.labels[np.asarray(groups[best])].tolist()).values()
                raise ValueError(f"no {split} {self.family.replace('_', ' ')} task has {self.n_way} {self.label} "
                                 f"classes with >= k_shot + queries = {need} utterances (the best, {best!r}, has "
                                 f"{len(by_task[best])}; its {len(sizes)} classes have {min(sizes)}-{max(sizes)} "
                                 f"utterances each); lower k_shot={self.k_shot}, queries={self.queries} or "
                                 f"n_way={self.n_way}")
            task = eligible[int(rng.integers(len(eligible)))]
            chosen = sorted(rng.choice(sorted(by_task[task]), self.n_way, replace=False).tolist())
            pools = {c: by_task[task][c] for c in chosen}
        if self.shuffle_labels:                            # label y means class chosen[y], new in every episode
            chosen = [chosen[i] for i in rng.permutation(self.n_way)]
        support, query = [], []
        for c in chosen:
            picked = rng.choice(pools[c], need, replace=False)
            support.append(picked[:self.k_shot])
            query.append(picked[self.k_shot:])
        labels = np.arange(self.n_way)
        return Episode(np.concatenate(support), np.repeat(labels, self.k_shot), np.concatenate(query),
                       np.repeat(labels, self.queries), chosen, task)

    def episode(self, task: str, k_shot: int, rng: np.random.Generator) -> Episode:
        """One test episode of a named speaker / accent / condition: ``k_shot`` support utterances per class and
        every other utterance of those classes as the query (the first ``n_way`` classes with enough of them)."""
        if self.family == "speaker_id":
            raise ValueError("speaker_id episodes mix several speakers; name a task of another family")
        check_choice(f"test {self.family.replace('_', ' ')} task", task, self.tasks("test"))
        members = np.asarray(self.groups["test"][task])
        labels = self.labels[members]
        classes = [c for c in np.unique(labels) if (labels == c).sum() > k_shot][:self.n_way]
        if k_shot < 1 or len(classes) < self.n_way:
            raise ValueError(f"{task!r} has {len(classes)} {self.label} classes with more than k_shot={k_shot} "
                             f"utterances; the model needs n_way={self.n_way}: lower k_shot (>= 1)")
        if self.shuffle_labels:
            classes = [classes[i] for i in rng.permutation(self.n_way)]
        support, query, query_y = [], [], []
        for y, c in enumerate(classes):
            picked = rng.permutation(members[labels == c])
            support.append(picked[:k_shot])
            query.append(picked[k_shot:])
            query_y.append(np.full(len(picked) - k_shot, y))
        return Episode(np.concatenate(support), np.repeat(np.arange(self.n_way), k_shot), np.concatenate(query),
                       np.concatenate(query_y), [str(c) for c in classes], task)

    def tensors(self, episodes: list) -> dict:
        """Stack episodes for a meta-batch: x_s (tasks, N*K, frames, n), len_s, y_s, x_q, len_q, y_q."""
        sizes = sorted({(len(e.support), len(e.query)) for e in episodes})
        if len(sizes) > 1:
            raise ValueError(f"episodes of different sizes cannot be stacked into one meta-batch: (support, query) "
                             f"sizes {sizes}; stack the episodes of one K (and one query size) at a time")
        def pick(key):
            idx = torch.as_tensor(np.stack([getattr(e, key) for e in episodes]))
            return self.feats[idx], self.lengths[idx]
        x_s, len_s = pick("support")
        x_q, len_q = pick("query")
        return dict(x_s=x_s, len_s=len_s, y_s=torch.as_tensor(np.stack([e.support_y for e in episodes])),
                    x_q=x_q, len_q=len_q, y_q=torch.as_tensor(np.stack([e.query_y for e in episodes])))
