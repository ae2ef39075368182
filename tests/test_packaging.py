"""The two commands and the dependency files: pyproject is the single source, the others agree with it."""
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"torch": "pytorch", "soundfile": "pysoundfile"}     # PyPI name -> conda-forge name
PIP_ONLY = {"espeakng-loader", "torchjd"}                            # pip only (torchjd with its extra)


def _requirements():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in ("lab", "test", "l2l"):
        reqs += project["optional-dependencies"][extra]
    return reqs


def _split(req):
    name, spec = re.match(r"([A-Za-z0-9_.\-]+)\s*(.*)", req).groups()
    return name.lower(), spec.replace(" ", "")


def test_environment_yml_lists_every_dependency_with_the_same_bounds():
    env = (ROOT / "environment.yml").read_text()
    conda = dict(_split(m) for m in re.findall(r"^  - ([A-Za-z][^\s#]*)$", env, re.M) if m != "pip")
    pip = dict(_split(m) for m in re.findall(r"^      - ([A-Za-z][^\s#]*)$", env, re.M))
    for name, spec in map(_split, _requirements()):
        if name in PIP_ONLY:
            assert pip.get(name) == spec, f"environment.yml pip section: {name}{spec}"
        else:
            assert conda.get(CONDA_NAMES.get(name, name)) == spec, f"environment.yml lacks {name}{spec}"
    assert "- -e .[lab,test]" in env and "python=3.11" in env and "nodefaults" in env


def test_constraints_pin_what_ci_installs():
    pins = dict(line.split("==") for line in (ROOT / "constraints.txt").read_text().split("\n")
                if line and not line.startswith("#"))
    assert pins == {"torch": "2.11.0", "torchaudio": "2.11.0", "torchvision": "0.26.0", "torchjd": "0.18.0",
                    "quadprog": "0.1.14", "qpsolvers": "4.13.0"}
    assert pins["torch"] == pins["torchaudio"]


def _dry_run(target):
    """The commands ``make <target>`` would run from scratch, each split as the shell would (nothing is run)."""
    import os
    import shlex
    import shutil
    import subprocess

    import pytest

    if shutil.which("make") is None:
        pytest.skip("no make on this machine")
    unset = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "VENV", "PYTHON", "TEST_CACHE", "LAB_ARGS")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    done = subprocess.run(["make", "--dry-run", "--always-make", "-C", str(ROOT), target], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    text = re.sub(r"^make(\[\d+\])?: .*\n", "", done.stdout, flags=re.M).replace("\\\n", " ")
    return [shlex.split(line) for line in text.splitlines() if line.strip() and not line.startswith("if ")]


def _runs(commands, *argv):
    """Index of the first command whose arguments, after any VAR=value, start with ``argv``."""
    for i, words in enumerate(commands):
        args = [w for w in words if not re.match(r"^[A-Z][A-Z0-9_]*=", w)]
        if args[:len(argv)] == list(argv):
            return i
    raise AssertionError(f"make would never run {' '.join(argv)}: {commands}")


def test_ci_runs_make_test_and_make_has_both_commands():
    """Dry runs of ``make test`` and ``make lab``: the kit is installed into .venv first, then that .venv runs."""
    assert "make test" in (ROOT / ".ci" / "run").read_text().splitlines()[-1]
    py = ".venv/bin/python"
    for target in ("test", "lab"):
        commands = _dry_run(target)
        install = _runs(commands, py, "-m", "pip", "install", "--quiet", "-c", "constraints.txt", "-e",
                        ".[lab,test,l2l]")
        l2l = _runs(commands, py, "-m", "mtlkit.install_learn2learn", "--python", py)
        if target == "lab":
            assert install < l2l < _runs(commands, ".venv/bin/jupyter", "lab") and commands[-1][-1] == "notebooks/"
            continue
        run = _runs(commands, py, "-m", "pytest")
        assert install < l2l < run == len(commands) - 1
        env = dict(w.split("=", 1) for w in commands[run] if re.match(r"^[A-Z][A-Z0-9_]*=", w))
        assert env["MTLKIT_FAST"] == env["MTLKIT_REQUIRE_L2L"] == "1"
        assert env["MTLKIT_CACHE"].startswith(str(ROOT))                      # never the user's own cache
        args = commands[run][len(env) + 3:]
        assert {"--nbval-lax", "--nbval-current-env"} <= set(args)
        assert [a for a in args if not a.startswith("-")] == ["tests", "notebooks"]


def test_fast_mode_is_read_in_one_place():
    readers = [p.relative_to(ROOT).as_posix() for p in (ROOT / "mtlkit").rglob("*.py")
               if "MTLKIT_FAST" in p.read_text()]
    assert readers == ["mtlkit/config.py"]


def test_the_license_is_an_spdx_expression_so_setuptools_prints_no_deprecation_banner():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["license"] == "MIT"                       # PEP 639, not the deprecated table
    assert "setuptools>=77" in project["build-system"]["requires"]      # the first setuptools that reads it
    assert not any("License ::" in c for c in project["project"].get("classifiers", []))   # forbidden beside it
    assert "install_learn2learn --python $(PY) --quiet --log $(VENV)/learn2learn-build.log" in (ROOT / "Makefile").read_text()
