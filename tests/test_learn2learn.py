"""Tests for the learn2learn install: import, a real MAML step, and the installer helpers.

learn2learn tests skip when it is not importable, unless MTLKIT_REQUIRE_L2L is set
(to anything but "" or "0"), in which case they fail. Install it with
``python -m mtlkit.install_learn2learn``.
"""

import copy
import io
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.func import functional_call

from mtlkit import install_learn2learn as inst

LR = 0.1
ROOT = Path(__file__).resolve().parents[1]


# --- (a) import -------------------------------------------------------------


def test_import_and_version(learn2learn):
    assert learn2learn.__version__ == "0.2.0"
    assert hasattr(learn2learn.algorithms, "MAML")


def test_cython_extensions_are_compiled(learn2learn):
    from learn2learn.data import meta_dataset, task_dataset, transforms

    for module in (meta_dataset, task_dataset, transforms):
        assert module.__file__.endswith((".so", ".pyd")), module.__file__


def test_without_learn2learn_its_tests_skip_or_fail_when_it_is_required(pytester, monkeypatch):
    """The conftest's learn2learn fixture with the import blocked: a bare run skips, MTLKIT_REQUIRE_L2L=1 fails.
    No test file skips on learn2learn by itself (pytest.importorskip ignores the flag)."""
    monkeypatch.setitem(sys.modules, "learn2learn", None)
    pytester.makeconftest((ROOT / "tests" / "conftest.py").read_text())
    pytester.makepyfile("def test_uses_it(learn2learn):\n    pass\n")
    for flag, outcome in (("", dict(skipped=1)), ("0", dict(skipped=1)), ("1", dict(errors=1))):
        monkeypatch.setenv("MTLKIT_REQUIRE_L2L", flag)
        run = pytester.runpytest("-rs", "-p", "no:cacheprovider")
        run.assert_outcomes(**outcome)
        assert "learn2learn is not importable" in run.stdout.str()
    assert "MTLKIT_REQUIRE_L2L is set but learn2learn is not importable" in run.stdout.str()
    for path in (ROOT / "tests").glob("*.py"):
        assert not re.search(r"importorskip\(\s*.learn2learn|skipif\(.*learn2learn", path.read_text()), path.name


# --- (b) a real MAML clone/adapt step ----------------------------------------


def _regression_task():
    """Return (model, support x/y, query x/y) for a small nonlinear regression."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1)).double()
    xs, xq = torch.randn(10, 3, dtype=torch.float64), torch.randn(6, 3, dtype=torch.float64)
    ys, yq = torch.sin(xs.sum(1, keepdim=True)), torch.cos(xq.sum(1, keepdim=True))
    return model, xs, ys, xq, yq


def _mse(pred, target):
    return ((pred - target) ** 2).mean()


def _hand_adapted(model, xs, ys, create_graph):
    """Return {name: theta - LR * grad} computed directly with autograd."""
    names, params = zip(*model.named_parameters())
    grads = torch.autograd.grad(_mse(model(xs), ys), params, create_graph=create_graph)
    return {n: p - LR * g for n, p, g in zip(names, params, grads)}


def _maml_query_grads(l2l, model, xs, ys, xq, yq, first_order):
    """Adapt a clone once with learn2learn's MAML; return (learner, grads on model)."""
    model.zero_grad()
    maml = l2l.algorithms.MAML(model, lr=LR, first_order=first_order)
    learner = maml.clone()
    learner.adapt(_mse(learner(xs), ys))
    _mse(learner(xq), yq).backward()
    grads = {n: p.grad.clone() if p.grad is not None else None
             for n, p in model.named_parameters()}
    return learner, grads


def test_maml_adapt_matches_hand_computed_step(learn2learn):
    model, xs, ys, xq, yq = _regression_task()
    before = copy.deepcopy(model.state_dict())
    expected = _hand_adapted(model, xs, ys, create_graph=False)

    learner, _ = _maml_query_grads(learn2learn, model, xs, ys, xq, yq, first_order=False)

    adapted = dict(learner.module.named_parameters())
    assert adapted.keys() == expected.keys()
    for name, value in expected.items():
        torch.testing.assert_close(adapted[name].detach(), value.detach())
        assert not torch.allclose(adapted[name], before[name]), name
    for name, value in model.state_dict().items():  # adapt() must not touch theta
        torch.testing.assert_close(value, before[name])


