"""``mtlkit meta``: methods x shots on a task family, each evaluated on the same held-out test episodes."""
from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from ..config import pick
from ..device import to_numpy
from ..metrics import bootstrap_ci, mean_ci
from .episodes import EpisodeSampler
from .methods import make_method

DEFAULT_METHODS = ("maml", "fomaml", "anil", "metasgd", "reptile", "protonet", "task_embedding", "scratch",
                   "finetune")


def evaluate(method, sampler, tasks: int = 100, steps: int = 5, seed: int = 1234, chunk: int = 25) -> dict:
    """Query accuracy over ``tasks`` test episodes (the same episodes for every method with the same seed).

    Returns ``curve`` (mean accuracy after 0..steps adaptation steps), ``accuracy`` (mean and 95% interval
    after the last step), ``interval`` (what the interval is over), ``per_task`` (final accuracy of each
    episode) and ``task`` (the held-out speaker / accent / condition of each episode). Episodes of one held-out
    speaker are not independent: the interval is a bootstrap over held-out speakers (:func:`bootstrap_ci`);
    with a single held-out accent or condition it is a t-interval over episodes, which ignores that.
    """
    if steps < 0 or tasks < 1:
        raise ValueError(f"need steps >= 0 and tasks >= 1, got steps={steps}, tasks={tasks}")
    rng = np.random.default_rng(seed)
    episodes = [sampler.sample("test", rng) for _ in range(tasks)]
    curves = [method.curve(sampler.tensors(episodes[i:i + chunk]), steps, episodes[i:i + chunk])
              for i in range(0, tasks, chunk)]
    curve = to_numpy(torch.cat(curves))
    final, names = curve[:, -1], [e.task for e in episodes]
    if len(set(names)) >= 2:
        accuracy, interval = bootstrap_ci(final, names, seed=seed), f"bootstrap over {len(set(names))} held-out tasks"
    else:
        accuracy, interval = mean_ci(final), f"t-interval over {tasks} episodes of one held-out task"
    return dict(curve=curve.mean(0).tolist(), accuracy=accuracy, interval=interval, per_task=final.tolist(),
                task=names)


def meta_compare(corpus, family: str = "speaker_adaptation", methods=DEFAULT_METHODS, shots=(1, 5), steps: int = 5,
                 meta_steps: int | None = None, meta_batch: int = 16, tasks: int = 100, n_way: int = 5,
                 queries: int = 3, label: str | None = None, seed: int = 0, out=None, progress: bool = True,
                 shuffle_labels: bool = True, held_out=None, **method_options) -> list:
    """Meta-train every method for every K in ``shots`` and evaluate it on ``tasks`` held-out episodes.

    ``label`` (speaker_adaptation only): 'emotion' (the default) or 'keyword'.
    A record: method, family, n_way, k_shot, steps, accuracy (mean, 95% half-width), curve (after each inner
    step), interval, meta_train_seconds. ``shuffle_labels`` and ``held_out`` (the test accents, conditions or
    languages) go to :class:`EpisodeSampler`. With ``out`` (a
    folder), writes results.json and results.png there.
    Introduced in notebooks/06_maml_fast_adaptation.ipynb.
    """
    meta_steps = pick(300, 60) if meta_steps is None else meta_steps
    if steps < 1:
        raise ValueError(f"steps={steps}: fast adaptation needs at least one inner step")
    records = []
    for k in shots:
        sampler = EpisodeSampler(corpus, family, n_way=n_way, k_shot=k, queries=queries, label=label,
                                 shuffle_labels=shuffle_labels, held_out=held_out)
        for name in methods:
            method = make_method(name, sampler, seed=seed, **method_options)
            start = time.perf_counter()
            method.meta_train(meta_steps if method.meta_trained else 0, meta_batch, seed=seed, progress=progress)
            seconds = time.perf_counter() - start
            result = evaluate(method, sampler, tasks=tasks, steps=steps, seed=seed + 1234)
            records.append(dict(method=name, family=family, n_way=n_way, k_shot=k, steps=steps, tasks=tasks,
                                meta_steps=meta_steps if method.meta_trained else 0, meta_batch=meta_batch,
                                accuracy=result["accuracy"], interval=result["interval"], curve=result["curve"],
                                meta_train_seconds=seconds, inner_lr=method.inner_lr, chance=1 / n_way,
                                shuffle_labels=shuffle_labels))
            if progress:
                m, h = result["accuracy"]
                print(f"{family} {n_way}-way {k}-shot {name:<15} {m:.3f} ± {h:.3f}  ({seconds:.0f} s meta-training)",
                      flush=True)
    if out is not None:
        save(records, out)
    return records


def task_space(method, per_split: int = 60, seed: int = 0, splits=("train", "test")) -> tuple:
    """Task embeddings z of ``per_split`` episodes of each split in ``splits``: (len(splits) * per_split,
    width) array, and the episodes (in that order).

    ``method`` is a ``task_embedding`` method (meta-trained, or not: an untrained encoder is the control).
    Introduced in notebooks/07_task_embeddings.ipynb.
    """
    rng = np.random.default_rng(seed)
    episodes = [method.sampler.sample(split, rng) for split in splits for _ in range(per_split)]
    method.model.eval()
    with torch.no_grad():
        z = method.task_embeddings(method.sampler.tensors(episodes))
    return to_numpy(z), episodes


def task_attribute(corpus, family: str, episode) -> float | str:
    """What an episode's task is: its speaker's mean pitch in Hz (speaker families; the speaker's id when the
    corpus does not know the pitch), its accent or its noise condition."""
    speakers = episode.classes if family == "speaker_id" else [episode.task]
    if family in ("speaker_id", "speaker_adaptation") and all("pitch_low" in corpus.speakers.get(s, {})
                                                               for s in speakers):
        return float(np.mean([(corpus.speakers[s]["pitch_low"] + corpus.speakers[s]["pitch_high"]) / 2
                              for s in speakers]))
    return episode.task


def save(records: list, out) -> Path:
    """Write results.json and results.png into folder ``out`` (each file atomically)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out, prefix=".results.json.")
    with os.fdopen(fd, "w") as f:
        json.dump(records, f, indent=1)
    os.replace(tmp, out / "results.json")
    fig = plot(records)
    fd, tmp = tempfile.mkstemp(dir=out, prefix=".results.png.", suffix=".png")
    os.close(fd)
    fig.savefig(tmp, dpi=100)
    os.replace(tmp, out / "results.png")
    return out


def plot(records: list):
    """Accuracy against adaptation steps (at the largest K) and against shots (after the last step)."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    k_max = max(r["k_shot"] for r in records)
    methods = list(dict.fromkeys(r["method"] for r in records))
    for name in methods:
        mine = sorted((r for r in records if r["method"] == name), key=lambda r: r["k_shot"])
        top = [r for r in mine if r["k_shot"] == k_max][0]
        left.plot(range(len(top["curve"])), top["curve"], marker="o", label=name)
        right.errorbar([r["k_shot"] for r in mine], [r["accuracy"][0] for r in mine],
                       yerr=[r["accuracy"][1] for r in mine], marker="o", capsize=3, label=name)
    for ax in (left, right):
        ax.axhline(records[0]["chance"], color="k", ls=":", lw=1, label="chance")
        ax.set_ylabel("query accuracy")
    left.set(xlabel="adaptation steps", title=f"{records[0]['family']}, {records[0]['n_way']}-way {k_max}-shot")
    right.set(xlabel="shots K", xticks=sorted({r["k_shot"] for r in records}), title="after the last step")
    right.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig
