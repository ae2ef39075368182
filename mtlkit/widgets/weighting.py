"""Notebook 04's panel: a loss weighting (fixed weights on sliders), optional gradient reversal; Pareto view."""
from __future__ import annotations

import ipywidgets as W

from .. import plots
from ..config import pick
from ..metrics import MAIN_METRIC
from ..train import fit
from ..weighting import WEIGHTINGS
from .panel import Panel, html_table


class WeightingPanel(Panel):
    """Pick a weighting (and, for ``fixed``, a weight per task); Run trains hard sharing on ``tasks``.

    ``adversary`` adds a gradient-reversal speaker classifier on the emotion branch. The Pareto view plots two
    tasks' metrics over every run so far. Introduced in notebooks/04_loss_weighting.ipynb.
    """

    title = "Loss weighting"

    def __init__(self, corpus, tasks=("vad", "speaker", "emotion", "keyword"), trainer=fit,
                 epochs: int | None = None):
        self.corpus, self.tasks, self.trainer = corpus, list(tasks), trainer
        controls = dict(weighting=W.Dropdown(options=list(WEIGHTINGS), value="uncertainty", description="weighting"))
        controls.update({f"w_{t}": W.FloatSlider(value=1.0, min=0.0, max=2.0, step=0.05, description=f"w {t}")
                         for t in self.tasks})
        controls.update(adversary=W.Checkbox(value=False, description="speaker adversary (gradient reversal)",
                                             indent=False, disabled="emotion" not in self.tasks),
                        strength=W.FloatSlider(value=1.0, min=0.1, max=3.0, step=0.1, description="strength"),
                        epochs=W.IntSlider(value=epochs or pick(12, 8), min=1, max=40, description="epochs"))
        utterance = [t for t in self.tasks if t != "vad"] or self.tasks
        views = dict(x=W.Dropdown(options=utterance, value=utterance[0], description="Pareto x"),
                     y=W.Dropdown(options=utterance, value=utterance[min(1, len(utterance) - 1)],
                                  description="Pareto y"))
        super().__init__(controls, views)
        for name in ("weighting", "adversary"):
            controls[name].observe(lambda _: self._enable(), names="value")
        self._enable()

    def _enable(self) -> None:
        for t in self.tasks:
            self.controls[f"w_{t}"].disabled = self.controls["weighting"].value != "fixed"
        self.controls["strength"].disabled = not self.controls["adversary"].value

    def settings(self) -> dict:
        s = super().settings()
        weights = {t: s.pop(f"w_{t}") for t in self.tasks}
        if s["weighting"] == "fixed":
            s["weights"] = weights
        if not s["adversary"]:
            s.pop("strength")
        return s

    def compute(self, s: dict, progress):
        options = dict(weights=s["weights"]) if "weights" in s else {}
        return self.trainer(self.corpus, self.tasks, sharing="hard", weighting=s["weighting"], epochs=s["epochs"],
                            weighting_options=options, adversary="speaker" if s["adversary"] else None,
                            adversary_strength=s.get("strength", 1.0), progress=progress)

    def _label(self, h) -> str:
        c = h.config
        name = c["weighting"]
        if c["weighting"] == "fixed":
            name += "(" + ",".join(f"{w:g}" for w in c["weighting_options"]["weights"].values()) + ")"
        return name + (f"+adv{c['adversary_strength']:g}" if c["adversary"] else "")

    def show(self, history, s: dict) -> list:
        v = self.view()
        runs = list(self.cache.values())
        rows = [dict(run=self._label(h), **{t: h.test[t][MAIN_METRIC[t]] for t in self.tasks},
                     seconds=round(h.seconds, 1)) for h in runs]
        points = [(self._label(h), h.test[v["x"]][MAIN_METRIC[v["x"]]], h.test[v["y"]][MAIN_METRIC[v["y"]]])
                  for h in runs]
        items = [plots.task_weights(history)]
        if history.cosines:
            items.append(plots.gradient_cosines(history))
        return items + [html_table(rows), plots.pareto(points, f"{v['x']} accuracy", f"{v['y']} accuracy")]
