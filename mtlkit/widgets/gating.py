"""Notebook 03's panel: switch tasks on and off, retrain a gated, attention or experts model, watch gates move."""
from __future__ import annotations

import ipywidgets as W
import numpy as np

from .. import plots
from ..config import pick
from ..metrics import MAIN_METRIC
from ..models.multitask import GATES
from ..train import TASK_ORDER, fit
from .panel import Panel, html_table

GATING_SHARINGS = ("gated", "layer_attention", "mtan", "mmoe", "ple")
"""The sharing strategies of notebook 03, which the panel offers."""


class GatingPanel(Panel):
    """A checkbox per task, a sharing (gated, layer_attention, mtan, mmoe, ple), what a gate attends over; Run retrains.

    Introduced in notebooks/03_attention_task_gating.ipynb.
    """

    title = "Attention task gating"

    def __init__(self, corpus, trainer=fit, epochs: int | None = None):
        self.corpus, self.trainer = corpus, trainer
        self.task_names = [t for t in TASK_ORDER if t in corpus.tasks() and t != "accent"]
        controls = {t: W.Checkbox(value=True, description=t, indent=False, layout=W.Layout(width="110px"))
                    for t in self.task_names}
        controls.update(
            sharing=W.ToggleButtons(options=list(GATING_SHARINGS), value="gated", description="sharing"),
            gate=W.Dropdown(options=GATES, value="channel", description="gate over"),
            epochs=W.IntSlider(value=epochs or pick(12, 8), min=1, max=40, description="epochs"))
        super().__init__(controls)

    def layout(self) -> list:
        boxes = [self.controls[t] for t in self.task_names]
        rest = [w for name, w in self.controls.items() if name not in self.task_names]
        return [W.HBox([W.Label("tasks:")] + boxes)] + rest

    def settings(self) -> dict:
        s = super().settings()
        s["tasks"] = [t for t in self.task_names if s.pop(t)]
        if s["sharing"] != "gated":
            s.pop("gate")
        return s

    def compute(self, s: dict, progress):
        if not s["tasks"]:
            raise ValueError(f"tick at least one task; tasks: {', '.join(self.task_names)}")
        options = dict(gate=s["gate"]) if "gate" in s else {}
        return self.trainer(self.corpus, s["tasks"], sharing=s["sharing"], epochs=s["epochs"], progress=progress,
                            model_options=options)

    def show(self, history, s: dict) -> list:
        rows = []
        for h in self.cache.values():
            row = dict(tasks="+".join(h.config["tasks"]), sharing=h.config["sharing"])
            row.update({t: h.test[t][MAIN_METRIC[t]] if t in h.test else "off" for t in self.task_names})
            if h.gates:
                row.update({f"gate {t}": float(np.mean(v)) for t, v in h.gates.items()})
            rows.append(row)
        if history.expert_weights:
            model = history.model
            own = len(next(iter(model.levels[-1].own.values()))) if model.sharing == "ple" else 0
            picture = plots.expert_weights(history.expert_weights, own=own, title=f"{model.sharing}: mean gate weights")
        else:
            picture = plots.gates(history) if history.gates else plots.layer_weights(history)
        return [picture, "<p>every run so far (gate t: mean gate of task t; gated ones start at 0.88):</p>",
                html_table(rows)]
