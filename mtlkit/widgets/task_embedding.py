"""Notebook 07's panel: the task-embedding pipeline on a chosen task family, next to another method."""
from __future__ import annotations

import ipywidgets as W
import numpy as np

from .. import plots
from ..config import pick
from ..embeddings import linear_probe, linear_r2, pca
from ..meta.episodes import FAMILIES, EpisodeSampler
from ..meta.experiment import evaluate, task_attribute, task_space
from ..meta.methods import METHODS, make_method
from ..metrics import majority_share
from .adaptation import SHOTS_UNTIL_KNOWN, bound_shots, follow_family
from .panel import Panel, html_table


class TaskEmbeddingPanel(Panel):
    """Choose a task family, K and a method to compare with; Run meta-trains both and maps the task space.

    Shows accuracy against adaptation steps for both, and the task embeddings z of training and test
    episodes (PCA) coloured by what the task is. Introduced in notebooks/07_task_embeddings.ipynb.
    """

    title = "Task embeddings by family"

    def __init__(self, corpus, meta_steps: int | None = None, meta_batch: int = 8):
        self.corpus, self.meta_batch = corpus, meta_batch
        others = [m for m in METHODS if m != "task_embedding"]
        controls = dict(family=W.Dropdown(options=FAMILIES, value="speaker_adaptation", description="family"),
                        k_shot=W.IntSlider(value=5, min=1, max=SHOTS_UNTIL_KNOWN, description="shots K"),
                        compare=W.Dropdown(options=others, value="protonet", description="compare with"),
                        meta_steps=W.IntSlider(value=meta_steps or pick(150, 100), min=10, max=500, step=10,
                                               description="outer steps"))
        super().__init__(controls)
        self.shot_bounds = {}                   # family -> the largest K its data allows, once a Run has seen it
        follow_family(controls["k_shot"], self.shot_bounds, controls["family"])

    def compute(self, s: dict, progress):
        sampler = EpisodeSampler(self.corpus, s["family"], n_way=5, k_shot=s["k_shot"], queries=2)
        bound_shots(self.controls["k_shot"], self.shot_bounds, sampler, s["k_shot"])
        runs = {}
        for i, name in enumerate(("task_embedding", s["compare"])):
            method = make_method(name, sampler, seed=0)
            steps = s["meta_steps"] if method.meta_trained else 0
            method.meta_train(steps, self.meta_batch, progress=lambda d, t: progress(i * t + d, 2 * t + 1))
            runs[name] = (method, evaluate(method, sampler, tasks=100, steps=5, seed=1))
        z, episodes = task_space(runs["task_embedding"][0], per_split=40)
        progress(1, 1)
        what = [task_attribute(self.corpus, s["family"], e) for e in episodes]
        split = ["train"] * 40 + ["test"] * 40
        if isinstance(what[0], float):          # pitch: folds grouped by speaker (see linear_r2)
            score, chance = linear_r2(z, what, groups=[e.task for e in episodes]), None
        else:                                   # accent / condition: training episodes only (one held-out value)
            score, chance = linear_probe(z[:40], what[:40]), majority_share(what[:40])
        return dict(runs={n: r for n, (_, r) in runs.items()}, coords=pca(z), what=what, split=split,
                    score=score, chance=chance)

    def show(self, r: dict, s: dict) -> list:
        import matplotlib.pyplot as plt

        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
        for name, result in r["runs"].items():
            left.plot(result["curve"], marker="o", label=name)
        left.axhline(0.2, color="k", ls=":", lw=1, label="chance")
        left.set(xlabel="adaptation steps", ylabel="query accuracy", title=f"{s['family']}, 5-way {s['k_shot']}-shot")
        left.legend(fontsize=8)
        numeric = isinstance(r["what"][0], float)
        plots.embedding(r["coords"], np.asarray(r["what"], float if numeric else object),
                        f"task embeddings z (PCA) by {'pitch (Hz)' if numeric else 'task'}", ax=right)
        rows = [dict(method=n, accuracy=res["accuracy"][0], interval=res["accuracy"][1], before=res["curve"][0])
                for n, res in r["runs"].items()]
        kind = ("R² of pitch (cross-validated, folds grouped by speaker)" if numeric else
                f"probe accuracy of the task on training episodes (cross-validated; chance, the majority "
                f"share: {r['chance']:.2f})")
        return [fig, html_table(rows), f"<p>read off z: {kind} = {r['score']:.2f}</p>"]
