"""Install learn2learn on modern Python by rebuilding its sdist with Cython 3.

Why this exists: learn2learn 0.2.0 is the last release, and its sdist ships C
files that Cython 0.29 generated. Those files include ``longintrepr.h``, a
CPython header that moved in Python 3.11, so ``pip install learn2learn`` fails
to compile on Python >= 3.11 (e.g. current Google Colab).

The fix is to delete the shipped, generated ``.c`` files and regenerate them
from the ``.pyx`` sources with Cython >= 3. learn2learn's setup.py only
cythonizes when ``build_ext`` (or ``develop``) is on its command line, so the
wheel is built with ``setup.py build_ext bdist_wheel``.

The package is installed with ``--no-deps``: its declared dependencies include
gsutil and qpth, which ``import learn2learn`` does not need. Only the
import-time dependencies that are missing are installed, and torchvision is
pinned to the release that matches the installed torch.

Usage (locally, from a Makefile, or in Colab with ``!python -m ...``)::

    python -m mtlkit.install_learn2learn [--version 0.2.0] [--python PATH]
                                         [--force] [--quiet [--log FILE]]

With ``--quiet`` the output of pip and of the compiler goes to a log file and one line says where it is and what
happened; on failure the log's last 30 lines and the command to retry are printed.

Uses only the standard library.
"""

import argparse
import inspect
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import zipfile
from pathlib import Path

DEFAULT_VERSION = "0.2.0"
DEFAULT_LOG = os.path.join(tempfile.gettempdir(), "mtlkit-learn2learn-build.log")

# Import name -> pip requirement for what `import learn2learn` actually needs.
# torchvision is handled separately, because it must match the installed torch.
IMPORT_DEPENDENCIES = {
    "numpy": "numpy",
    "gym": "gym",
    "scipy": "scipy",
    "tqdm": "tqdm",
    "requests": "requests",
}

# torch "major.minor" -> matching torchvision "major.minor".
TORCHVISION_FOR_TORCH = {
    "1.13": "0.14",
    "2.0": "0.15",
    "2.1": "0.16",
    "2.2": "0.17",
    "2.3": "0.18",
    "2.4": "0.19",
    "2.5": "0.20",
    "2.6": "0.21",
    "2.7": "0.22",
    "2.8": "0.23",
    "2.9": "0.24",
    "2.10": "0.25",
    "2.11": "0.26",
}

# Extension modules whose compiled files must be in the built wheel.
EXTENSION_MODULES = ("meta_dataset", "task_dataset", "transforms")


class InstallError(RuntimeError):
    """An installation step failed; ``step`` names it for the error message."""

    def __init__(self, step, message):
        super().__init__(f"step '{step}' failed: {message}")
        self.step = step


def torchvision_for_torch(torch_version):
    """Return the torchvision "major.minor" matching a torch version string."""
    release = torch_version.split("+")[0]
    parts = release.split(".")
    if len(parts) < 2 or not parts[0].isdigit() or not parts[1].isdigit():
        raise ValueError(f"unrecognised torch version: {torch_version!r}")
    key = f"{int(parts[0])}.{int(parts[1])}"
    if key in TORCHVISION_FOR_TORCH:
        return TORCHVISION_FOR_TORCH[key]
    if parts[0] == "2":  # Pattern of every 2.x release so far: 2.N -> 0.(N+15).
        return f"0.{int(parts[1]) + 15}"
    raise ValueError(f"no known torchvision release for torch {torch_version}")


def torchvision_requirement(torch_version):
    """Return the pip requirement for the torchvision matching ``torch_version``."""
    return f"torchvision=={torchvision_for_torch(torch_version)}.*"


def remove_generated_c_files(root):
    """Delete every .c/.cpp file that sits next to a same-named .pyx; return them."""
    removed = []
    for pyx in sorted(Path(root).rglob("*.pyx")):
        if ".eggs" in pyx.relative_to(root).parts:
            continue
        for suffix in (".c", ".cpp"):
            generated = pyx.with_suffix(suffix)
            if generated.is_file():
                generated.unlink()
                removed.append(generated)
    return removed