def test_maml_second_order_gradient_reaches_original_params(learn2learn):
    model, xs, ys, xq, yq = _regression_task()

    # Independent second-order meta-gradient: d L_q(theta - lr * dL_s/dtheta) / dtheta.
    adapted = _hand_adapted(model, xs, ys, create_graph=True)
    params = [p for _, p in model.named_parameters()]
    query_loss = _mse(functional_call(model, adapted, (xq,)), yq)
    hand_second = dict(zip(adapted, torch.autograd.grad(query_loss, params)))

    # Independent first-order meta-gradient: dL_q/dtheta' evaluated at theta'.
    detached = {n: v.detach().requires_grad_() for n, v in adapted.items()}
    fo_loss = _mse(functional_call(model, detached, (xq,)), yq)
    hand_first = dict(zip(detached, torch.autograd.grad(fo_loss, list(detached.values()))))

    _, second = _maml_query_grads(learn2learn, model, xs, ys, xq, yq, first_order=False)
    _, first = _maml_query_grads(learn2learn, model, xs, ys, xq, yq, first_order=True)

    for name in hand_second:
        assert second[name] is not None, name
        assert torch.isfinite(second[name]).all(), name
        torch.testing.assert_close(second[name], hand_second[name])
        torch.testing.assert_close(first[name], hand_first[name])
    differs = [n for n in second if not torch.allclose(second[n], first[n], atol=1e-8)]
    assert differs, "second-order MAML gradient equals the first-order one"


# --- (c) installer helpers ----------------------------------------------------


@pytest.mark.parametrize("torch_version, torchvision", [
    ("2.11.0", "0.26"),
    ("2.11.0+cu130", "0.26"),
    ("2.0.1", "0.15"),
    ("2.5.1+cpu", "0.20"),
    ("1.13.1", "0.14"),
    ("2.12.0", "0.27"),  # beyond the table: the 2.N -> 0.(N+15) pattern
])
def test_torchvision_for_torch(torch_version, torchvision):
    assert inst.torchvision_for_torch(torch_version) == torchvision


@pytest.mark.parametrize("bad", ["1.5.0", "nightly", "3"])
def test_torchvision_for_torch_rejects_unknown(bad):
    with pytest.raises(ValueError):
        inst.torchvision_for_torch(bad)


def test_torchvision_requirement_pins_minor_release():
    assert inst.torchvision_requirement("2.11.0+cu130") == "torchvision==0.26.*"


def test_table_agrees_with_installed_torchvision():
    torchvision = pytest.importorskip("torchvision")
    installed = ".".join(torchvision.__version__.split("+")[0].split(".")[:2])
    assert inst.torchvision_for_torch(torch.__version__) == installed


def _touch(root, *relpaths):
    for rel in relpaths:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")


def _files(root):
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_remove_generated_c_files(tmp_path):
    _touch(tmp_path,
           "learn2learn/data/a.pyx", "learn2learn/data/a.c",
           "learn2learn/data/b.pyx", "learn2learn/data/b.cpp", "learn2learn/data/b.pxd",
           "learn2learn/data/handwritten.c",
           "learn2learn/data/only_source.pyx",
           "learn2learn/sub/deep/e.pyx", "learn2learn/sub/deep/e.c",
           ".eggs/Cython.egg/Cython/Utility/x.pyx", ".eggs/Cython.egg/Cython/Utility/x.c")

    removed = inst.remove_generated_c_files(tmp_path)

    assert {p.relative_to(tmp_path).as_posix() for p in removed} == {
        "learn2learn/data/a.c", "learn2learn/data/b.cpp", "learn2learn/sub/deep/e.c"}
    assert _files(tmp_path) == {
        "learn2learn/data/a.pyx", "learn2learn/data/b.pyx", "learn2learn/data/b.pxd",
        "learn2learn/data/handwritten.c", "learn2learn/data/only_source.pyx",
        "learn2learn/sub/deep/e.pyx",
        ".eggs/Cython.egg/Cython/Utility/x.pyx", ".eggs/Cython.egg/Cython/Utility/x.c"}


