"""Widget panels driven headlessly: set values, click Run, check what the trainer got and what is shown."""
import numpy as np
import pytest

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
    c["sharing"].value = "ple"
    panel.run_button.click()
    assert spy.calls[-1]["sharing"] == "ple" and "image/png" in mimes(panel) and panel.last_error is None
    for t in panel.task_names:
        c[t].value = False
    panel.run_button.click()
    assert isinstance(panel.last_error, ValueError) and "tick at least one task" in html(panel)
    assert len(spy.calls) == 3


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


@pytest.fixture(scope="module")
def hard_run(clean_corpus):
    """Hard sharing trained on speaker and emotion for two epochs."""
    return fit(clean_corpus, ["speaker", "emotion"], epochs=2, progress=False)


def test_embedding_panel_probes_every_label_and_plays_the_picked_point(clean_corpus, hard_run):
    runs = {"hard": hard_run}
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


def test_embedding_panel_draws_and_probes_the_chosen_layer_of_the_chosen_head(clean_corpus, hard_run, monkeypatch):
    """The layer and head controls decide which embedding is projected and probed (checked against embed())."""
    import mtlkit.widgets.embedding as E
    from mtlkit.embeddings import embed, linear_probe

    drawn = []
    real = E.plots.embedding
    monkeypatch.setattr(E.plots, "embedding", lambda coords, labels, title, **k: drawn.append((coords, title))
                        or real(coords, labels, title, **k))
    test = clean_corpus.split("test")
    panel = EmbeddingPanel({"hard": hard_run}, test)
    seen = []
    for layer, task in (("lstm2", "emotion"), ("cnn", "emotion"), ("head", "emotion"), ("head", "speaker")):
        panel.controls["layer"].value, panel.controls["task"].value = layer, task
        panel.run_button.click()
        x = embed(hard_run, test, layer=layer, task=task)
        centred = x.astype(np.float64) - x.mean(0)
        top = np.linalg.eigh(centred.T @ centred)[1][:, ::-1][:, :2]          # PCA by hand: the top eigenvectors
        coords, title = drawn[-1]
        assert np.allclose(np.abs(coords), np.abs(centred @ top), atol=1e-4) and f"{layer} of {task}" in title
        assert panel.result[0]["probes"]["speaker"] == linear_probe(x, test.labels("speaker"))
        seen.append(coords)
    assert all(not np.allclose(np.abs(a), np.abs(b), atol=1e-3) for i, a in enumerate(seen) for b in seen[:i])


def test_panels_reject_bad_settings_with_the_valid_choices(clean_corpus):
    panel = SharingPanel(clean_corpus, tasks=("speaker", "nonsense"), trainer=fit)
    panel.controls["epochs"].value = 1
    panel.run_button.click()
    assert "unknown task 'nonsense'" in str(panel.last_error) and "valid tasks" in html(panel)


def test_adaptation_panel_shows_before_and_after_on_the_chosen_speaker(meta_corpus):
    from mtlkit.meta import EpisodeSampler, make_method
    from mtlkit.widgets import AdaptationPanel
    from mtlkit.widgets.adaptation import max_shots

    sampler = EpisodeSampler(meta_corpus, "speaker_adaptation", n_way=3, k_shot=2, queries=1)
    methods = {name: make_method(name, sampler, width=8) for name in ("scratch", "protonet")}
    panel = AdaptationPanel(methods, sampler)
    c = panel.controls
    c["task"].value, c["k_shot"].value, c["steps"].value = sampler.tasks("test")[1], 3, 4
    panel.run_button.click()
    assert panel.last_error is None
    r, _ = panel.result
    assert r["episode"].task == sampler.tasks("test")[1] and len(r["episode"].support) == 3 * 3
    batch, episode = sampler.tensors([r["episode"]]), r["episode"]
    by_hand = {k: methods["scratch"].predict(batch, k, [episode])[0].numpy() for k in (0, 4)}
    assert not np.array_equal(by_hand[0], by_hand[4])                      # four steps change the guesses here
    assert np.array_equal(r["before"], by_hand[0]) and np.array_equal(r["after"], by_hand[4])
    assert mimes(panel).count("image/png") == 1 and "<audio" in html(panel)
    panel.views["listen"].value = 5                           # a view: redraw, no new computation
    assert len(panel.cache) == 1 and "Support example 5" in html(panel)
    c["steps"].value = 0
    panel.run_button.click()
    assert np.array_equal(panel.result[0]["after"], by_hand[0])
    c["k_shot"].value = 10                          # more shots than a speaker has: the slider stops where all can
    assert c["k_shot"].value == c["k_shot"].max == max_shots(sampler) < 10
    too_many = 0
    for task in sampler.tasks("test"):                          # every speaker supports the max, one not more
        sampler.episode(task, c["k_shot"].max, np.random.default_rng(0))
        try:
            sampler.episode(task, c["k_shot"].max + 1, np.random.default_rng(0))
        except ValueError as error:
            too_many += "lower k_shot" in str(error)
    assert too_many >= 1