def safe_extract(archive, dest):
    """Extract a tar archive into ``dest``, refusing links, devices and paths outside it (an sdist needs none).

    Every member is checked before anything is written; Python's ``data`` filter, where there is one, also runs
    (it alone would let links that stay inside ``dest`` through).
    """
    dest = Path(dest).resolve()
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            target = (dest / member.name).resolve()
            if dest not in target.parents and target != dest:
                raise ValueError(f"unsafe path in archive: {member.name}")
            if member.issym() or member.islnk() or member.isdev():
                raise ValueError(f"refusing link or device in archive: {member.name}")
        if hasattr(tarfile, "data_filter"):
            tar.extractall(dest, filter="data")
        else:
            tar.extractall(dest)


def remove_stray_packages(root, keep="learn2learn"):
    """Delete top-level packages other than ``keep`` (the sdist's ``tests``); return them."""
    removed = []
    for init in sorted(Path(root).glob("*/__init__.py")):
        if init.parent.name != keep:
            shutil.rmtree(init.parent)
            removed.append(init.parent)
    return removed


def wheel_problems(wheel_path):
    """Return what is wrong with a built wheel: missing extensions, stray packages."""
    with zipfile.ZipFile(wheel_path) as wheel:
        names = wheel.namelist()
    compiled = [n for n in names if n.endswith((".so", ".pyd"))]
    problems = [
        f"no compiled extension for learn2learn.data.{ext}" for ext in EXTENSION_MODULES
        if not any(n.startswith(f"learn2learn/data/{ext}.") for n in compiled)
    ]
    top_level = {n.split("/")[0] for n in names if "/" in n}
    problems += [
        f"unexpected top-level entry {name!r}" for name in sorted(top_level)
        if name != "learn2learn" and not name.endswith((".dist-info", ".data"))
    ]
    return problems


