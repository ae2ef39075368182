"""Plots drawn from plain results (a History, a list of records, arrays): each returns a matplotlib Figure."""
from __future__ import annotations

import numpy as np

from .metrics import MAIN_METRIC


def _figure(width=6.0, height=4.0, ncols=1):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=(width, height), squeeze=False)
    return fig, axes[0]


def confusion(counts, names, title: str = "", ax=None):
    """Row-normalised confusion matrix of (classes, classes) counts (rows: true, columns: predicted)."""
    counts = np.asarray(counts, float)
    fig, ax = (ax.figure, ax) if ax is not None else (lambda f, a: (f, a[0]))(*_figure(4.5, 4))
    rates = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.tight_layout()
    return fig


def confusion_matrix(history, task: str, ax=None):
    """Row-normalised confusion matrix of ``task`` on the evaluation split of a History."""
    metric = MAIN_METRIC[task]
    return confusion(history.confusion[task], history.classes.get(task, ["non-speech", "speech"]),
                     f"{task}: {metric} {history.test[task][metric]:.2f}", ax)


def curves(history):
    """Training loss and validation main metric per epoch, one line per task."""
    fig, (left, right) = _figure(9, 3.2, 2)
    epochs = [e["epoch"] + 1 for e in history.epochs]
    for task in history.config["tasks"]:
        left.plot(epochs, [e["train_loss"][task] for e in history.epochs], label=task)
        right.plot(epochs, [e["val"][task][MAIN_METRIC[task]] for e in history.epochs], label=task)
    left.set(xlabel="epoch", ylabel="training loss", yscale="log")
    right.set(xlabel="epoch", ylabel="validation accuracy / F1", ylim=(0, 1.02))
    right.legend(fontsize=8)
    fig.tight_layout()
    return fig


def vad_over_spectrogram(feats: np.ndarray, truth: np.ndarray, guess: np.ndarray, title: str = ""):
    """A log-mel spectrogram (frames, mels) with the true and predicted speech frames drawn under it."""
    fig, ax = _figure(8, 3)
    ax = ax[0]
    frames = len(truth)
    ax.imshow(np.asarray(feats).T, origin="lower", aspect="auto", cmap="magma", extent=(0, frames, 0, 40))
    ax.fill_between(np.arange(frames), -6, -6 + 5 * np.asarray(truth, float), step="post", color="tab:green",
                    label="true speech")
    ax.fill_between(np.arange(frames), -12, -12 + 5 * np.asarray(guess, float), step="post", color="tab:blue",
                    label="predicted")
    ax.set(ylim=(-13, 40), xlabel="frame (10 ms)", ylabel="mel band", title=title)
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return fig


def gates(history):
    """Mean gate alpha_t per channel for each task (gated sharing): a (tasks, channels) heatmap."""
    tasks = list(history.gates)
    values = np.array([history.gates[t] for t in tasks])
    fig, ax = _figure(8, 0.5 + 0.45 * len(tasks))
    image = ax[0].imshow(values, aspect="auto", cmap="viridis", vmin=0, vmax=1)
    ax[0].set_yticks(range(len(tasks)), tasks)
    ax[0].set_xlabel("channel of the shared representation f")
    fig.colorbar(image, ax=ax[0], label="mean gate")
    fig.tight_layout()
    return fig


def layer_weights(history):
    """softmax(beta_t) over encoder layers for each task (layer_attention sharing)."""
    tasks = list(history.layer_weights)
    values = np.array([history.layer_weights[t] for t in tasks])
    names = history.model.layer_names if hasattr(history, "model") else [str(i) for i in range(values.shape[1])]
    fig, ax = _figure(4.5, 0.8 + 0.45 * len(tasks))
    ax[0].imshow(values, cmap="viridis", vmin=0, vmax=max(0.6, values.max()))
    for (i, j), v in np.ndenumerate(values):
        ax[0].text(j, i, f"{v:.2f}", ha="center", va="center", color="w", fontsize=8)
    ax[0].set_yticks(range(len(tasks)), tasks)
    ax[0].set_xticks(range(len(names)), names)
    ax[0].set_title("layer weights per task", fontsize=9)
    fig.tight_layout()
    return fig