def test_adaptation_panel_listens_only_to_the_support_set_shown(meta_corpus):
    """The listen slider ends at the shown episode's last support example, also for a result from the cache,
    and setting it never redraws the previous result while a new one is computed."""
    from mtlkit.meta import EpisodeSampler, make_method
    from mtlkit.widgets import AdaptationPanel

    sampler = EpisodeSampler(meta_corpus, "speaker_adaptation", n_way=3, k_shot=2, queries=1)
    panel = AdaptationPanel({"protonet": make_method("protonet", sampler, width=8)}, sampler)
    shown, real_show = [], panel.show
    panel.show = lambda result, settings: shown.append(len(result["episode"].support)) or real_show(result, settings)
    c, listen = panel.controls, panel.views["listen"]
    c["k_shot"].value = 3
    panel.run_button.click()
    assert listen.max == 3 * 3 - 1
    listen.value = 8
    shown.clear()
    c["k_shot"].value = 1
    panel.run_button.click()
    assert listen.max == listen.value == 3 - 1 and set(shown) == {3}       # never the 9 of the previous result
    c["k_shot"].value = 3
    panel.run_button.click()
    assert "cache" in panel.status.value and listen.max == 8
    listen.value = 8
    assert "Support example 8" in html(panel) and panel.last_error is None


def _pitch(corpus, speakers):
    """The mean of the speakers' pitch ranges' midpoints, in Hz."""
    return np.mean([(corpus.speakers[s]["pitch_low"] + corpus.speakers[s]["pitch_high"]) / 2 for s in speakers])


