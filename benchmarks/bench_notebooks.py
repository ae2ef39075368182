"""Time to execute each notebook (fast and full mode) and one widget Run with default settings.

Run: python benchmarks/bench_notebooks.py [--modes fast full] [--notebooks 01 02 ...] [--no-widgets] [--outputs DIR]
Every figure is printed in seconds and in calibration units (cu, see calibrate.py: the same run first times a fixed
workload of the kit), and checked against the budgets in cu of calibrate.BUDGETS; on the reference machine (an idle
2-vCPU AMD EPYC) they mean each notebook <= 45 s in fast mode and <= 120 s in full mode, one widget Run <= 10 s.

Each mode gets a fresh, empty cache folder; the corpus is generated into it first (its time is printed
separately), so a notebook's time is its own work plus the kernel's start, not the corpus generation.
A notebook whose cell raises (e.g. a failing lesson assert) is reported as FAILED with the error, and the run goes
on. ``--outputs DIR`` writes each executed notebook, outputs included, to DIR/<mode>/ (to read the numbers).
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from calibrate import BUDGETS, calibrate, describe

ROOT = Path(__file__).resolve().parents[1]
BUDGET = {"fast": BUDGETS["notebook, fast mode"], "full": BUDGETS["notebook, full mode"],
          "widget": BUDGETS["widget Run"]}
"""Budgets in calibration units."""


def verdict(seconds: float, unit: float, budget: str) -> str:
    """'12.3 s = 5.6 cu   ok' or '... OVER the budget of 20.5 cu'."""
    cu = seconds / unit
    flag = "ok" if cu <= BUDGET[budget] else f"OVER the budget of {BUDGET[budget]:.1f} cu"
    return f"{seconds:6.1f} s = {cu:5.1f} cu   {flag}"


def execute(path: Path, env: dict, save: Path | None = None) -> tuple[float, str | None]:
    """Run every cell of a notebook in a fresh python3 kernel; return (wall seconds, error or None)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    old = dict(os.environ)
    os.environ.update(env)                      # the kernel inherits this process's environment
    error = None
    start = time.perf_counter()
    try:
        NotebookClient(nb, timeout=1200, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    except CellExecutionError as e:
        error = str(e).strip().splitlines()[-1]
    finally:
        seconds = time.perf_counter() - start
        os.environ.clear()
        os.environ.update(old)
    if save is not None:
        save.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, save / path.name)
    return seconds, error


def widget_runs(env: dict) -> dict:
    """Seconds of one Run of each panel with its default settings, in a subprocess with ``env``."""
    code = """
import time, json
from mtlkit.data import make_corpus
from mtlkit.train import fit
from mtlkit.meta import EpisodeSampler, make_method
from mtlkit.widgets import (AdaptationPanel, BaselinePanel, EmbeddingPanel, GatingPanel, PlaygroundPanel,
                            SharingPanel, TaskEmbeddingPanel, WeightingPanel)
corpus, meta = make_corpus("easy"), make_corpus("meta")
runs = {"hard": fit(corpus, ("vad", "speaker", "emotion", "keyword"), epochs=2, progress=False)}
tasks = EpisodeSampler(meta, "speaker_adaptation", n_way=5, k_shot=5)
maml = make_method("maml", tasks)
maml.meta_train(5, 8)
playground = PlaygroundPanel(corpus, meta)
panels = {"BaselinePanel": BaselinePanel(corpus), "SharingPanel": SharingPanel(corpus),
          "GatingPanel": GatingPanel(corpus), "WeightingPanel": WeightingPanel(corpus),
          "EmbeddingPanel": EmbeddingPanel(runs, corpus.split("heldout")),
          "AdaptationPanel": AdaptationPanel({"maml": maml}, tasks), "TaskEmbeddingPanel": TaskEmbeddingPanel(meta),
          "PlaygroundPanel multi-task": playground, "PlaygroundPanel meta": playground}
seconds = {}
for name, panel in panels.items():
    if name == "PlaygroundPanel meta":
        panel.controls["kind"].value = "meta-learning"
    start = time.perf_counter()
    panel.run_button.click()
    seconds[name] = time.perf_counter() - start
    assert panel.last_error is None, panel.last_error
print(json.dumps(seconds))
"""
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True,
                         check=True)
    import json

    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", nargs="+", default=["fast", "full"], choices=["fast", "full"])
    parser.add_argument("--notebooks", nargs="+", default=None, help="number prefixes, e.g. 01 02 (default: all)")
    parser.add_argument("--no-widgets", action="store_true", help="skip the widget Run timings")
    parser.add_argument("--outputs", type=Path, default=None, help="write the executed notebooks to DIR/<mode>/")
    args = parser.parse_args()
    paths = sorted((ROOT / "notebooks").glob("*.ipynb"))
    if args.notebooks:
        paths = [p for p in paths if p.name[:2] in args.notebooks]
    units, results = [calibrate()], []
    print(describe(units[0]), "(before)", flush=True)
    for mode in args.modes:
        with tempfile.TemporaryDirectory(prefix="mtlkit-bench-") as cache:
            env = {"MTLKIT_FAST": "1" if mode == "fast" else "0", "MTLKIT_CACHE": cache}
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", "from mtlkit.data import make_corpus; make_corpus('easy'); "
                            "make_corpus('meta'); make_corpus('languages')"], env={**os.environ, **env}, check=True)
            print(f"[{mode}] corpora 'easy', 'meta' and 'languages' generated in {time.perf_counter() - start:.1f} s "
                  f"(not counted below)")
            for path in paths:
                seconds, error = execute(path, env, args.outputs / mode if args.outputs else None)
                results.append((mode, path.name, mode, seconds, f"   FAILED: {error}" if error else ""))
                print(f"[{mode}] {path.name:<34} {verdict(seconds, units[0], mode)}{results[-1][-1]}", flush=True)
            if not args.no_widgets:
                for name, seconds in widget_runs(env).items():
                    results.append((mode, f"widget Run {name}", "widget", seconds, ""))
                    print(f"[{mode}] widget Run {name:<27} {verdict(seconds, units[0], 'widget')}", flush=True)
    units.append(calibrate())
    print(describe(units[1]), "(after)")
    unit = sum(units) / 2
    print(f"Summary, in units of the mean calibration before and after ({unit:.3f} s).")
    if max(units) > 1.1 * min(units):
        print(f"WARNING: the calibration moved by {max(units) / min(units) - 1:.0%} during the run (a shared or "
              f"throttled machine); these figures are unreliable, measure again on an idle machine.")
    for mode, name, budget, seconds, failed in results:
        print(f"[{mode}] {name:<45} {verdict(seconds, unit, budget)}{failed}")


if __name__ == "__main__":
    main()
