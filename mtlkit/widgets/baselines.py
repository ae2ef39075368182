"""Notebook 01's panel: train one task alone and see its metrics, learning curves and confusion matrix."""
from __future__ import annotations

import ipywidgets as W

from .. import plots
from ..train import TASK_ORDER, fit
from .panel import Panel, html_table


class BaselinePanel(Panel):
    """Pick a task, epochs, encoder width and pooling; Run trains the task alone (``sharing='hard'``, one head).

    Introduced in notebooks/01_single_task_baselines.ipynb.
    """

    title = "Single-task baseline"

    def __init__(self, corpus, trainer=fit, epochs: int | None = None):
        self.corpus, self.trainer = corpus, trainer
        tasks = [t for t in TASK_ORDER if t in corpus.tasks()]
        super().__init__(dict(
            task=W.Dropdown(options=tasks, value="emotion" if "emotion" in tasks else tasks[0], description="task"),
            epochs=W.IntSlider(value=epochs or 20, min=1, max=40, description="epochs"),   # notebook 01's budget
            width=W.Dropdown(options=[32, 64, 128], value=64, description="width"),
            pooling=W.Dropdown(options=["mean", "attentive"], value="attentive", description="pooling")))

    def compute(self, s: dict, progress):
        return self.trainer(self.corpus, [s["task"]], sharing="hard", epochs=s["epochs"], progress=progress,
                            model_options=dict(width=s["width"], pooling=s["pooling"]))

    def show(self, history, s: dict) -> list:
        task = s["task"]
        rows = [dict(task=task, **history.test[task], parameters=history.n_parameters,
                     seconds=round(history.seconds, 1))]
        return [html_table(rows), plots.curves(history), plots.confusion_matrix(history, task)]
