"""The widget panels on ipywidgets 7.7, the major Colab ships: tests/test_widgets.py run again in that environment.

`make test` installs ipywidgets 7.7.5 into .venv/ipywidgets7; this test puts it first on PYTHONPATH.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COLAB = Path(os.environ.get("MTLKIT_IPYWIDGETS7") or Path(sys.prefix) / "ipywidgets7")


def colab_env() -> dict:
    if not (COLAB / "ipywidgets").is_dir():
        pytest.skip(f"no ipywidgets 7.7 at {COLAB}: `make test` installs it there")
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(COLAB), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))


def test_the_colab_environment_really_has_ipywidgets_7_7():
    out = subprocess.run([sys.executable, "-c", "import ipywidgets, mtlkit.widgets; print(ipywidgets.__version__)"],
                         env=colab_env(), capture_output=True, text=True, check=True).stdout
    assert out.strip().startswith("7.7."), out


def test_every_widget_test_passes_on_ipywidgets_7_7():
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x",
                          str(ROOT / "tests" / "test_widgets.py")], env=colab_env(), capture_output=True, text=True,
                         cwd=ROOT)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "skipped" not in run.stdout, run.stdout[-500:]
