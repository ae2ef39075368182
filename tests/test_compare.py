"""mtlkit compare: the grid, its cache, delta_m against separate, the table and the command line."""
import json
from pathlib import Path

import pytest

import mtlkit.compare as C
from mtlkit.cli import main
from mtlkit.data import make_corpus


@pytest.fixture(scope="module")
def tiny():
    return make_corpus("easy", speakers=5, utterances_per_speaker=8, held_out_speakers=1, seed=9)


def test_grid_is_cached_and_measured_against_separate(tiny, tmp_path, monkeypatch):
    calls = []
    real_fit = C.fit
    monkeypatch.setattr(C, "fit", lambda *a, **k: calls.append(k) or real_fit(*a, **k))
    options = dict(tasks=["vad", "speaker"], sharings=["hard", "gated"], weightings=["equal"], seeds=[0],
                   out=tmp_path / "r.json", progress=False, epochs=1, model_options=dict(width=16))
    records = C.compare(tiny, **options)
    assert len(calls) == 3                                   # separate baseline + hard + gated
    by = {r["config"]["sharing"]: r for r in records}
    assert by["separate"]["delta_m"] == 0.0
    gains = [by["hard"]["test"][t][m] / by["separate"]["test"][t][m] - 1
             for t, m in (("vad", "f1"), ("speaker", "accuracy")) if by["separate"]["test"][t][m] > 0]
    assert by["hard"]["delta_m"] == pytest.approx(100 * sum(gains) / len(gains))
    assert list(by["hard"]["gains"].values()) == pytest.approx([100 * g for g in gains])
    assert C.summarize(records)[1]["gains"]["vad"][0] == pytest.approx(100 * gains[0])
    assert len(json.loads((tmp_path / "r.json").read_text())) == 3
    C.compare(tiny, **options)
    assert len(calls) == 3                                   # nothing new to train
    C.compare(tiny, **dict(options, seeds=[0, 1]))
    assert len(calls) == 6                                   # only the new seed's three runs
    text = C.table(C.compare(tiny, **options))
    assert "separate" in text and "delta_m %" in text and "vad f1" in text


def test_records_keep_each_tasks_expert_weights_and_the_heatmap_draws_them(tiny, tmp_path):
    from mtlkit import plots

    records = C.compare(tiny, tasks=["vad", "speaker"], sharings=["ple"], weightings=["equal"], seeds=[0],
                        out=tmp_path / "r.json", progress=False, epochs=1, model_options=dict(width=16))
    by = {r["config"]["sharing"]: r for r in records}
    assert by["separate"]["expert_weights"] == {}
    weights = by["ple"]["expert_weights"]
    assert set(weights) == {"vad", "speaker"} and all(len(w) == 3 and abs(sum(w) - 1) < 1e-5 for w in weights.values())
    assert json.loads((tmp_path / "r.json").read_text())[1]["expert_weights"] == weights
    ax = plots.expert_weights(weights, own=1).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["own 1", "shared 1", "shared 2"]
    assert [t.get_text() for t in ax.texts] == [f"{v:.2f}" for t in ("vad", "speaker") for v in weights[t]]


