"""Notebook hygiene: every notebook starts with the Colab cell, runs on python3, is committed clean."""
import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS and NOTEBOOKS[0].name == "00_corpus_tour.ipynb"


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


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if p.name[:2] != "00"], ids=lambda p: p.name)
def test_lesson_notebooks_have_formulas_and_a_widget_panel(path):
    nb = json.loads(path.read_text())
    text = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    code = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert "$$" in text, "no formula"
    assert "Panel(" in code, "no widget panel"


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


def test_device_report_names_the_hardware():
    import torch

    from mtlkit.config import device_report

    expected = f"GPU: {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "no GPU: everything runs"
    assert device_report().startswith(expected)


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
