"""Notebook 06's panel: adapt a meta-learnt model to one held-out speaker and compare before and after."""
from __future__ import annotations

import ipywidgets as W
import numpy as np

from .. import plots
from ..config import SAMPLE_RATE
from ..device import to_numpy
from .panel import Panel


def max_shots(sampler) -> int:
    """The largest K that every held-out task of ``sampler`` supports: its ``n_way``-th most frequent class
    keeps at least one utterance for the query (what :meth:`EpisodeSampler.episode` needs)."""
    return max(1, min((size - 1 for size in sampler.nth_class_sizes("test").values()), default=1))


SHOTS_UNTIL_KNOWN = 10
"""Where a K slider ends before the data of the chosen task family has been looked at (by the first Run)."""


def bound_shots(slider: W.IntSlider, known: dict, sampler, k_shot: int) -> None:
    """Stop ``slider`` at the largest K that ``sampler``'s train and test tasks allow (remembered per family in
    ``known``); ValueError naming that bound when ``k_shot`` is over it."""
    allowed = known[sampler.family] = min(sampler.max_shots("train"), sampler.max_shots("test"))
    slider.max = max(1, allowed)
    if k_shot > allowed:
        raise ValueError(f"K={k_shot} is more shots than the {sampler.family} tasks of this corpus allow: at most "
                         f"K={allowed} ({sampler.n_way} classes of K + {sampler.queries} queries each); the slider "
                         f"now stops there")


def follow_family(slider: W.IntSlider, known: dict, family: W.Dropdown) -> None:
    """When ``family`` changes, end ``slider`` where that family's data allows (if a Run has looked at it)."""
    family.observe(lambda change: setattr(slider, "max", max(1, known.get(change.new, SHOTS_UNTIL_KNOWN))),
                   names="value")


class AdaptationPanel(Panel):
    """Pick a method, a held-out speaker (or accent / condition), K shots and adaptation steps; Run adapts.

    ``methods`` maps a name to a meta-trained :class:`mtlkit.meta.Method`; ``sampler`` is their
    EpisodeSampler. Shows query accuracy and confusion matrices before and after adaptation, and the support
    examples to listen to. Introduced in notebooks/06_maml_fast_adaptation.ipynb.
    """

    NEW = {"speaker_adaptation": "speaker", "speaker_id": "set of speakers", "accent": "accent",
           "noise": "noise condition", "language": "language"}
    """What a held-out task of each family is, for the title."""

    def __init__(self, methods: dict, sampler, steps: int = 5):
        self.methods, self.sampler = dict(methods), sampler
        self.title = f"Fast adaptation to a new {self.NEW.get(sampler.family, 'task')}"
        tasks = sampler.tasks("test")
        controls = dict(method=W.Dropdown(options=list(self.methods), description="method"),
                        task=W.Dropdown(options=tasks, value=tasks[0], description=sampler.family.split("_")[0]),
                        k_shot=W.IntSlider(value=min(sampler.k_shot, max_shots(sampler)), min=1,
                                             max=max_shots(sampler), description="shots K"),
                        steps=W.IntSlider(value=steps, min=0, max=25, description="steps"),
                        draw=W.IntSlider(value=0, min=0, max=9, description="draw"))
        super().__init__(controls, dict(listen=W.IntSlider(value=0, min=0, max=0, description="listen to")))

    def compute(self, s: dict, progress):
        method = self.methods[s["method"]]
        episode = self.sampler.episode(s["task"], s["k_shot"], np.random.default_rng(s["draw"]))
        batch = self.sampler.tensors([episode])
        progress(0, 2)
        before = to_numpy(method.predict(batch, 0, [episode])[0])
        progress(1, 2)
        after = to_numpy(method.predict(batch, s["steps"], [episode])[0])
        progress(2, 2)
        return dict(episode=episode, before=before, after=after)

    def redraw(self) -> None:
        """End the listen slider at the shown result's last support example (computed or cached), then show it."""
        if self.result is not None:                 # a lower max clamps the value: its observer shows this result
            self.views["listen"].max = len(self.result[0]["episode"].support) - 1
        super().redraw()

    def show(self, r: dict, s: dict) -> list:
        from IPython.display import Audio

        import matplotlib.pyplot as plt

        e, n = r["episode"], len(r["episode"].classes)
        fig, axes = plt.subplots(1, 2, figsize=(9, 4))
        for ax, name, guess in ((axes[0], "before", r["before"]), (axes[1], f"after {s['steps']} steps",
                                                                   r["after"])):
            counts = np.zeros((n, n), int)
            np.add.at(counts, (e.query_y, guess), 1)
            plots.confusion(counts, e.classes, f"{name}: accuracy {np.mean(guess == e.query_y):.2f}", ax)
        k = min(self.view()["listen"], len(e.support) - 1)
        u = self.sampler.corpus[int(e.support[k])]
        about = (f"<p>{s['method']} on {e.task}: {len(e.support)} support and {len(e.query)} query utterances, "
                 f"chance {1 / n:.2f}. Support example {k}: <b>{e.classes[e.support_y[k]]}</b>, "
                 f"'{' '.join(u.words)}'</p>")
        return [fig, about, Audio(np.asarray(u.wave), rate=SAMPLE_RATE)]
