"""The mtlkit command line."""
import subprocess
import sys
from pathlib import Path

import pytest

from mtlkit.cli import main


def test_corpus_make_then_info(tmp_path, capsys):
    out = tmp_path / "corpus"
    assert main(["corpus", "make", "--out", str(out), "--speakers", "4", "--utterances-per-speaker", "5",
                 "--preset", "hard", "--seed", "2"]) == 0
    assert "wrote 20 utterances" in capsys.readouterr().out
    assert (out / "metadata.csv").is_file() and len(list((out / "wavs").iterdir())) == 20
    assert main(["corpus", "info", str(out)]) == 0
    info = capsys.readouterr().out
    assert "utterances: 20   speakers: 4" in info and "preset hard" in info
    assert "tasks: vad, speaker, emotion, keyword, accent" in info and "heldout=5" in info


def test_errors_are_one_line_with_status_2(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("x")
    assert main(["corpus", "make", "--out", str(tmp_path), "--speakers", "2"]) == 2
    assert "not empty" in capsys.readouterr().err
    assert main(["corpus", "info", str(tmp_path / "nope")]) == 2
    assert "nope does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        main(["corpus", "make", "--out", str(tmp_path / "x"), "--preset", "medium"])
    assert stop.value.code == 2 and "invalid choice: 'medium' (choose from" in capsys.readouterr().err


def test_corpus_make_refuses_an_unusable_output_before_any_work(tmp_path, monkeypatch, capsys):
    """An existing file or a non-empty folder as --out: one line, status 2, and no synthesis was started."""
    import mtlkit.cli as cli

    started = []
    monkeypatch.setattr(cli, "build_corpus", lambda config: started.append(config))
    (tmp_path / "taken.txt").write_text("mine")
    for out, says in ((tmp_path / "taken.txt", "taken.txt is a file"), (tmp_path, "exists and is not empty")):
        assert main(["corpus", "make", "--out", str(out), "--speakers", "2"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("mtlkit: error: ") and says in err
    assert started == [] and (tmp_path / "taken.txt").read_text() == "mine"


def test_an_output_folder_that_cannot_be_made_is_one_line_with_status_2(tmp_path, monkeypatch, capsys, clean_corpus):
    """Under a file or where nobody may write (PermissionError): one line, no traceback, before any synthesis."""
    import os

    import mtlkit.cli as cli

    started = []
    monkeypatch.setattr(cli, "build_corpus", lambda config: started.append(config) or clean_corpus)
    (tmp_path / "taken.txt").write_text("mine")
    cases = [(tmp_path / "taken.txt" / "corpus" / "deeper", ("taken.txt is a file, so no folder can be made",))]
    if os.path.isdir("/sys/kernel"):                                  # not even root may write there
        cases.append((Path("/sys/kernel/mtlkit-corpus"), ("cannot write in /sys/kernel",)))
    for out, says in cases:
        assert main(["corpus", "make", "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("mtlkit: error: ") and any(s in err for s in says), err
    assert started == [] and (tmp_path / "taken.txt").read_text() == "mine"


def test_an_espeak_failure_is_named_in_its_first_line_with_status_1(monkeypatch, capsys, tmp_path):
    """A worker that fails says its exit status and last line first; the CLI prints it with status 1, not 2."""
    import mtlkit.cli as cli
    from mtlkit.data.espeak import EspeakError, speak_in_fresh_processes

    script = dict(words=["seven"], prosody={}, rate_wpm=175, gaps=[0.1, 0.1])
    with pytest.raises(EspeakError) as failed:
        speak_in_fresh_processes([("", "xx-no-such-voice", [script])])
    first = str(failed.value).splitlines()[0]
    assert first.startswith("eSpeak NG worker process failed (exit status 1): ValueError: eSpeak NG has no voice "
                            "'xx-no-such-voice+"), first
    monkeypatch.setattr(cli, "build_corpus", lambda config: (_ for _ in ()).throw(failed.value))
    assert main(["corpus", "make", "--out", str(tmp_path / "c"), "--speakers", "2"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"mtlkit: error: {first}\n")            # then the worker's own output, for the details


def test_the_installed_console_script_reports_errors_in_one_line_with_status_2(tmp_path):
    """Through the `mtlkit` executable pip installed, as a user types it."""
    import shutil
    from pathlib import Path

    script = Path(sys.executable).with_name("mtlkit")
    script = str(script) if script.exists() else shutil.which("mtlkit")
    if script is None:
        pytest.skip("no mtlkit console script next to this Python or on PATH")
    (tmp_path / "taken.txt").write_text("mine")
    cases = [(["corpus", "make", "--out", str(tmp_path / "taken.txt")], "is a file"),
             (["corpus", "info", str(tmp_path / "nope")], "does not exist"),
             (["compare", "--weighting", "nash"], "unknown weighting 'nash'"),
             (["meta", "--methods", "mamal"], "unknown method 'mamal'")]
    for argv, says in cases:
        done = subprocess.run([script, *argv], capture_output=True, text=True, timeout=120)
        assert done.returncode == 2 and done.stdout == "", (argv, done)
        assert done.stderr.count("\n") == 1 and says in done.stderr and "Traceback" not in done.stderr, (argv, done)
    version = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("mtlkit ")


def test_console_script_is_installed():
    done = subprocess.run([sys.executable, "-m", "mtlkit.cli", "corpus", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "make" in done.stdout and "info" in done.stdout


def test_meta_command_writes_results_and_a_figure(tmp_path, capsys):
    import json

    from mtlkit.cli import main

    out = tmp_path / "meta"
    code = main(["meta", "--methods", "protonet,scratch", "--shots", "1,2", "--meta-steps", "3", "--meta-batch", "2",
                 "--tasks", "5", "--steps", "2", "--out", str(out), "--quiet"])
    assert code == 0
    records = json.loads((out / "results.json").read_text())
    assert [(r["method"], r["k_shot"]) for r in records] == [("protonet", 1), ("scratch", 1), ("protonet", 2),
                                                             ("scratch", 2)]
    assert all(len(r["curve"]) == 3 and 0 <= r["accuracy"][0] <= 1 for r in records)
    assert (out / "results.png").stat().st_size > 1000
    assert main(["meta", "--methods", "maml", "--steps", "0", "--out", str(out)]) == 2
    assert "steps=0: fast adaptation needs at least one inner step" in capsys.readouterr().err


def test_every_meta_option_reaches_its_own_parameter(tmp_path, monkeypatch):
    """Each flag gets a value no other flag has, so two crossed wires show up as two wrong values."""
    import mtlkit.data as data
    import mtlkit.meta.experiment as experiment

    corpora, calls = [], []
    monkeypatch.setattr(data, "make_corpus", lambda preset, **k: corpora.append((preset, k)) or "the corpus")
    monkeypatch.setattr(experiment, "meta_compare", lambda corpus, **k: calls.append((corpus, k)) or [])
    assert main(["meta", "--methods", "maml,protonet", "--shots", "2,3", "--steps", "7", "--inner-steps", "4",
                 "--inner-lr", "0.25", "--outer-lr", "0.004", "--encoder", "cnn_lstm", "--label", "keyword",
                 "--meta-steps", "11", "--meta-batch", "6", "--tasks", "13", "--n-way", "8", "--queries", "9",
                 "--seed", "21", "--corpus-seed", "17", "--optimizer", "sgd", "--held-out", "x, y",
                 "--family", "accent", "--preset", "hard", "--out", str(tmp_path), "--quiet"]) == 0
    assert corpora == [("hard", dict(seed=17))]
    (corpus, given), = calls
    assert corpus == "the corpus"
    assert given == dict(
        family="accent", methods=["maml", "protonet"], shots=[2, 3], steps=7, inner_steps=4, inner_lr=0.25,
        outer_lr=0.004, encoder="cnn_lstm", label="keyword", meta_steps=11, meta_batch=6, tasks=13, n_way=8,
        queries=9, seed=21, optimizer="sgd", held_out=["x", "y"], out=str(tmp_path), progress=False)
    calls.clear()
    assert main(["meta", "--family", "language", "--out", str(tmp_path)]) == 0
    assert corpora[-1] == ("languages", dict(seed=0))
    assert "inner_lr" not in calls[0][1] and "inner_steps" not in calls[0][1]     # each method's own defaults


def test_meta_command_runs_cavia_with_each_method_s_own_inner_loop_unless_told(tmp_path):
    import json

    out = tmp_path / "cavia"
    assert main(["meta", "--methods", "cavia,anil", "--shots", "1", "--meta-steps", "2", "--meta-batch", "2",
                 "--tasks", "3", "--steps", "2", "--out", str(out), "--quiet"]) == 0
    cavia, anil = json.loads((out / "results.json").read_text())
    assert cavia["method"] == "cavia" and len(cavia["curve"]) == 3 and 0 <= cavia["accuracy"][0] <= 1
    assert (cavia["inner_lr"], anil["inner_lr"]) == (1.0, 0.1)              # CAVIA's default, everyone else's
    assert main(["meta", "--methods", "cavia", "--shots", "1", "--meta-steps", "1", "--meta-batch", "2", "--tasks",
                 "2", "--steps", "1", "--inner-lr", "0.5", "--inner-steps", "1", "--out", str(out), "--quiet"]) == 0
    assert json.loads((out / "results.json").read_text())[0]["inner_lr"] == 0.5


def _subparsers(p):
    import argparse

    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield name, sub
                yield from ((f"{name} {n}", s) for n, s in _subparsers(sub))


def test_every_option_of_every_command_explains_itself_with_its_default_and_choices(capsys):
    """Help lines come from the registries the library uses, so a new sharing or method shows up by itself."""
    from mtlkit import __version__
    from mtlkit.cli import parser
    from mtlkit.meta.methods import METHODS
    from mtlkit.models.multitask import SHARINGS
    from mtlkit.weighting import WEIGHTINGS

    top = parser()
    commands = dict(_subparsers(top))
    assert {"corpus make", "corpus info", "corpus download", "compare", "meta"} <= set(commands)
    for name, sub in commands.items():
        for action in sub._actions:
            if action.dest not in ("help", "command", "action"):
                assert action.help, f"mtlkit {name} {action.option_strings or action.dest} has no help"
    text = commands["compare"].format_help()
    assert all(s in text for s in SHARINGS) and all(w in text for w in WEIGHTINGS) and "nash_mtl" in text
    assert "(default: equal,uncertainty,dwa)" in text
    assert all(m in commands["meta"].format_help() for m in METHODS)
    with pytest.raises(SystemExit) as stop:
        top.parse_args(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.strip() == f"mtlkit {__version__}"


@pytest.mark.parametrize("argv, message", [
    (["compare", "--sharing", "hard,hierarchcal"], "unknown sharing 'hierarchcal'; valid sharings: separate, hard"),
    (["compare", "--weighting", "nash"], "unknown weighting 'nash'; valid weightings: equal, fixed"),
    (["compare", "--tasks", "vad,emotions"], "unknown task 'emotions'; valid tasks: vad, speaker"),
    (["compare", "--seeds", "0,one"], "--seeds takes integers separated by commas, got 'one'"),
    (["meta", "--methods", "protonet,mamal"], "unknown method 'mamal'; valid methods: maml, fomaml"),
    (["meta", "--methods", "cavia,cavai"], "unknown method 'cavai'; valid methods: maml, fomaml"),
    (["meta", "--shots", "0,5"], "--shots takes integers >= 1, got 0"),
    (["compare", "--weighting", ","], "--weighting is empty; valid weightings: equal, fixed"),
])
def test_comma_lists_are_checked_before_any_work(monkeypatch, capsys, argv, message):
    import mtlkit.data as data

    monkeypatch.setattr(data, "make_corpus", lambda *a, **k: pytest.fail("a corpus was built before the check"))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