def expert_weights(weights: dict, own: int = 0, title: str = "", ax=None):
    """Each task's mean softmax weights over the experts (mmoe, ple): a (tasks, experts) heatmap with its values.

    ``weights``: task -> weights over the experts (a History's ``expert_weights``, or their mean over seeds); the
    first ``own`` columns are each task's own experts (ple), the others the shared ones.
    Introduced in notebooks/03_attention_task_gating.ipynb.
    """
    tasks = list(weights)
    values = np.array([weights[t] for t in tasks], float)
    names = [f"own {e + 1}" if e < own else f"shared {e - own + 1}" for e in range(values.shape[1])]
    fig, ax = (ax.figure, ax) if ax is not None else (lambda f, a: (f, a[0]))(*_figure(1.5 + 0.9 * len(names),
                                                                                        0.9 + 0.45 * len(tasks)))
    ax.imshow(values, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    for (i, j), v in np.ndenumerate(values):
        ax.text(j, i, f"{v:.2f}", ha="center", va="center", color="w" if v < 0.6 else "k", fontsize=8)
    ax.set_yticks(range(len(tasks)), tasks)
    ax.set_xticks(range(len(names)), names, fontsize=8)
    ax.set_title(title or "mean gate weight per expert", fontsize=9)
    fig.tight_layout()
    return fig


def task_weights(history, smooth: int = 5):
    """Each task's loss weight per training step (moving average over ``smooth`` steps)."""
    fig, ax = _figure(6, 3)
    w = np.asarray(history.step_weights, float)
    kernel = np.ones(smooth) / smooth
    for i, task in enumerate(history.config["tasks"]):
        ax[0].plot(np.convolve(w[:, i], kernel, mode="valid"), label=task)
    ax[0].set(xlabel="step", ylabel="weight", title=f"{history.config['weighting']}: task weights")
    ax[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def gradient_cosines(history):
    """Mean cosine between task gradients on the shared representation, and how often each pair conflicts."""
    tasks = history.config["tasks"]
    mean = np.mean([c["matrix"] for c in history.cosines], 0)
    conflict = np.eye(len(tasks)) * 0
    for key, rate in history.conflict_rate.items():
        a, b = key.split("|")
        conflict[tasks.index(a), tasks.index(b)] = conflict[tasks.index(b), tasks.index(a)] = rate
    fig, (left, right) = _figure(9, 3.6, 2)
    for ax, values, title, cmap, lim in ((left, mean, "mean gradient cosine", "RdBu", (-1, 1)),
                                         (right, conflict, "share of steps in conflict (cos < 0)", "Reds", (0, 1))):
        ax.imshow(values, cmap=cmap, vmin=lim[0], vmax=lim[1])
        for (i, j), v in np.ndenumerate(values):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=8)
        ax.set_xticks(range(len(tasks)), tasks, rotation=30)
        ax.set_yticks(range(len(tasks)), tasks)
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def pareto(points: list, xlabel: str, ylabel: str):
    """Scatter of (label, x, y) points with the Pareto front (no other point better on both axes) joined."""
    fig, ax = _figure(5.5, 4)
    ax = ax[0]
    front = [p for p in points if not any(q[1] >= p[1] and q[2] >= p[2] and (q[1], q[2]) != (p[1], p[2])
                                          for q in points)]
    for label, x, y in points:
        ax.scatter(x, y, color="tab:red" if (label, x, y) in front else "tab:gray")
        ax.annotate(label, (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    front.sort(key=lambda p: p[1])
    ax.plot([p[1] for p in front], [p[2] for p in front], color="tab:red", lw=1, label="Pareto front")
    ax.set(xlabel=xlabel, ylabel=ylabel)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def embedding(coords: np.ndarray, labels, title: str = "", highlight: int | None = None, ax=None):
    """2-D points coloured by label (legend up to 12 labels, a colour bar for numbers); ``highlight`` circles one."""
    fig, ax = (ax.figure, ax) if ax is not None else (lambda f, a: (f, a[0]))(*_figure(5, 4.2))
    labels = np.asarray(labels)
    if labels.dtype.kind == "f":                                    # a continuous factor, e.g. pitch in Hz
        dots = ax.scatter(coords[:, 0], coords[:, 1], s=12, c=labels, cmap="viridis")
        fig.colorbar(dots, ax=ax, fraction=0.05)
    else:
        names = sorted(set(labels.tolist()), key=str)
        cmap = __import__("matplotlib").colormaps["tab20" if len(names) > 10 else "tab10"]
        for k, name in enumerate(names):
            keep = labels == name
            ax.scatter(coords[keep, 0], coords[keep, 1], s=12, color=cmap(k % cmap.N), label=str(name))
        if len(names) <= 12:
            ax.legend(fontsize=7, markerscale=1.2, loc="best")
    if highlight is not None:
        ax.scatter(*coords[highlight], s=180, facecolors="none", edgecolors="k", linewidths=2)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    return fig
