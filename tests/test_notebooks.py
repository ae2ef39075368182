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
