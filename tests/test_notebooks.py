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
    last = "".join(nb["cells"][-1]["source"])
    assert nb["cells"][-1]["cell_type"] == "markdown" and "?" in last, "no questions for the learner at the end"