def test_task_embedding_panel_trains_both_methods_and_maps_the_task_space(meta_corpus, monkeypatch):
    import torch

    import mtlkit.widgets.task_embedding as TE
    from mtlkit.embeddings import linear_r2
    from mtlkit.widgets import TaskEmbeddingPanel

    spaces, real = [], TE.task_space
    monkeypatch.setattr(TE, "task_space", lambda method, **k: spaces.append((method, *real(method, **k)))
                        or spaces[-1][1:])
    panel = TaskEmbeddingPanel(meta_corpus, meta_steps=10)
    c = panel.controls
    c["k_shot"].value, c["compare"].value = 2, "protonet"
    panel.run_button.click()
    assert panel.last_error is None
    r, _ = panel.result
    assert set(r["runs"]) == {"task_embedding", "protonet"} and r["coords"].shape == (80, 2)
    (method, z, episodes), = spaces
    tasks = method.sampler.tasks
    in_train = [e.task in tasks("train") for e in episodes]
    assert in_train == [True] * 40 + [False] * 40 == [s == "train" for s in r["split"]]
    with torch.no_grad():
        assert np.allclose(method.task_embeddings(method.sampler.tensors([episodes[79]]))[0].numpy(), z[79], atol=1e-5)
    centred = z.astype(np.float64) - z.mean(0)
    top = np.linalg.eigh(centred.T @ centred)[1][:, ::-1][:, :2]
    assert np.allclose(np.abs(r["coords"]), np.abs(centred @ top), atol=1e-4)
    pitch = [_pitch(meta_corpus, [e.task]) for e in episodes]          # each episode's speaker
    assert r["what"] == pytest.approx(pitch)
    assert r["score"] == linear_r2(z, pitch, groups=[e.task for e in episodes])
    assert mimes(panel).count("image/png") == 1 and f"R² of pitch (cross-validated, folds grouped by speaker) = " \
        f"{r['score']:.2f}" in html(panel)
    c["family"].value, c["compare"].value = "speaker_id", "scratch"
    panel.run_button.click()
    assert panel.last_error is None and len(panel.cache) == 2
    assert set(panel.result[0]["runs"]) == {"task_embedding", "scratch"}
    _, z, episodes = spaces[-1]
    pitch = [_pitch(meta_corpus, e.classes) for e in episodes]         # the mean over each episode's speakers
    assert panel.result[0]["what"] == pytest.approx(pitch) and len(set(pitch)) > 1
    assert panel.result[0]["score"] == linear_r2(z, pitch, groups=[e.task for e in episodes])
    speaker_id = c["k_shot"].max
    c["family"].value = "accent"
    c["k_shot"].value = c["k_shot"].max                       # the family's data is not known yet: 10
    panel.run_button.click()
    assert "more shots than the accent tasks of this corpus allow" in str(panel.last_error)
    assert c["k_shot"].max < 10 and len(panel.cache) == 2     # bounded now; nothing was trained
    c["family"].value = "speaker_id"
    assert c["k_shot"].max == speaker_id


def test_playground_mixes_multi_task_and_meta_runs_and_exports_them(clean_corpus, meta_corpus, tmp_path):
    import json

    from mtlkit.meta import EpisodeSampler
    from mtlkit.widgets import PlaygroundPanel
    from mtlkit.widgets.adaptation import SHOTS_UNTIL_KNOWN

    spy = Spy()
    panel = PlaygroundPanel(clean_corpus, meta_corpus, trainer=spy, meta_steps=5)
    c = panel.controls
    assert c["method"].disabled and not c["sharing"].disabled
    for task, box in panel.task_boxes.items():
        box.value = task in ("vad", "speaker")
    c["sharing"].value, c["weighting"].value = "gated", "dwa"
    panel.run_button.click()
    assert panel.last_error is None
    assert spy.calls[-1]["tasks"] == ["vad", "speaker"] and spy.calls[-1]["sharing"] == "gated"
    assert spy.calls[-1]["weighting"] == "dwa"
    c["kind"].value = "meta-learning"
    assert c["sharing"].disabled and panel.task_boxes["vad"].disabled and not c["method"].disabled
    c["method"].value, c["k_shot"].value = "protonet", 2
    panel.run_button.click()
    assert panel.last_error is None and len(spy.calls) == 1
    records = panel.records()
    assert [r["kind"] for r in records] == ["multi-task", "meta-learning"]
    assert records[0]["chance"]["vad"] > 0.5 and records[1]["chance"] == {"speaker_adaptation accuracy": 0.2}
    assert "gated + dwa" in html(panel) and "protonet, 2-shot" in html(panel)
    bound = EpisodeSampler(meta_corpus, "speaker_adaptation", n_way=5, k_shot=1, queries=2)
    assert c["k_shot"].max == min(bound.max_shots("train"), bound.max_shots("test")) < SHOTS_UNTIL_KNOWN
    c["family"].value = "noise"                               # not looked at yet: the slider opens up again
    assert c["k_shot"].max == SHOTS_UNTIL_KNOWN
    c["k_shot"].value = SHOTS_UNTIL_KNOWN
    panel.run_button.click()                                  # more than the data allows: said before any training
    noise = EpisodeSampler(meta_corpus, "noise", n_way=5, k_shot=1, queries=2)
    allowed = min(noise.max_shots("train"), noise.max_shots("test"))
    assert f"K={SHOTS_UNTIL_KNOWN} is more shots than the noise tasks of this corpus allow: at most K={allowed}" \
        in str(panel.last_error) and c["k_shot"].max == max(1, allowed) and len(panel.records()) == 2
    c["family"].value = "speaker_adaptation"
    assert c["k_shot"].max == min(bound.max_shots("train"), bound.max_shots("test"))
    c["kind"].value = "multi-task"
    panel.run_button.click()                                  # same multi-task setting: from the cache
    assert len(spy.calls) == 1 and len(panel.records()) == 2 and "cache" in panel.status.value
    panel.path.value = str(tmp_path / "runs" / "session.json")
    panel.export_button.click()
    assert json.loads((tmp_path / "runs" / "session.json").read_text()) == json.loads(json.dumps(records))
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["session.json"]     # no temporary left
    panel.path.value = str(tmp_path)
    panel.export_button.click()
    assert isinstance(panel.last_error, IsADirectoryError) and "is a folder" in panel.status.value
    for box in panel.task_boxes.values():
        box.value = False
    panel.run_button.click()
    assert "tick at least one task" in str(panel.last_error) and "vad, speaker" in str(panel.last_error)


