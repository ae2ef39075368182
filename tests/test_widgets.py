"""Widget panels driven headlessly: set values, click Run, check what the trainer got and what is shown."""
import numpy as np

from mtlkit.train import fit
from mtlkit.widgets import BaselinePanel, EmbeddingPanel, GatingPanel, SharingPanel, WeightingPanel, render


class Spy:
    """A trainer that records its arguments and trains for real, one epoch."""

    def __init__(self):
        self.calls = []

    def __call__(self, corpus, tasks, **options):
        self.calls.append(dict(tasks=list(tasks), **options))
        return fit(corpus, tasks, **dict(options, epochs=1))


def mimes(panel):
    return [m for o in panel.output.outputs for m in o.get("data", {"stream": 1})]


def html(panel):
    return "".join(o["data"].get("text/html", "") for o in panel.output.outputs if "data" in o)


def test_render_shows_figures_html_text_and_audio():
    import ipywidgets as W
    import matplotlib.pyplot as plt
    from IPython.display import Audio

    out = W.Output()
    render(out, [plt.figure(), "<b>hi</b>", "plain", Audio(np.ones(160), rate=16000)])
    kinds = [list(o.get("data", {"stream": 1}))[0] for o in out.outputs]
    assert kinds == ["image/png", "text/html", "stream", "text/html"]
    assert "<audio" in out.outputs[3]["data"]["text/html"]
    render(out, [])
    assert out.outputs == ()


def test_baseline_panel_trains_the_chosen_task_and_caches(clean_corpus):
    spy = Spy()
    panel = BaselinePanel(clean_corpus, trainer=spy)
    c = panel.controls
    c["task"].value, c["epochs"].value, c["width"].value, c["pooling"].value = "speaker", 5, 32, "mean"
    assert all(not w.continuous_update for w in c.values() if hasattr(w, "continuous_update"))
    panel.run_button.click()
    assert panel.last_error is None
    assert spy.calls[-1]["tasks"] == ["speaker"] and spy.calls[-1]["epochs"] == 5
    assert spy.calls[-1]["model_options"] == dict(width=32, pooling="mean")
    assert mimes(panel).count("image/png") == 2 and "speaker" in html(panel)
    assert panel.progress.value == panel.progress.max > 1
    panel.run_button.click()
    assert len(spy.calls) == 1 and "cache" in panel.status.value


def test_sharing_panel_sends_lambda_only_to_soft_and_reports_delta_m(clean_corpus):
    spy = Spy()
    panel = SharingPanel(clean_corpus, tasks=("vad", "speaker"), trainer=spy)
    c = panel.controls
    assert c["soft_lambda"].disabled
    c["sharing"].value = "soft"
    assert not c["soft_lambda"].disabled
    c["soft_lambda"].value = 1.0
    panel.run_button.click()
    assert spy.calls[-1]["sharing"] == "soft" and spy.calls[-1]["model_options"] == dict(soft_lambda=1.0)
    assert "run separate" in html(panel)
    c["sharing"].value = "separate"
    panel.run_button.click()
    assert spy.calls[-1]["model_options"] == {} and spy.calls[-1]["tasks"] == ["vad", "speaker"]
    assert "run separate" not in html(panel) and html(panel).count("<tr>") == 3


def test_gating_panel_retrains_on_the_ticked_tasks(clean_corpus):
    spy = Spy()
    panel = GatingPanel(clean_corpus, trainer=spy)
    c = panel.controls
    c["vad"].value = c["keyword"].value = False
    c["gate"].value = "frame"
    panel.run_button.click()
    assert spy.calls[-1]["tasks"] == ["speaker", "emotion"] and spy.calls[-1]["sharing"] == "gated"
    assert spy.calls[-1]["model_options"] == dict(gate="frame")
    assert "image/png" in mimes(panel) and "gate speaker" in html(panel)
    c["sharing"].value = "layer_attention"
    panel.run_button.click()
    assert spy.calls[-1]["model_options"] == {} and "image/png" in mimes(panel)
    for t in panel.task_names:
        c[t].value = False
    panel.run_button.click()
    assert isinstance(panel.last_error, ValueError) and "tick at least one task" in html(panel)
    assert len(spy.calls) == 2


def test_weighting_panel_fixed_weights_adversary_and_pareto_view(clean_corpus):
    spy = Spy()
    panel = WeightingPanel(clean_corpus, tasks=("speaker", "emotion"), trainer=spy)
    c = panel.controls
    assert c["w_speaker"].disabled and c["strength"].disabled
    c["weighting"].value = "fixed"
    c["w_speaker"].value, c["w_emotion"].value = 0.2, 1.5
    panel.run_button.click()
    assert spy.calls[-1]["weighting"] == "fixed"
    assert spy.calls[-1]["weighting_options"] == dict(weights=dict(speaker=0.2, emotion=1.5))
    assert spy.calls[-1]["adversary"] is None
    c["weighting"].value, c["adversary"].value, c["strength"].value = "pcgrad", True, 2.0
    panel.run_button.click()
    assert spy.calls[-1]["adversary"] == "speaker" and spy.calls[-1]["adversary_strength"] == 2.0
    assert spy.calls[-1]["weighting_options"] == {}
    before = panel.output.outputs
    panel.views["x"].value, panel.views["y"].value = "emotion", "speaker"
    assert panel.output.outputs != before and len(spy.calls) == 2
    assert "fixed(0.2,1.5)" in html(panel) and "pcgrad+adv2" in html(panel)


def test_embedding_panel_probes_every_label_and_plays_the_picked_point(clean_corpus):
    runs = {"hard": fit(clean_corpus, ["speaker", "emotion"], epochs=2, progress=False)}
    test = clean_corpus.split("test")
    panel = EmbeddingPanel(runs, test)
    panel.controls["layer"].value = "lstm2"
    panel.run_button.click()
    assert panel.last_error is None
    probes = panel.result[0]["probes"]
    assert set(probes) == {"speaker", "emotion", "accent", "keyword"} and all(0 <= p <= 1 for p in probes.values())
    assert "image/png" in mimes(panel) and "<audio" in html(panel)
    panel.views["point"].value = 3
    assert f"point 3: speaker {test[3].speaker}" in html(panel) and len(panel.cache) == 1
    panel.views["colour"].value = "emotion"
    assert len(panel.cache) == 1


def test_panels_reject_bad_settings_with_the_valid_choices(clean_corpus):
    panel = SharingPanel(clean_corpus, tasks=("speaker", "nonsense"), trainer=fit)
    panel.controls["epochs"].value = 1
    panel.run_button.click()
    assert "unknown task 'nonsense'" in str(panel.last_error) and "valid tasks" in html(panel)
