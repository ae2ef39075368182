"""Notebook 05's panel: embeddings of held-out utterances from several trained models, probed and projected."""
from __future__ import annotations

import ipywidgets as W
import numpy as np

from .. import plots
from ..config import SAMPLE_RATE
from ..embeddings import PROJECTIONS, embed, linear_probe, project
from .panel import Panel, html_table

LABELS = ("speaker", "emotion", "accent", "keyword")
"""Labels an embedding can be coloured by and probed for."""


class EmbeddingPanel(Panel):
    """Choose a trained model, a layer, a head and a projection; Run embeds ``corpus`` and probes each label.

    Colouring and the picked point are views (instant). ``runs`` maps a name to a trained History.
    Introduced in notebooks/05_embedding_explorer.ipynb.
    """

    title = "Embedding explorer"

    def __init__(self, runs: dict, corpus, task: str = "emotion"):
        self.runs, self.corpus = dict(runs), corpus
        first = next(iter(self.runs.values())).model
        self.labels = [name for name in LABELS if name in corpus.tasks()]
        heads = sorted({t for h in self.runs.values() for t in h.model.tasks if t != "vad"})
        controls = dict(model=W.Dropdown(options=list(self.runs), description="model"),
                        layer=W.Dropdown(options=first.layer_names + ["head"], value="head", description="layer"),
                        task=W.Dropdown(options=heads, value=task if task in heads else heads[0],
                                        description="head of"),
                        projection=W.ToggleButtons(options=PROJECTIONS, value="pca", description="projection"))
        points = [(f"{i}: {u.speaker} {u.emotion} '{' '.join(u.words)}'", i) for i, u in enumerate(corpus)]
        views = dict(colour=W.Dropdown(options=self.labels, value=self.labels[0], description="colour by"),
                     point=W.Dropdown(options=points, value=0, description="listen to"))
        super().__init__(controls, views)

    def compute(self, s: dict, progress):
        history = self.runs[s["model"]]
        task = s["task"] if s["task"] in history.model.tasks else next(iter(history.model.tasks))
        progress(0, 2)
        x = embed(history, self.corpus, layer=s["layer"], task=task)
        probes = {name: linear_probe(x, self.corpus.labels(name)) for name in self.labels}
        progress(1, 2)
        coords = project(x, s["projection"])
        progress(2, 2)
        return dict(coords=coords, probes=probes, task=task)

    def show(self, result, s: dict) -> list:
        from IPython.display import Audio

        v = self.view()
        labels = self.corpus.labels(v["colour"])
        fig = plots.embedding(result["coords"], labels, f"{s['model']}: {s['layer']} of {result['task']}, "
                              f"{s['projection']}", highlight=v["point"])
        chance = {name: 1 / len(set(self.corpus.labels(name))) for name in self.labels}
        rows = [dict(label=name, probe=result["probes"][name], chance=chance[name]) for name in self.labels]
        u = self.corpus[v["point"]]
        about = f"<p>point {v['point']}: speaker {u.speaker}, " + ", ".join(
            f"{name} {getattr(u, name)}" for name in self.labels if name != "speaker") + "</p>"
        return [fig, "<p>linear-probe accuracy (2-fold, on the embedding itself, not the 2-D projection):</p>",
                html_table(rows), about, Audio(np.asarray(u.wave), rate=SAMPLE_RATE)]