def test_remove_stray_packages(tmp_path):
    _touch(tmp_path, "learn2learn/__init__.py", "learn2learn/data/__init__.py",
           "tests/__init__.py", "tests/unit/t.py", "docs/index.md", "setup.py")

    removed = inst.remove_stray_packages(tmp_path)

    assert [p.name for p in removed] == ["tests"]
    assert _files(tmp_path) == {"learn2learn/__init__.py", "learn2learn/data/__init__.py",
                                "docs/index.md", "setup.py"}


def _tar_with(path, names):
    with tarfile.open(path, "w:gz") as tar:
        for name in names:
            info = tarfile.TarInfo(name)
            info.size = 2
            tar.addfile(info, io.BytesIO(b"ok"))


@pytest.fixture(params=["data filter", "no data filter"])
def python_tarfile(request, monkeypatch):
    """Python >= 3.11.4 (tarfile's ``data`` filter) or an older one (the manual checks alone)."""
    if request.param == "no data filter":
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    return request.param


def test_safe_extract_extracts_normal_archive(tmp_path, python_tarfile):
    archive = tmp_path / "good.tar.gz"
    _tar_with(archive, ["pkg-1.0/setup.py", "pkg-1.0/pkg/__init__.py"])
    inst.safe_extract(archive, tmp_path / "out")
    assert _files(tmp_path / "out") == {"pkg-1.0/setup.py", "pkg-1.0/pkg/__init__.py"}


@pytest.mark.parametrize("name", ["../escaped.txt", "pkg-1.0/../../escaped.txt", "../out-side/escaped.txt"])
def test_safe_extract_refuses_path_traversal(tmp_path, python_tarfile, name):
    """Nothing is written, not even the good files before the bad one; out-side/ only shares out/'s prefix."""
    archive = tmp_path / "evil.tar.gz"
    _tar_with(archive, ["pkg-1.0/setup.py", name])
    (tmp_path / "out").mkdir()
    with pytest.raises(ValueError, match="unsafe path in archive"):
        inst.safe_extract(archive, tmp_path / "out")
    assert _files(tmp_path) == {"evil.tar.gz"}


@pytest.mark.parametrize("kind, target", [(tarfile.SYMTYPE, "setup.py"), (tarfile.SYMTYPE, "/etc/passwd"),
                                          (tarfile.LNKTYPE, "pkg-1.0/setup.py"), (tarfile.CHRTYPE, "")],
                         ids=["symlink inside", "symlink outside", "hard link", "device"])
def test_safe_extract_refuses_links_and_devices_even_inside(tmp_path, python_tarfile, kind, target):
    """learn2learn's sdist has no links (684 files and folders): any link in an archive is refused."""
    archive = tmp_path / "links.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("pkg-1.0/setup.py")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"ok"))
        link = tarfile.TarInfo("pkg-1.0/link")
        link.type, link.linkname = kind, target
        tar.addfile(link)
    with pytest.raises(ValueError, match="refusing link or device in archive: pkg-1.0/link"):
        inst.safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "out" / "pkg-1.0").exists()


def _wheel_with(path, names):
    with zipfile.ZipFile(path, "w") as wheel:
        for name in names:
            wheel.writestr(name, "")


GOOD_WHEEL = [
    "learn2learn/__init__.py",
    "learn2learn/data/meta_dataset.cpython-311-x86_64-linux-gnu.so",
    "learn2learn/data/task_dataset.cpython-311-x86_64-linux-gnu.so",
    "learn2learn/data/transforms.cpython-311-x86_64-linux-gnu.so",
    "learn2learn-0.2.0.dist-info/RECORD",
]


def test_wheel_problems_accepts_complete_wheel(tmp_path):
    _wheel_with(tmp_path / "w.whl", GOOD_WHEEL)
    assert inst.wheel_problems(tmp_path / "w.whl") == []


def test_wheel_problems_reports_missing_extension_and_stray_package(tmp_path):
    names = [n for n in GOOD_WHEEL if "transforms" not in n] + ["tests/__init__.py"]
    _wheel_with(tmp_path / "w.whl", names)
    problems = inst.wheel_problems(tmp_path / "w.whl")
    assert len(problems) == 2
    assert any("learn2learn.data.transforms" in p for p in problems)
    assert any("'tests'" in p for p in problems)