def _run(cmd, step, log, cwd=None):
    """Run a command (its output appended to the file ``log``, or shown if None); raise InstallError on failure."""
    line = " ".join(str(c) for c in cmd)
    if log is None:
        print("+ " + line, flush=True)
        result = subprocess.run([str(c) for c in cmd], cwd=cwd)
    else:
        with open(log, "a") as out:
            out.write(f"\n+ {line}\n")
            out.flush()
            result = subprocess.run([str(c) for c in cmd], cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        raise InstallError(step, f"command exited with {result.returncode}: {line}")
    return result


def log_tail(log, lines=30):
    """The last ``lines`` lines of the file ``log`` ('' if there is none)."""
    try:
        return "\n".join(Path(log).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def package_report(names):
    """Return {"versions": ..., "importable": ...} for distributions/modules ``names``."""
    import importlib.metadata
    import importlib.util

    def version(name):
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return None

    return {
        "versions": {name: version(name) for name in names},
        "importable": {name: importlib.util.find_spec(name) is not None for name in names},
    }


def _is_current_python(python):
    """Tell whether ``python`` is the interpreter running this module."""
    return os.path.abspath(python) == os.path.abspath(sys.executable)


def inspect_packages(python, names):
    """Return (versions, importable) dicts for ``names`` as seen by ``python``."""
    names = list(names)
    if _is_current_python(python):
        report = package_report(names)
    else:
        code = (textwrap.dedent(inspect.getsource(package_report))
                + f"\nimport json\nprint(json.dumps(package_report({names!r})))\n")
        result = subprocess.run([python, "-c", code], capture_output=True, text=True)
        if result.returncode != 0:
            raise InstallError("inspect target python",
                               f"{python} failed: {result.stderr.strip()[-500:]}")
        report = json.loads(result.stdout.strip().splitlines()[-1])
    return report["versions"], report["importable"]


def already_installed(python, version):
    """Tell whether learn2learn ``version`` is installed and findable in ``python``."""
    versions, importable = inspect_packages(python, ["learn2learn"])
    return versions["learn2learn"] == version and importable["learn2learn"]


def download_sdist(python, version, dest, log):
    """Download the learn2learn sdist into ``dest`` and return its path."""
    _run([python, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
          f"learn2learn=={version}", "-d", dest], "download sdist", log)
    archives = sorted(Path(dest).glob(f"learn2learn-{version}.tar.gz"))
    if not archives:
        raise InstallError("download sdist", f"no learn2learn-{version}.tar.gz in {dest}")
    return archives[0]


def unpack_sdist(archive, dest):
    """Unpack the sdist safely and return its source directory."""
    try:
        safe_extract(archive, dest)
    except (tarfile.TarError, ValueError, OSError) as exc:
        raise InstallError("unpack sdist", str(exc)) from exc
    setups = sorted(Path(dest).glob("*/setup.py"))
    if not setups:
        raise InstallError("unpack sdist", f"no setup.py found in {archive.name}")
    return setups[0].parent


def clean_sources(src):
    """Remove stale Cython 0.29 output, bundled .eggs and stray packages from ``src``."""
    removed = remove_generated_c_files(src)
    remove_stray_packages(src)  # Else the wheel installs a top-level `tests` package.
    eggs = Path(src) / ".eggs"
    if eggs.is_dir():  # The sdist bundles old Cython eggs; never let setup.py use them.
        shutil.rmtree(eggs)
    if not removed:
        raise InstallError("remove generated C files", f"no generated .c files found in {src}")
    return removed


def ensure_build_tools(python, log):
    """Install Cython>=3, setuptools and wheel in ``python`` if they are missing."""
    versions, _ = inspect_packages(python, ["Cython", "setuptools", "wheel"])
    wanted = []
    cython = versions["Cython"]
    if cython is None or not cython.split(".")[0].isdigit() or int(cython.split(".")[0]) < 3:
        wanted.append("Cython>=3")
    wanted += [name for name in ("setuptools", "wheel") if versions[name] is None]
    if wanted:
        _run([python, "-m", "pip", "install"] + wanted, "install build tools", log)


def build_wheel(python, src, dist_dir, log):
    """Cythonize and build a wheel from ``src``; return the verified wheel path."""
    # setup.py cythonizes the .pyx files only when "build_ext" is in sys.argv.
    _run([python, "setup.py", "build_ext", "bdist_wheel", "-d", dist_dir], "build wheel", log, cwd=src)
    wheels = sorted(Path(dist_dir).glob("learn2learn-*.whl"))
    if not wheels:
        raise InstallError("build wheel", f"no wheel produced in {dist_dir}")
    problems = wheel_problems(wheels[0])
    if problems:
        raise InstallError("build wheel", "; ".join(problems))
    return wheels[0]


def install_wheel(python, wheel, log):
    """Install the built wheel without learn2learn's declared dependencies."""
    _run([python, "-m", "pip", "install", "--no-deps", "--force-reinstall", wheel], "install wheel", log)


def torch_version(python):
    """Return the installed torch version in ``python``; error if torch is absent."""
    versions, _ = inspect_packages(python, ["torch"])
    if versions["torch"] is None:
        raise InstallError("check torch", f"torch is not installed in {python}; "
                                          "install torch first (learn2learn needs it)")
    return versions["torch"]


def missing_requirements(python, torch_ver):
    """Return pip requirements for the import-time dependencies not yet installed."""
    names = list(IMPORT_DEPENDENCIES) + ["torchvision"]
    _, importable = inspect_packages(python, names)
    wanted = [IMPORT_DEPENDENCIES[m] for m in IMPORT_DEPENDENCIES if not importable[m]]
    if not importable["torchvision"]:
        try:
            wanted.append(torchvision_requirement(torch_ver))
        except ValueError as exc:
            raise InstallError("install dependencies", str(exc)) from exc
    return wanted


def install_dependencies(python, torch_ver, log):
    """Install only the import-time dependencies that are missing."""
    wanted = missing_requirements(python, torch_ver)
    if wanted:
        _run([python, "-m", "pip", "install"] + wanted, "install dependencies", log)
    return wanted


def verify(python, version, cwd):
    """Import learn2learn in ``python`` and check its version."""
    result = subprocess.run(
        [python, "-c", "import learn2learn; print(learn2learn.__version__)"],
        capture_output=True, text=True, cwd=cwd,
    )
    found = result.stdout.strip().splitlines()[-1:] if result.returncode == 0 else []
    if found != [version]:
        raise InstallError("verify import", f"`import learn2learn` gave {found or 'an error'}:"
                                            f"\n{result.stderr.strip()[-2000:]}")
    return version


def install(python, version, log=None):
    """Build learn2learn ``version`` from source and install it into ``python``; output to the file ``log``."""
    torch_ver = torch_version(python)
    with tempfile.TemporaryDirectory(prefix="l2l-build-") as tmp:
        tmp = Path(tmp)
        archive = download_sdist(python, version, tmp / "sdist", log)
        src = unpack_sdist(archive, tmp / "src")
        clean_sources(src)
        ensure_build_tools(python, log)
        wheel = build_wheel(python, src, tmp / "dist", log)
        install_wheel(python, wheel, log)
        install_dependencies(python, torch_ver, log)
        return verify(python, version, cwd=tmp)


def resolve_python(python):
    """Return an absolute path for ``python`` (a path or a name on PATH)."""
    found = shutil.which(python)
    if found is None:
        raise InstallError("find target python", f"{python!r} is not an executable")
    return os.path.abspath(found)


def parse_args(argv=None):
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m mtlkit.install_learn2learn",
        description="Build learn2learn from its sdist with Cython 3 and install it.")
    parser.add_argument("--version", default=DEFAULT_VERSION,
                        help=f"learn2learn release to install (default {DEFAULT_VERSION})")
    parser.add_argument("--python", default=sys.executable,
                        help="interpreter to install into (default: this one)")
    parser.add_argument("--force", action="store_true",
                        help="rebuild and reinstall even if already installed")
    parser.add_argument("--quiet", action="store_true",
                        help="send pip's and the compiler's output to the log file and print one line; "
                             "on failure, the log's last lines and the command to retry")
    parser.add_argument("--log", default=DEFAULT_LOG,
                        help=f"the log file of --quiet (default {DEFAULT_LOG})")
    return parser.parse_args(argv)


def retry_command(args):
    """The command line that reruns this install from scratch."""
    return (f"{args.python} -m mtlkit.install_learn2learn --python {args.python} --version {args.version} "
            f"--force" + (f" --quiet --log {args.log}" if args.quiet else ""))


def main(argv=None):
    """Command-line entry point; return the process exit code."""
    args = parse_args(argv)
    log = None
    try:
        args.python = resolve_python(args.python)
        if not args.force and already_installed(args.python, args.version):
            print(f"learn2learn {args.version} already installed in {args.python}")
            return 0
        if args.quiet:
            log = Path(args.log).resolve()
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text(f"python -m mtlkit.install_learn2learn: learn2learn {args.version} into {args.python}\n")
        installed = install(args.python, args.version, log=log)
    except InstallError as exc:
        tail = log_tail(log) if log is not None else ""
        print(f"install_learn2learn: {exc}", file=sys.stderr)
        if tail:
            print(f"--- the last lines of {log} ---\n{tail}\n---", file=sys.stderr)
        print(f"to retry: {retry_command(args)}", file=sys.stderr)
        return 1
    where = f" (build log: {log})" if log is not None else ""
    print(f"learn2learn {installed} built from source and installed in {args.python}{where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
