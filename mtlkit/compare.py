"""``mtlkit compare``: a grid of tasks x sharing x weighting x seeds, cached, with delta_m% against ``separate``."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from .metrics import MAIN_METRIC, delta_m, mean_ci, relative_gains
from .train import fit

DEFAULT_SHARINGS = ("separate", "hard", "soft", "hierarchical", "gated")
DEFAULT_WEIGHTINGS = ("equal", "uncertainty", "dwa")
BASELINE = dict(sharing="separate", weighting="equal")
"""delta_m% of every run is measured against the single-task towers with equal weights, same seed."""


CODE_SOURCES = ("models", "weighting", "features.py", "metrics.py", "train.py", "compare.py")
"""The sources (relative to the package) whose text is part of every cache key: edit one, and runs retrain."""


def code_version(root: Path | None = None) -> str:
    """``mtlkit.__version__`` plus a hash of the sources in :data:`CODE_SOURCES` under the package folder ``root``."""
    from . import __version__

    root, digest = Path(root or Path(__file__).resolve().parent), hashlib.sha1()
    for name in CODE_SOURCES:
        path = root / name
        for file in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            digest.update(file.relative_to(root).as_posix().encode() + b"\0" + file.read_bytes())
    return f"{__version__}+{digest.hexdigest()[:12]}"


def run_key(config: dict) -> str:
    """A stable hash of a run's configuration (the cache key of its record)."""
    return hashlib.sha1(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


def _load(path: Path) -> list:
    return json.loads(path.read_text()) if path.is_file() else []


def _save(path: Path, records: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as f:
        json.dump(records, f, indent=1)
    os.replace(tmp, path)


def compare(corpus, tasks=("vad", "speaker", "emotion", "keyword"), sharings=DEFAULT_SHARINGS,
            weightings=DEFAULT_WEIGHTINGS, seeds=(0,), out="mtlkit-results/compare.json", progress: bool = True,
            force: bool = False, **fit_options) -> list:
    """Train every (sharing, weighting, seed) not already in ``out``; return all records with delta_m%.

    A record: config, test metrics per task, delta_m and each task's relative gain in % (vs separate/equal, same
    seed), seconds, parameters, and for mmoe and ple each task's mean weights over the experts (``expert_weights``).
    The cache key holds the configuration and :func:`code_version`, so editing the models, the weightings or
    the trainer retrains; ``force=True`` retrains every run of the grid anyway. Prints where the cache is.
    Introduced in notebooks/02_hard_vs_soft_sharing.ipynb.
    """
    out = Path(out)
    records = {r["key"]: r for r in _load(out)}
    corpus_id, code = corpus.info.get("key", str(corpus.root)), code_version()
    wanted = [dict(BASELINE, seed=s) for s in seeds] + [dict(sharing=sh, weighting=w, seed=s)
                                                        for sh in sharings for w in weightings for s in seeds]
    configs = [dict(run, tasks=list(tasks), corpus=corpus_id, code=code, **fit_options) for run in wanted]
    keys = set(map(run_key, configs))
    cached = 0 if force else len(keys & set(records))
    print(f"compare: {cached} of {len(keys)} runs read from {out} (code {code}; force=True retrains)")
    runs, trained = [], set()
    for run, config in zip(wanted, configs):
        key = run_key(config)
        if (key not in records or force) and key not in trained:
            trained.add(key)
            history = fit(corpus, tasks=list(tasks), sharing=run["sharing"], weighting=run["weighting"],
                          seed=run["seed"], progress=progress, **fit_options)
            records[key] = dict(key=key, config=config, test=history.test, seconds=history.seconds,
                                n_parameters=history.n_parameters, conflict_rate=history.conflict_rate,
                                expert_weights=history.expert_weights)
            _save(out, list(records.values()))
        if key not in [r["key"] for r in runs]:
            runs.append(records[key])
    base = {r["config"]["seed"]: r["test"] for r in runs
            if r["config"]["sharing"] == BASELINE["sharing"] and r["config"]["weighting"] == BASELINE["weighting"]}
    for r in runs:
        r["delta_m"] = delta_m(r["test"], base[r["config"]["seed"]])
        r["gains"] = relative_gains(r["test"], base[r["config"]["seed"]])
    _save(out, list(records.values()))
    return runs


def summarize(records: list) -> list:
    """One row per (sharing, weighting): mean and 95% interval of delta_m%, of each task's main metric, and of each
    task's relative gain in % over separate (``row["gains"]``, the terms delta_m averages)."""
    groups = {}
    for r in records:
        groups.setdefault((r["config"]["sharing"], r["config"]["weighting"]), []).append(r)
    rows = []
    for (sharing, weighting), rs in groups.items():
        row = dict(sharing=sharing, weighting=weighting, seeds=len(rs), delta_m=mean_ci([r["delta_m"] for r in rs]),
                   seconds=float(np.mean([r["seconds"] for r in rs])), n_parameters=rs[0]["n_parameters"])
        for task in rs[0]["test"]:
            row[task] = mean_ci([r["test"][task][MAIN_METRIC[task]] for r in rs])
        row["gains"] = {task: mean_ci([r["gains"][task] for r in rs]) for task in rs[0]["test"]}
        rows.append(row)
    return rows


def table(records: list) -> str:
    """A plain-text table of :func:`summarize`."""
    rows = summarize(records)
    tasks = [k for k in rows[0] if k not in ("sharing", "weighting", "seeds", "delta_m", "seconds", "n_parameters",
                                              "gains")]
    head = f"{'sharing':<16}{'weighting':<13}" + "".join(f"{t + ' ' + MAIN_METRIC[t]:>20}" for t in tasks) + \
        f"{'delta_m %':>20}{'params':>10}{'s/run':>8}"
    lines = [head, "-" * len(head)]
    fmt = lambda m, d=3: f"{m[0]:.{d}f}" + ("" if np.isnan(m[1]) else f" ± {m[1]:.{d}f}")  # noqa: E731
    for row in rows:
        lines.append(f"{row['sharing']:<16}{row['weighting']:<13}" + "".join(f"{fmt(row[t]):>20}" for t in tasks)
                     + f"{fmt(row['delta_m'], 1):>20}{row['n_parameters']:>10}{row['seconds']:>8.1f}")
    return "\n".join(lines)


def plot(records: list, path=None):
    """Bar chart of delta_m% per (sharing, weighting) with 95% intervals; saved to ``path`` when given."""
    import matplotlib.pyplot as plt

    rows = summarize(records)
    fig, ax = plt.subplots(figsize=(max(6, 0.5 * len(rows)), 4))
    labels = [f"{r['sharing']} / {r['weighting']}" for r in rows]
    means = [r["delta_m"][0] for r in rows]
    errs = [0 if np.isnan(r["delta_m"][1]) else r["delta_m"][1] for r in rows]
    ax.bar(range(len(rows)), means, yerr=errs, color=["tab:green" if m > 0 else "tab:red" for m in means])
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(range(len(rows)), labels, fontsize=8, rotation=40, ha="right")
    ax.set_ylabel("delta_m % vs separate")
    fig.tight_layout()
    if path:
        fig.savefig(path, dpi=100)
    return fig