def test_command_line_compare_on_a_folder(tiny, tmp_path, capsys, monkeypatch):
    """The printed table and the bar chart show the numbers the results JSON stores."""
    import matplotlib.image

    figures, real_plot = [], C.plot
    monkeypatch.setattr(C, "plot", lambda records, path: figures.append(real_plot(records, path)) or figures[-1])
    folder = tiny.save(tmp_path / "corpus")
    out = tmp_path / "res.json"
    assert main(["compare", "--data", str(folder), "--tasks", "vad,speaker", "--sharing", "hard",
                 "--weighting", "equal", "--epochs", "1", "--out", str(out), "--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    stored = {r["config"]["sharing"]: r for r in json.loads(out.read_text())}
    base, hard = stored["separate"]["test"], stored["hard"]["test"]
    gains = [hard[t][m] / base[t][m] - 1 for t, m in (("vad", "f1"), ("speaker", "accuracy")) if base[t][m] > 0]
    assert len(gains) == 2 and gains[0] != gains[1]            # both tasks count, each differently
    by_hand = 100 * sum(gains) / len(gains)
    head = lines.index(next(line for line in lines if line.startswith("sharing")))
    assert lines[head].split() == ["sharing", "weighting", "vad", "f1", "speaker", "accuracy", "delta_m", "%",
                                   "params", "s/run"]
    rows = {line.split()[0]: line.split() for line in lines[head + 2:head + 4]}
    for sharing, delta in (("separate", 0.0), ("hard", by_hand)):
        row, test = rows[sharing], stored[sharing]["test"]
        assert row[1] == "equal" and float(row[2]) == pytest.approx(test["vad"]["f1"], abs=5e-4)
        assert float(row[3]) == pytest.approx(test["speaker"]["accuracy"], abs=5e-4)
        assert float(row[4]) == pytest.approx(delta, abs=0.05) and int(row[5]) == stored[sharing]["n_parameters"]
    ax = figures[0].axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["separate / equal", "hard / equal"]
    assert [p.get_height() for p in ax.patches] == pytest.approx([0.0, by_hand])
    png = matplotlib.image.imread(out.with_suffix(".png"))
    assert png.shape[:2] == tuple(round(v * 100) for v in figures[0].get_size_inches()[::-1])
    again = ["compare", "--data", str(folder), "--tasks", "vad,speaker", "--sharing", "hard", "--weighting", "equal",
             "--epochs", "1", "--out", str(out), "--quiet"]
    assert main(again) == 0 and f"2 of 2 runs read from {out}" in capsys.readouterr().out
    assert main(again + ["--force"]) == 0 and f"0 of 2 runs read from {out}" in capsys.readouterr().out
    assert main(["compare", "--data", str(folder), "--tasks", "vad,emotion", "--weighting", "magic",
                 "--out", str(out), "--quiet"]) == 2
    assert "unknown weighting 'magic'" in capsys.readouterr().err


def test_cache_key_holds_the_code_version_and_force_retrains(tiny, tmp_path, monkeypatch, capsys):
    calls = []
    real_fit = C.fit
    monkeypatch.setattr(C, "fit", lambda *a, **k: calls.append(k) or real_fit(*a, **k))
    options = dict(tasks=["vad"], sharings=["hard"], weightings=["equal"], seeds=[0], out=tmp_path / "r.json",
                   progress=False, epochs=1, model_options=dict(width=16))
    assert C.code_version().startswith(__import__("mtlkit").__version__ + "+")
    records = C.compare(tiny, **options)
    assert len(calls) == 2 and all(r["config"]["code"] == C.code_version() for r in records)
    assert str(tmp_path / "r.json") in capsys.readouterr().out          # the cache path is printed
    C.compare(tiny, **options, force=True)
    assert len(calls) == 4                                               # force retrains the whole grid
    monkeypatch.setattr(C, "code_version", lambda: "0.0.0+edited")       # a student edits mtlkit/models
    C.compare(tiny, **options)
    assert len(calls) == 6                                               # old records are not reused


def test_code_version_changes_with_an_edit_to_what_trains_and_only_then(tmp_path):
    import shutil

    package = Path(C.__file__).resolve().parent
    copy = tmp_path / "mtlkit"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert C.code_version(copy) == C.code_version()
    for edited in ("models/heads.py", "weighting/pcgrad.py", "features.py", "metrics.py", "train.py"):
        before = C.code_version(copy)
        with open(copy / edited, "a") as f:
            f.write("\n# a learner's edit\n")
        assert C.code_version(copy) != before, edited
    before = C.code_version(copy)
    with open(copy / "widgets" / "panel.py", "a") as f:                 # does not change what compare trains
        f.write("\n# an edit elsewhere\n")
    assert C.code_version(copy) == before


def _package_imports(file, package):
    """The package's source files that ``file`` imports, followed through every relative import."""
    import ast

    seen, todo = set(), [file]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = path.parent
                for _ in range(node.level - 1):
                    base = base.parent
                parts = (node.module or "").split(".") if node.module else []
                target = base.joinpath(*parts)
                names = [target] if parts else [target / alias.name for alias in node.names]
                for t in names:
                    for candidate in (t.with_suffix(".py"), t / "__init__.py"):
                        if candidate.is_file():
                            todo.append(candidate)
                            if candidate.name == "__init__.py":   # a package: all of it may run
                                todo.extend(candidate.parent.glob("*.py"))
    return seen


def test_code_sources_cover_every_module_a_compare_run_executes():
    package = Path(C.__file__).resolve().parent
    imported = {p.relative_to(package).as_posix() for p in _package_imports(package / "compare.py", package)}
    covered = {f for f in imported if any(f == s or f.startswith(s + "/") for s in C.CODE_SOURCES)}
    # Where the files, the devices and the progress bars come from does not change a run's numbers.
    assert imported - covered <= {"__init__.py", "config.py", "device.py", "progress.py"}, imported - covered
    assert {"models/heads.py", "weighting/mgda.py", "features.py", "metrics.py"} <= covered
