"""Notebook 08's dashboard: multi-task runs and meta-learning runs side by side, cached, exportable as JSON."""
from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import ipywidgets as W
import numpy as np

from ..config import pick
from ..meta.episodes import FAMILIES, EpisodeSampler
from ..meta.experiment import evaluate
from ..meta.methods import METHODS, make_method
from ..metrics import MAIN_METRIC, chance
from ..models import SHARINGS
from ..train import fit
from ..weighting import WEIGHTINGS
from .adaptation import SHOTS_UNTIL_KNOWN, bound_shots, follow_family
from .panel import Panel, html_table

KINDS = ("multi-task", "meta-learning")
"""What a playground run is."""
_MTL = ("tasks", "sharing", "weighting", "epochs")
_META = ("family", "method", "k_shot", "meta_steps")


class PlaygroundPanel(Panel):
    """Toggle tasks and pick a sharing and a weighting, or a meta-learning method; Run adds a leaderboard row.

    ``corpus`` trains the multi-task runs, ``meta_corpus`` the meta-learning ones. ``records()`` lists every
    run of the session as plain data; ``export(path)`` writes them as JSON (atomically).
    Introduced in notebooks/08_playground.ipynb.
    """

    title = "Playground"
    output_height = "640px"

    def __init__(self, corpus, meta_corpus=None, trainer=fit, epochs: int | None = None,
                 meta_steps: int | None = None):
        self.corpus, self.meta_corpus, self.trainer = corpus, meta_corpus or corpus, trainer
        self.samplers = {}
        have = [t for t in corpus.tasks() if t != "accent"]
        self.task_boxes = {t: W.Checkbox(value=t in ("speaker", "emotion"), description=t, indent=False,
                                         layout=W.Layout(width="110px")) for t in have}
        controls = dict(
            kind=W.ToggleButtons(options=KINDS, value="multi-task", description="run"),
            sharing=W.Dropdown(options=SHARINGS, value="hard", description="sharing"),
            weighting=W.Dropdown(options=list(WEIGHTINGS), value="equal", description="weighting"),
            epochs=W.IntSlider(value=epochs or 20, min=1, max=40, description="epochs"),
            family=W.Dropdown(options=FAMILIES, value="speaker_adaptation", description="family"),
            method=W.Dropdown(options=list(METHODS), value="protonet", description="method"),
            k_shot=W.IntSlider(value=5, min=1, max=SHOTS_UNTIL_KNOWN, description="shots K"),
            meta_steps=W.IntSlider(value=meta_steps or pick(100, 40), min=0, max=500, step=10,
                                   description="outer steps"),
            seed=W.IntSlider(value=0, min=0, max=4, description="seed"))
        self.path = W.Text(value="playground.json", description="file")
        self.export_button = W.Button(description="Export JSON", icon="download")
        self.export_button.on_click(lambda _: self._export_clicked())
        super().__init__(controls)
        self.shot_bounds = {}                   # family -> the largest K its data allows, once a Run has seen it
        follow_family(controls["k_shot"], self.shot_bounds, controls["family"])
        controls["kind"].observe(lambda _: self._enable(), names="value")
        self._enable()

    def layout(self) -> list:
        c = self.controls
        return [c["kind"], W.HBox([W.Label("tasks"), *self.task_boxes.values()]),
                W.HBox([c["sharing"], c["weighting"], c["epochs"]]),
                W.HBox([c["family"], c["method"], c["k_shot"], c["meta_steps"]]), c["seed"],
                W.HBox([self.path, self.export_button])]

    def _enable(self) -> None:
        meta = self.controls["kind"].value == "meta-learning"
        for name in _MTL:
            if name != "tasks":
                self.controls[name].disabled = meta
        for box in self.task_boxes.values():
            box.disabled = meta
        for name in _META:
            self.controls[name].disabled = not meta

    def settings(self) -> dict:
        s = super().settings()
        s["tasks"] = ",".join(t for t, box in self.task_boxes.items() if box.value)
        for name in (_MTL if s["kind"] == "meta-learning" else _META):
            s.pop(name)
        return s

    def compute(self, s: dict, progress):
        if s["kind"] == "meta-learning":
            return self._meta(s, progress)
        tasks = [t for t in s["tasks"].split(",") if t]
        if not tasks:
            raise ValueError(f"tick at least one task; this corpus has: {', '.join(self.task_boxes)}")
        on_parameters = s["sharing"] == "hierarchical" and WEIGHTINGS[s["weighting"]].needs_grads   # see fit
        h = self.trainer(self.corpus, tasks, sharing=s["sharing"], weighting=s["weighting"], epochs=s["epochs"],
                         seed=s["seed"], progress=progress,
                         **(dict(grad_on="parameters") if on_parameters else {}))
        scores = {t: h.test[t][MAIN_METRIC[t]] for t in tasks}
        base = {t: chance(self.corpus, t) for t in tasks}
        setup = f"{s['sharing']} + {s['weighting']}" + (" (on parameters)" if on_parameters else "")
        return dict(kind="multi-task", setup=setup, settings=s, scores=scores,
                    chance=base, curves={t: [e["val"][t][MAIN_METRIC[t]] for e in h.epochs] for t in tasks},
                    seconds=round(h.seconds, 1))

    def _meta(self, s: dict, progress) -> dict:
        key = (s["family"], s["k_shot"])
        if key not in self.samplers:
            self.samplers[key] = EpisodeSampler(self.meta_corpus, s["family"], n_way=5, k_shot=s["k_shot"],
                                                queries=2)
        bound_shots(self.controls["k_shot"], self.shot_bounds, self.samplers[key], s["k_shot"])
        method = make_method(s["method"], self.samplers[key], seed=s["seed"])
        method.meta_train(s["meta_steps"] if method.meta_trained else 0, 8, seed=s["seed"], progress=progress)
        result = evaluate(method, self.samplers[key], tasks=100, steps=5, seed=s["seed"] + 1)
        progress(1, 1)
        name = f"{s['family']} accuracy"
        return dict(kind="meta-learning", setup=f"{s['method']}, {s['k_shot']}-shot", settings=s,
                    scores={name: result["accuracy"][0]}, chance={name: 1 / self.samplers[key].n_way}, curves={name: result["curve"]},
                    seconds=round(method.seconds, 1))

    def records(self) -> list:
        """Every run of the session, oldest first, as plain data (what ``export`` writes)."""
        return list(self.cache.values())

    def export(self, path) -> Path:
        """Write every run as JSON to ``path`` atomically (a crash never leaves a half-written file)."""
        path = Path(path).expanduser()
        if path.is_dir():
            raise IsADirectoryError(f"{path} is a folder; give a file name such as {path / 'playground.json'}")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(self.records(), f, indent=1)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
        return path

    def _export_clicked(self) -> None:
        try:
            path = self.export(self.path.value)
            self.status.value = f"exported {len(self.cache)} runs to {path}"
            if "google.colab" in sys.modules:          # Colab's files vanish with the runtime: hand over a copy
                from google.colab import files

                files.download(str(path))
                self.status.value += (" (on Colab's disk, deleted when the runtime ends; your browser is "
                                      "downloading a copy)")
        except Exception as error:
            self.last_error = error
            self.status.value = f"<span style='color:#b00'>{type(error).__name__}: {error}</span>"

    def show(self, result, s: dict) -> list:
        import matplotlib.pyplot as plt

        runs = self.records()
        rows = []
        for k, r in enumerate(runs):
            row = {"#": k, "kind": r["kind"], "setup": r["setup"], "seed": r["settings"]["seed"]}
            row.update({name: r["scores"].get(name, "") for name in self._columns(runs)})
            row["mean gain over chance"] = float(np.mean([v - r["chance"][n] for n, v in r["scores"].items()]))
            row["seconds"] = r["seconds"]
            rows.append(row)
        fig, (left, right) = plt.subplots(1, 2, figsize=(12, 3.8))
        columns = self._columns(runs)
        width = 0.8 / max(len(runs), 1)
        for k, r in enumerate(runs):
            x = [columns.index(n) + k * width for n in r["scores"]]
            left.bar(x, [r["scores"][n] for n in r["scores"]], width, label=f"#{k} {r['setup']}")
            left.scatter(x, [r["chance"][n] for n in r["scores"]], marker="_", s=200, color="k", zorder=3)
        left.set_xticks([i + 0.4 - width / 2 for i in range(len(columns))], columns, rotation=20, fontsize=7)
        left.set(ylabel="score (black: chance)", ylim=(0, 1), title="every run of the session")
        left.legend(fontsize=6)
        for name, curve in result["curves"].items():
            right.plot(curve, marker=".", label=name)
        right.set(xlabel="adaptation steps" if result["kind"] == "meta-learning" else "epoch",
                  ylabel="score", ylim=(0, 1), title=f"this run: {result['setup']}")
        right.legend(fontsize=7)
        fig.tight_layout()
        return [html_table(rows), fig]

    @staticmethod
    def _columns(runs) -> list:
        return list(dict.fromkeys(n for r in runs for n in r["scores"]))
