"""Notebook 02's panel: one sharing strategy at a time, with a leaderboard of every run of the session."""
from __future__ import annotations

import ipywidgets as W

from ..config import pick
from ..metrics import MAIN_METRIC, delta_m
from ..models import SHARINGS
from ..train import fit
from .panel import Panel, html_table


class SharingPanel(Panel):
    """Pick a sharing strategy, soft sharing's lambda and a seed; Run trains it on ``tasks``.

    The leaderboard lists every run so far, with delta_m% against ``separate`` of the same seed once that
    has been run. Introduced in notebooks/02_hard_vs_soft_sharing.ipynb.
    """

    title = "Sharing strategies"

    def __init__(self, corpus, tasks=("vad", "speaker", "emotion"), trainer=fit, epochs: int | None = None):
        self.corpus, self.tasks, self.trainer = corpus, list(tasks), trainer
        controls = dict(
            sharing=W.Dropdown(options=SHARINGS, value="hard", description="sharing"),
            soft_lambda=W.FloatLogSlider(value=1e-2, base=10, min=-4, max=1, description="soft λ",
                                         readout_format=".0e"),
            seed=W.IntSlider(value=0, min=0, max=4, description="seed"),
            epochs=W.IntSlider(value=epochs or pick(12, 8), min=1, max=40, description="epochs"))
        super().__init__(controls)
        controls["sharing"].observe(lambda _: self._enable(), names="value")
        self._enable()

    def _enable(self) -> None:
        self.controls["soft_lambda"].disabled = self.controls["sharing"].value != "soft"

    def settings(self) -> dict:
        s = super().settings()
        if s["sharing"] != "soft":
            s.pop("soft_lambda")             # lambda means nothing to other strategies: same cache entry
        return s

    def compute(self, s: dict, progress):
        options = dict(soft_lambda=s["soft_lambda"]) if "soft_lambda" in s else {}
        history = self.trainer(self.corpus, self.tasks, sharing=s["sharing"], epochs=s["epochs"], seed=s["seed"],
                               model_options=options, progress=progress)
        history.tower_spread = history.model.tower_spread()
        return history

    def show(self, history, s: dict) -> list:
        runs = list(self.cache.values())
        base = {(h.config["seed"], h.config["epochs"]): h.test for h in runs if h.config["sharing"] == "separate"}
        rows = []
        for h in runs:
            c = h.config
            row = dict(sharing=c["sharing"], λ=c["model_options"].get("soft_lambda", ""), seed=c["seed"],
                       epochs=c["epochs"])
            row.update({t: h.test[t][MAIN_METRIC[t]] for t in self.tasks})
            same = base.get((c["seed"], c["epochs"]))
            row["delta_m %"] = delta_m(h.test, same) if same else "run separate"
            row.update(parameters=h.n_parameters, spread=h.tower_spread, seconds=round(h.seconds, 1))
            rows.append(row)
        note = ("<p>spread: relative distance of the towers from their mean (0 = one shared set of weights)."
                " delta_m% compares with <code>separate</code> at the same seed and epochs.</p>")
        return [html_table(rows), note]
