"""Notebook hygiene: every notebook starts with the Colab cell, runs on python3, is committed clean."""
import ast
import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_the_notebooks_are_numbered_from_00_without_gaps_and_every_one_cited_is_there():
    """The README and the library's docstrings ("Introduced in notebooks/...") name the notebooks independently."""
    import re

    root = NOTEBOOKS[0].parents[1]
    assert [p.name[:2] for p in NOTEBOOKS] == [f"{i:02d}" for i in range(len(NOTEBOOKS))]
    assert NOTEBOOKS[0].name == "00_corpus_tour.ipynb"
    texts = [(root / "README.md").read_text()] + [p.read_text() for p in (root / "mtlkit").rglob("*.py")]
    cited = {name for text in texts for name in re.findall(r"notebooks/(\d\d_\w+\.ipynb)", text)}
    assert cited <= {p.name for p in NOTEBOOKS}, sorted(cited - {p.name for p in NOTEBOOKS})
    assert len(cited) >= 11                                  # 00 to 10, each cited somewhere


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_clean(path):
    nb = json.loads(path.read_text())
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    assert "widgets" not in nb["metadata"], "widget state is committed"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    first = "".join(code[0]["source"])
    assert "'google.colab' in sys.modules" in first and "pip install" in first
    for cell in code:
        assert cell.get("outputs") == [] and cell.get("execution_count") is None, "outputs are committed"
    assert any("assert " in "".join(c["source"]) for c in code), "the notebook asserts nothing"
    for cell in code:
        lines = "".join(cell["source"]).splitlines()
        assert len(lines) <= 15, f"a code cell of {len(lines)} lines (at most 15): {lines[0]!r}"
    last = "".join(nb["cells"][-1]["source"])
    assert nb["cells"][-1]["cell_type"] == "markdown" and "?" in last, "no questions for the learner at the end"


def _shown_panels(nb):
    """The mtlkit.widgets panels a code cell builds and shows: its last line is the call or the name assigned it."""
    from IPython.core.inputtransformer2 import TransformerManager

    import mtlkit.widgets as widgets

    shown = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        body = ast.parse(TransformerManager().transform_cell("".join(cell["source"]))).body
        if not body or not isinstance(body[-1], ast.Expr):
            continue
        built = {t.id: n.value for n in body if isinstance(n, ast.Assign)
                 for t in n.targets if isinstance(t, ast.Name)}
        last = body[-1].value
        call = built.get(last.id) if isinstance(last, ast.Name) else last
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name):
            panel = getattr(widgets, call.func.id, None)
            if isinstance(panel, type) and issubclass(panel, widgets.Panel):
                shown.append(call.func.id)
    return shown


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if p.name[:2] != "00"], ids=lambda p: p.name)
def test_lesson_notebooks_have_formulas_and_a_widget_panel(path):
    nb = json.loads(path.read_text())
    text = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    assert "$$" in text, "no formula"
    assert _shown_panels(nb), "no cell builds and shows a panel of mtlkit.widgets"


def test_headers_and_readme_table_follow_the_repository_url_in_pyproject():
    from mtlkit import headers

    assert headers.drift() == [], "run: python -m mtlkit.headers"
    url = headers.repository_url()
    for path in NOTEBOOKS:
        cells = json.loads(path.read_text())["cells"]
        assert headers.colab_url(path.name, url) in "".join(cells[0]["source"])
        assert f"git+{url}" in "".join(cells[1]["source"]) and "device_report()" in "".join(cells[1]["source"])


def test_header_drift_is_found_and_fixed_when_the_url_changes(tmp_path):
    import shutil

    from mtlkit import headers

    root = Path(__file__).resolve().parents[1]
    shutil.copytree(root / "notebooks", tmp_path / "notebooks", ignore=shutil.ignore_patterns(".*"))
    shutil.copy(root / "README.md", tmp_path)
    text = (root / "pyproject.toml").read_text()
    (tmp_path / "pyproject.toml").write_text(text.replace(headers.repository_url(), "https://github.com/someone/fork"))
    found = headers.drift(tmp_path)
    assert len(found) == len(NOTEBOOKS) + 1 and found[-1] == "README.md: notebook table"
    headers.drift(tmp_path, write=True)
    assert headers.drift(tmp_path) == []
    assert "colab.research.google.com/github/someone/fork/blob/main/notebooks/00_" in (tmp_path / "README.md").read_text()
    first = json.loads(sorted((tmp_path / "notebooks").glob("*.ipynb"))[3].read_text())["cells"][1]
    assert 'git+https://github.com/someone/fork"' in "".join(first["source"])
    (tmp_path / "pyproject.toml").write_text(text.replace(headers.repository_url(), "https://gitlab.com/x/y"))
    with pytest.raises(ValueError, match="gitlab.com/x/y.*need https://github.com/OWNER/NAME"):
        headers.drift(tmp_path)



class _FakeIPython:
    """Records what an install cell asks IPython to run (``%pip`` and ``!`` lines) instead of running it."""

    def __init__(self):
        self.calls = []

    def run_line_magic(self, name, line, *args):
        self.calls.append(f"%{name} {line}")

    def system(self, command):
        self.calls.append(f"!{command}")