def test_playground_takes_gradients_on_parameters_for_hierarchical_sharing(clean_corpus, meta_corpus):
    from mtlkit.widgets import PlaygroundPanel

    spy = Spy()
    panel = PlaygroundPanel(clean_corpus, meta_corpus, trainer=spy)
    for task, box in panel.task_boxes.items():
        box.value = task in ("vad", "speaker")
    panel.controls["sharing"].value, panel.controls["weighting"].value = "hierarchical", "pcgrad"
    panel.run_button.click()                 # on the representation fit would refuse: disjoint supports
    assert panel.last_error is None and spy.calls[-1]["grad_on"] == "parameters"
    assert "hierarchical + pcgrad (on parameters)" in html(panel)
    panel.controls["weighting"].value = "dwa"                  # a weight-based method: nothing to choose
    panel.run_button.click()
    assert panel.last_error is None and "grad_on" not in spy.calls[-1]


def test_chance_is_the_majority_class_or_always_speech(clean_corpus):
    from collections import Counter

    from mtlkit.metrics import chance

    test = clean_corpus.split("test")
    counts = Counter(u.emotion for u in test)                  # by hand: the evaluated set's largest class
    assert chance(clean_corpus, "emotion") == max(counts.values()) / len(test) > 1 / 5   # unbalanced here
    held = clean_corpus.split("heldout")
    assert chance(clean_corpus, "speaker", "heldout") == max(Counter(u.speaker for u in held).values()) / len(held)
    p = np.concatenate([u.vad for u in test]).mean()
    assert abs(chance(clean_corpus, "vad") - 2 * p / (1 + p)) < 1e-12     # F1 with precision p, recall 1


def test_playground_export_in_colab_also_downloads_the_file(clean_corpus, tmp_path, monkeypatch):
    """Colab deletes /content when the runtime ends: the Export button hands the browser a copy and says why."""
    import sys
    import types

    from mtlkit.widgets import PlaygroundPanel

    downloaded = []
    colab = types.ModuleType("google.colab")
    colab.files = types.SimpleNamespace(download=downloaded.append)
    monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    sys.modules["google"].colab = colab
    panel = PlaygroundPanel(clean_corpus, trainer=Spy())
    panel.path.value = str(tmp_path / "session.json")
    panel.export_button.click()
    assert downloaded == [str(tmp_path / "session.json")] and (tmp_path / "session.json").is_file()
    assert "deleted when the runtime ends; your browser is downloading a copy" in panel.status.value
    monkeypatch.delitem(sys.modules, "google.colab")
    panel.export_button.click()                               # not in Colab: written, nothing downloaded
    assert len(downloaded) == 1 and "downloading" not in panel.status.value