def test_parse_args_defaults():
    args = inst.parse_args([])
    assert (args.version, args.python, args.force, args.quiet) == (
        "0.2.0", sys.executable, False, False)


def test_main_reports_failing_step(tmp_path, capsys):
    assert inst.main(["--python", str(tmp_path / "no-such-python")]) == 1
    assert "step 'find target python' failed" in capsys.readouterr().err


def test_run_sends_a_failing_commands_output_to_the_log_and_names_the_step(tmp_path):
    log = tmp_path / "build.log"
    script = "import sys; print('\\n'.join(f'line {i}' for i in range(50))); sys.exit(3)"
    with pytest.raises(inst.InstallError, match="step 'build wheel' failed: command exited with 3"):
        inst._run([sys.executable, "-c", script], "build wheel", log)
    text = log.read_text()
    assert "line 0" in text and "line 49" in text and text.lstrip().startswith("+ ")
    assert inst.log_tail(log, 3).splitlines() == ["line 47", "line 48", "line 49"]


def test_quiet_main_prints_one_line_on_success(tmp_path, monkeypatch, capsys):
    def fake_install(python, version, log):
        inst._run([sys.executable, "-c", "print('compiler chatter')"], "build wheel", log)
        return version

    monkeypatch.setattr(inst, "already_installed", lambda python, version: False)
    monkeypatch.setattr(inst, "install", fake_install)
    log = tmp_path / "l2l.log"
    assert inst.main(["--quiet", "--log", str(log)]) == 0
    out = capsys.readouterr()
    assert out.out.splitlines() == [f"learn2learn 0.2.0 built from source and installed in {sys.executable} "
                                    f"(build log: {log})"]
    assert out.err == "" and "compiler chatter" in log.read_text()


def test_quiet_main_on_failure_prints_the_logs_tail_and_the_command_to_retry(tmp_path, monkeypatch, capsys):
    def failing_install(python, version, log):
        inst._run([sys.executable, "-c", "import sys; print('error: longintrepr.h not found'); sys.exit(1)"],
                  "build wheel", log)

    monkeypatch.setattr(inst, "already_installed", lambda python, version: False)
    monkeypatch.setattr(inst, "install", failing_install)
    log = tmp_path / "l2l.log"
    assert inst.main(["--quiet", "--log", str(log)]) == 1
    err = capsys.readouterr().err
    assert "step 'build wheel' failed" in err
    assert f"the last lines of {log}" in err and "error: longintrepr.h not found" in err
    assert f"to retry: {sys.executable} -m mtlkit.install_learn2learn --python {sys.executable} --version 0.2.0 " \
           f"--force --quiet --log {log}" in err


def _stderr_of(code, pythonpath=None):
    env = dict(os.environ, PYTHONWARNINGS="default")
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join([str(pythonpath), str(ROOT)])
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          cwd=ROOT).stderr


def test_import_learn2learn_drops_gyms_notice_and_nothing_else(tmp_path):
    """A stand-in learn2learn prints gym's notice and a real warning: only the notice goes."""
    notices = pytest.importorskip("gym_notices.notices").notices
    notice = next(iter(notices.values()))
    (tmp_path / "learn2learn").mkdir()
    (tmp_path / "learn2learn" / "__init__.py").write_text(
        f"import sys, warnings\nprint({notice!r}, file=sys.stderr)\nprint('a real message', file=sys.stderr)\n"
        "warnings.warn('a real warning')\n")
    plain = _stderr_of("import learn2learn", tmp_path)
    assert notice.splitlines()[0] in plain                              # the control: a bare import shows it
    kit = _stderr_of("from mtlkit.meta import import_learn2learn; import_learn2learn()", tmp_path)
    assert notice.splitlines()[0] not in kit and "unmaintained" not in kit
    assert "a real message" in kit and "UserWarning: a real warning" in kit


def test_import_learn2learn_imports_the_real_one_silently(learn2learn):
    assert "unmaintained" in _stderr_of("import learn2learn")
    err = _stderr_of("from mtlkit.meta import import_learn2learn; print(import_learn2learn().__version__)")
    assert "unmaintained" not in err and "Gym" not in err