def _run_install_cell(source, in_colab, monkeypatch):
    """Run a notebook's install cell as IPython would, with or without ``google.colab``; return the calls."""
    import sys
    import types

    from IPython.core.inputtransformer2 import TransformerManager

    shell = _FakeIPython()
    if in_colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(TransformerManager().transform_cell(source), {"get_ipython": lambda: shell})
    return shell.calls


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_install_cell_installs_only_in_colab_and_learn2learn_only_where_it_is_used(path, monkeypatch, capsys):
    from mtlkit import headers

    nb = json.loads(path.read_text())
    source, url = "".join(nb["cells"][1]["source"]), headers.repository_url()
    assert _run_install_cell(source, False, monkeypatch) == [] and capsys.readouterr().out == ""
    calls = _run_install_cell(source, True, monkeypatch)
    assert "GPU" in capsys.readouterr().out                               # the device report
    imports_l2l = any("import_learn2learn(" in "".join(c["source"]) for c in nb["cells"][2:])
    if imports_l2l:
        assert calls == [f'%pip install -q "mtlkit[l2l] @ git+{url}"',
                         "!python -m mtlkit.install_learn2learn --quiet    # builds learn2learn from source: a few "
                         "minutes"]
    else:
        assert calls == [f'%pip install -q "mtlkit @ git+{url}"']
    assert imports_l2l == (path.name[:2] == "06")                        # learn2learn is notebook 06's alone


def test_notebook_06_goes_on_without_learn2learn():
    """Its import cell leaves l2l None with a message; every other cell that touches l2l is guarded."""
    import sys
    from unittest import mock

    cells = ["".join(c["source"]) for c in json.loads(NOTEBOOKS[6].read_text())["cells"] if c["cell_type"] == "code"]
    users = [c for c in cells[1:] if "l2l" in c]
    importer = [c for c in users if "import_learn2learn()" in c]
    assert len(importer) == 1 and len(users) >= 3
    namespace = {}
    with mock.patch.dict(sys.modules, {"learn2learn": None}), mock.patch("builtins.print") as say:
        exec(importer[0], namespace)
    assert namespace["l2l"] is None
    assert "skipped: the learn2learn comparison needs learn2learn" in say.call_args.args[0]
    for cell in users:
        if cell is not importer[0]:
            assert _unguarded_l2l(ast.parse(cell)) == [], cell.splitlines()[0]


def _unguarded_l2l(node, guarded=False):
    """Line numbers where the name ``l2l`` is used outside an ``if l2l is not None:`` block."""
    if isinstance(node, ast.If) and ast.unparse(node.test) == "l2l is not None":
        return [n for child in node.body for n in _unguarded_l2l(child, True)] + \
            [n for child in node.orelse for n in _unguarded_l2l(child, guarded)]
    if isinstance(node, ast.Name) and node.id == "l2l" and not guarded:
        return [node.lineno]
    return [n for child in ast.iter_child_nodes(node) for n in _unguarded_l2l(child, guarded)]


def test_readme_colab_section_says_which_notebooks_build_learn2learn():
    import re

    from mtlkit import headers

    readme = (NOTEBOOKS[0].parents[1] / "README.md").read_text()
    section = readme.split("## In Google Colab", 1)[1].split("\n## ", 1)[0]
    named = re.search(r"only\s+notebooks?\s+([0-9, and]+?)\s+uses?\s+learn2learn", section, re.I)
    assert named, "the README's Colab section no longer says which notebooks build learn2learn"
    users = {p.name[:2] for p in NOTEBOOKS if headers.uses_learn2learn(json.loads(p.read_text()))}
    assert set(re.findall(r"[0-9]{2}", named.group(1))) == users
    assert "--quiet" in section and "skipped" in section

def test_device_report_names_the_hardware(monkeypatch):
    """Both branches, whatever this machine has: a Colab T4 (faked) and a CPU with 3 threads (faked)."""
    import torch

    from mtlkit.config import device_report

    asked = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: asked.append(device) or "Tesla T4")
    report = device_report()
    assert report.startswith("GPU: Tesla T4. fit trains on it") and asked == [0]
    assert "meta-learning methods stay on the CPU unless given device='cuda'" in report
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 3)
    assert device_report() == "no GPU: everything runs on the CPU (3 threads)." and asked == [0]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_ends_with_references_that_its_text_cites(path):
    """A References cell before the questions; each arXiv link's text names the paper it links to; every author
    cited in the text as "Name et al. YEAR" or "Name & Name YEAR" is in the list."""
    import re

    nb = json.loads(path.read_text())
    cells = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]
    refs = [c for c in cells if c.startswith("## References")]
    assert len(refs) == 1 and cells.index(refs[0]) == len(cells) - 2, "References must be the cell before the questions"
    items = [line for line in refs[0].splitlines() if line.startswith(("* ", "- "))]
    assert len(items) >= 3, items
    for text, target in re.findall(r"\[arXiv:(\d{4}\.\d{4,5})\]\(https://arxiv\.org/abs/([\d.]+)\)", refs[0]):
        assert text == target, f"arXiv:{text} links to {target}"
    body = "\n".join(c for c in cells if c is not refs[0])
    cited = set(re.findall(r"([A-Z][a-zé]+)(?: et al\.| & [A-Z][a-z]+),? \(?(\d{4})\b", body))
    cited |= set(re.findall(r"[(;] ?([A-Z][a-zé]+) (\d{4})[);,]", body))        # "(Caruana 1997)", "; Nash 1950)"
    for name, year in cited:
        assert name in refs[0], f"the text cites {name} ({year}) but the References cell does not list it"
