"""Training a multi-task model: ``fit`` returns a History (plain data), every plot is drawn from it."""
from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .config import check_choice, pick
from .device import default_device, model_device, to_device, to_numpy
from .features import IGNORE, FeatureDataset, collate
from .metrics import confusion, task_metrics
from .models import FRAME_TASKS, MultiTaskModel
from .models.encoder import frame_mask, pooled_lengths
from .progress import progress_bar
from .weighting import GRAD_ON, WEIGHTINGS, make_weighting

TASK_ORDER = ("vad", "speaker", "emotion", "keyword", "accent", "language")
"""Every task the trainer knows, in the order results list them."""


@dataclass
class History:
    """A training run as plain data (JSON-serialisable): config, per-epoch curves, diagnostics, test metrics."""

    config: dict
    epochs: list = field(default_factory=list)        # [{epoch, train_loss: {task}, val: {task: {metric}}, weights}]
                                                      # (val: the 'val' split; test: the eval_split at the end)
    step_weights: list = field(default_factory=list)  # per step: [w_task for task in tasks]
    cosines: list = field(default_factory=list)       # per diagnosed step: (T, T) cosine matrix as nested lists
    conflict_rate: dict = field(default_factory=dict)  # "a|b" -> share of diagnosed steps with negative cosine
    gates: dict = field(default_factory=dict)          # task -> mean gate per channel (gated sharing)
    layer_weights: dict = field(default_factory=dict)  # task -> softmax weights over layers (layer_attention)
    expert_weights: dict = field(default_factory=dict)  # task -> mean softmax weights over experts (mmoe, ple)
    test: dict = field(default_factory=dict)           # task -> {metric: value} on the evaluation split
    confusion: dict = field(default_factory=dict)      # task -> (classes, classes) counts on the evaluation split
    classes: dict = field(default_factory=dict)        # task -> class names
    n_parameters: int = 0
    seconds: float = 0.0

    def to_json(self) -> str:
        """The run as a JSON string."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "History":
        """Rebuild a History from :meth:`to_json`'s output."""
        return cls(**json.loads(text))

    def save(self, path) -> None:
        """Write the JSON atomically (a temporary file renamed into place)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "w") as f:
            f.write(self.to_json())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path) -> "History":
        """Read a History written by :meth:`save`."""
        return cls.from_json(Path(path).read_text())


def _limit_labels(dataset: FeatureDataset, fractions: dict, seed: int) -> None:
    """Keep the labels of only a fraction of the utterances for some tasks (the others become IGNORE)."""
    rng = np.random.default_rng(seed + 1000)
    for task, fraction in (fractions or {}).items():
        check_choice("task in label_fraction", task, dataset.tasks)
        if not 0 < fraction <= 1:
            raise ValueError(f"label_fraction[{task!r}]={fraction} must be in (0, 1]")
        keep = set(rng.permutation(len(dataset))[: max(1, round(fraction * len(dataset)))].tolist())
        for i, item in enumerate(dataset.items):
            if i not in keep:
                item[task] = torch.full_like(item[task], IGNORE) if task in FRAME_TASKS else IGNORE


def task_loss(task: str, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy ignoring IGNORE labels (padded frames, hidden labels); 0 with graph when none is left."""
    if task in FRAME_TASKS:
        logits, labels = logits.reshape(-1, logits.shape[-1]), labels.reshape(-1)
    if (labels != IGNORE).sum() == 0:
        return logits.sum() * 0.0
    return F.cross_entropy(logits, labels, ignore_index=IGNORE)


def batches(dataset, batch_size: int, generator: torch.Generator | None = None, by_length: bool = False):
    """Collated batches of a FeatureDataset: shuffled by ``generator``, or in order when it is None.

    ``by_length`` (without a generator) batches utterances in length order, so that each batch pads less: for
    evaluation, where the order does not matter. Training batches stay plain random draws: batches of similar
    lengths train 1.3x faster but learn emotion worse (on the fast corpus notebook 01's emotion accuracy fell from
    0.47 to 0.33), since an emotion changes the speaking rate and so the length.
    """
    if generator is not None:
        order = torch.randperm(len(dataset), generator=generator).tolist()
    elif by_length:
        order = sorted(range(len(dataset)), key=lambda i: len(dataset.feats[i]))
    else:
        order = list(range(len(dataset)))
    for start in range(0, len(order), batch_size):
        yield collate([dataset[i] for i in order[start:start + batch_size]])


@torch.no_grad()
def evaluate(model: MultiTaskModel, dataset, batch_size: int = 64) -> tuple[dict, dict]:
    """Metrics per task on a dataset, and the (true, predicted) labels: ({task: {metric}}, {task: (y, y_hat)}).

    Utterances are batched in length order (less padding); the pairs follow that order, which no metric sees.
    """
    model.eval()
    device = model_device(model)
    pairs = {t: ([], []) for t in model.tasks}
    for batch in batches(dataset, batch_size, None, by_length=True):
        batch = to_device(batch, device)
        out = model(batch["feats"], batch["lengths"])
        for t, logits in out.logits.items():
            y, y_hat = batch[t], logits.argmax(-1)
            keep = y != IGNORE
            pairs[t][0].append(to_numpy(y[keep]))
            pairs[t][1].append(to_numpy(y_hat[keep]))
    pairs = {t: (np.concatenate(a), np.concatenate(b)) for t, (a, b) in pairs.items()}
    return {t: task_metrics(t, y, y_hat, model.tasks[t]) for t, (y, y_hat) in pairs.items()}, pairs


def _task_grads(losses: torch.Tensor, leaves: list) -> torch.Tensor:
    """(T, D): gradient of each task loss on ``leaves`` (the shared representation or parameters), flattened."""
    rows = []
    for loss in losses:
        grads = torch.autograd.grad(loss, leaves, retain_graph=True, allow_unused=True)
        rows.append(torch.cat([(g if g is not None else torch.zeros_like(x)).reshape(-1)
                               for g, x in zip(grads, leaves)]))
    return torch.stack(rows)


def task_gradients(model: MultiTaskModel, batch: dict, tasks, grad_on: str = "parameters") -> torch.Tensor:
    """(T, D): each task's loss gradient for one batch, on the shared encoder's parameters or representation.

    Introduced in notebooks/04_loss_weighting.ipynb.
    """
    check_choice("grad_on", grad_on, GRAD_ON)
    split = grad_on == "representation"
    out, losses = _forward(model, to_device(batch, model_device(model)), tasks, split)
    return _task_grads(losses, out.shared_leaves if split else model.shared_parameters())


def _forward(model: MultiTaskModel, batch: dict, tasks, split: bool) -> tuple:
    """The model's Output on a batch and the task losses (T,); ``split``: heads read detached shared copies."""
    out = model(batch["feats"], batch["lengths"], split_shared=split)
    return out, torch.stack([task_loss(t, out.logits[t], batch[t]) for t in tasks])


def _cosines(grads: torch.Tensor) -> torch.Tensor:
    unit = grads / grads.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return unit @ unit.T


def fit(corpus, tasks=("vad", "speaker", "emotion", "keyword"), sharing: str = "hard", weighting: str = "equal",
        epochs: int | None = None, lr: float = 5e-3, batch_size: int = 32, seed: int = 0,
        label_fraction: dict | None = None, adversary: str | None = None, adversary_strength: float = 1.0,
        weighting_options: dict | None = None, model_options: dict | None = None, eval_split: str = "test",
        diagnose_every: int = 5, progress=True, device: str | None = None, grad_on: str | None = None) -> History:
    """Train a multi-task model on the corpus's 'train' split and evaluate it on ``eval_split``.

    ``adversary='speaker'`` adds a gradient-reversal speaker classifier on the emotion branch (strength
    ``adversary_strength``). ``progress`` is True (a tqdm bar), False, or a function called as
    ``progress(done_steps, total_steps)`` (the widgets' progress bars). ``device``: where to train (default: the
    GPU when there is one, see :func:`mtlkit.device.default_device`). The trained model and the feature
    scaling are attached as ``history.model`` and ``history.stats`` (not serialised; see :func:`features_for`).
    ``grad_on`` is where task gradients are taken, for gradient-based weightings and for the diagnostics
    (``history.cosines``): 'representation' (the shared encoder's output) or 'parameters' (the shared encoder's
    weights). None means the weighting's own ``grad_on`` ('parameters' for the diagnostics of weight-based
    methods under hierarchical sharing, whose tasks read different layers); ``history.config`` records it.
    Introduced in notebooks/01_single_task_baselines.ipynb.
    """
    tasks = list(tasks)
    if not tasks:
        raise ValueError(f"at least one task is needed; tasks: {', '.join(TASK_ORDER)}")
    for t in tasks:
        check_choice("task", t, TASK_ORDER)
        corpus.require(t)
    check_choice("weighting", weighting, tuple(WEIGHTINGS))
    if adversary is not None:
        check_choice("adversary", adversary, ("speaker",))
        corpus.require("speaker")
    epochs = epochs if epochs is not None else pick(20, 8)
    device = torch.device(device) if device else default_device()
    torch.manual_seed(seed)
    np.random.seed(seed)
    start = time.perf_counter()

    train_corpus, eval_corpus = corpus.split("train"), corpus.split(eval_split)
    for name in dict.fromkeys(("train", eval_split, "val")):
        if not len(corpus.split(name)):
            raise ValueError(f"the {name} split of this corpus is empty (utterances per split: "
                             f"{dict(sorted(corpus.counts('split').items()))}); give each training speaker more "
                             f"utterances")
    label_tasks = tasks + (["speaker"] if adversary and "speaker" not in tasks else [])
    train = FeatureDataset(train_corpus, label_tasks)
    classes = train.classes
    evalset = FeatureDataset(eval_corpus, label_tasks, classes=classes, stats=train.stats)
    valset = FeatureDataset(corpus.split("val"), label_tasks, classes=classes, stats=train.stats)
    _limit_labels(train, label_fraction, seed)
    n_classes = {t: 2 if t == "vad" else len(classes[t]) for t in tasks}
    model = MultiTaskModel(n_classes, sharing=sharing, n_features=train.features.n_features,
                           adversary_classes=len(classes["speaker"]) if adversary else 0,
                           adversary_strength=adversary_strength, **(model_options or {})).to(device)
    weigher = make_weighting(weighting, tasks, **(weighting_options or {})).to(device)
    has_shared = bool(model.shared_parameters())
    if weigher.needs_grads and not has_shared:
        raise ValueError(f"weighting {weighting!r} combines task gradients on a shared encoder, and sharing "
                         f"{sharing!r} has none; use it with hard, gated, layer_attention, mtan, mmoe or ple (or "
                         f"hierarchical with grad_on='parameters')")
    if grad_on is None:
        hierarchical_diagnostics = sharing == "hierarchical" and not weigher.needs_grads
        grad_on = "parameters" if hierarchical_diagnostics else weigher.grad_on
    check_choice("grad_on", grad_on, GRAD_ON)
    if weigher.needs_grads and sharing == "hierarchical" and grad_on == "representation":
        raise ValueError(f"weighting {weighting!r} cannot combine gradients on the representation with hierarchical "
                         f"sharing: tasks read different layers, so their gradients there have disjoint support "
                         f"(cosine exactly 0); pass grad_on='parameters'")
    groups = [dict(params=list(model.parameters()), lr=lr)]
    weighting_lr = getattr(weigher, "lr", lr)
    if list(weigher.parameters()):                  # e.g. uncertainty's log-variances: their own constant lr
        groups.append(dict(params=list(weigher.parameters()), lr=weighting_lr))
    optimizer = torch.optim.Adam(groups)
    steps_per_epoch = -(-len(train) // batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=[g["lr"] for g in groups],
                                                   total_steps=epochs * steps_per_epoch,
                                                   pct_start=0.2)     # warm up, then anneal: fast from scratch
    for group in optimizer.param_groups[1:]:        # OneCycle moves each group between these: equal keeps it constant
        group.update(initial_lr=weighting_lr, max_lr=weighting_lr, min_lr=weighting_lr, lr=weighting_lr,
                     base_momentum=0.9, max_momentum=0.9, betas=(0.9, 0.999))
    history = History(config=dict(tasks=tasks, sharing=sharing, weighting=weighting, epochs=epochs, lr=lr,
                                  batch_size=batch_size, seed=seed, label_fraction=label_fraction or {},
                                  adversary=adversary, adversary_strength=adversary_strength,
                                  weighting_options=weighting_options or {}, model_options=model_options or {},
                                  eval_split=eval_split, corpus=corpus.info.get("key", str(corpus.root)),
                                  grad_on=grad_on),
                      classes={t: list(v) for t, v in classes.items() if t in tasks},
                      n_parameters=sum(p.numel() for p in model.parameters()))
    generator = torch.Generator().manual_seed(seed)
    step, negatives, diagnosed = 0, np.zeros((len(tasks), len(tasks))), 0
    bar = progress_bar(epochs * steps_per_epoch, progress, f"{sharing}/{weighting}")
    for epoch in range(epochs):
        model.train()
        sums = np.zeros(len(tasks))
        for batch in batches(train, batch_size, generator):
            batch = to_device(batch, device)
            diagnose = has_shared and len(tasks) > 1 and step % diagnose_every == 0
            losses, combo, cos = train_step(model, weigher, optimizer, batch, tasks, diagnose, step, epoch, grad_on)
            schedule.step()
            if cos is not None:
                history.cosines.append(dict(step=step, matrix=cos.tolist()))
                negatives += to_numpy(cos < 0)
                diagnosed += 1
            history.step_weights.append([float(w) for w in combo.weights])
            sums += to_numpy(losses)
            step += 1
            bar.update(1)
        mean_loss = sums / steps_per_epoch
        weigher.epoch_end(torch.tensor(mean_loss))
        val, _ = evaluate(model, valset)
        weights = np.mean(history.step_weights[-steps_per_epoch:], 0)
        history.epochs.append(dict(epoch=epoch, train_loss=dict(zip(tasks, mean_loss.tolist())), val=val,
                                   weights=dict(zip(tasks, weights.tolist()))))
    bar.close()
    history.test, pairs = evaluate(model, evalset)
    history.confusion = {t: confusion(y, y_hat, n_classes[t]).tolist() for t, (y, y_hat) in pairs.items()}
    if diagnosed:
        history.conflict_rate = {f"{a}|{b}": float(negatives[i, j] / diagnosed) for i, a in enumerate(tasks)
                                 for j, b in enumerate(tasks) if i < j}
    _record_attention(model, evalset, history)
    history.seconds = time.perf_counter() - start
    history.model, history.stats = model.eval(), train.stats
    return history


def features_for(history: History, corpus) -> FeatureDataset:
    """Features of ``corpus`` scaled as the run's training set was (labels are read from the corpus itself)."""
    return FeatureDataset(corpus, (), stats=history.stats)


def train_step(model: MultiTaskModel, weigher, optimizer, batch: dict, tasks: list, diagnose: bool = False,
               step: int = 0, epoch: int = 0, grad_on: str = "representation"):
    """One optimisation step: (losses (T,), the weighting's Combination, cosines (T, T) or None).

    Weight-based methods backpropagate sum_i w_i L_i. Gradient-based ones get each task's gradient on the
    shared representation (``grad_on='representation'``: heads read detached copies of it) or on the shared
    encoder's parameters (``grad_on='parameters'``); the encoder receives their combined direction while each
    head receives its own unweighted gradient. The cosines are taken on the same gradients. "Shared" is
    ``model.shared_parameters()`` (the tensors of ``out.shared`` lie above it); every other parameter is a task's own.
    """
    has_shared = bool(model.shared_parameters())
    split = has_shared and grad_on == "representation"
    model.train()
    out, losses = _forward(model, batch, tasks, split)
    for i, t in enumerate(tasks):
        if not torch.isfinite(losses[i]):
            raise FloatingPointError(f"loss of task {t!r} is {losses[i].item()} at step {step} (epoch {epoch}); "
                                     f"try a smaller lr")
    shared = out.shared_leaves if split else model.shared_parameters()
    grads = _task_grads(losses, shared) if has_shared and (weigher.needs_grads or diagnose) else None
    combo = weigher(losses, grads if weigher.needs_grads else None)
    optimizer.zero_grad()
    extra = model.penalty().to(losses.device)
    if out.adversary is not None:
        extra = extra + F.cross_entropy(out.adversary, batch["speaker"])
    if not weigher.needs_grads:
        (combo.loss + extra).backward()             # heads get w_i dL_i; the shared tensors collect sum_i w_i g_i
    else:
        common = {id(p) for p in model.shared_parameters()}
        own = [p for name, p in model.named_parameters() if id(p) not in common and not name.startswith("adversary.")]
        losses.sum().backward(inputs=own, retain_graph=True)   # heads, gates, layer weights: their own gradient
        if extra.requires_grad:
            extra.backward(retain_graph=True)
        if combo.loss is not None and any(p.requires_grad for p in weigher.parameters()):
            combo.loss.backward(inputs=list(weigher.parameters()), retain_graph=True)
        _add_to_leaves(shared, combo.direction if combo.direction is not None else combo.weights @ grads)
    if split:
        torch.autograd.backward(out.shared, [leaf.grad for leaf in out.shared_leaves])
    optimizer.step()
    return losses.detach(), combo, (_cosines(grads) if diagnose else None)


def _add_to_leaves(leaves: list, direction: torch.Tensor) -> None:
    """Add a flat (D,) gradient to the .grad of ``leaves`` (shared tensors or parameters), split into their shapes."""
    offset = 0
    for leaf in leaves:
        n = leaf.numel()
        g = direction[offset:offset + n].view_as(leaf)
        leaf.grad = g.clone() if leaf.grad is None else leaf.grad + g
        offset += n


@torch.no_grad()
def _record_attention(model: MultiTaskModel, dataset, history: History) -> None:
    """Mean gate per channel, layer weights and mean expert weights per task, on the evaluation split (heatmaps).

    ``gated`` and ``mtan`` (its last layer's mask): the mean over utterances and their valid frames of each
    channel's gate. ``mmoe`` and ``ple``: the mean over utterances of each task's softmax weights over the experts.
    """
    if model.sharing == "layer_attention":
        history.layer_weights = {t: torch.softmax(w, 0).tolist() for t, w in model.layer_logits.items()}
    if model.sharing in ("gated", "mtan", "mmoe", "ple"):
        gates, experts, count, device = {}, {}, 0, model_device(model)
        for batch in batches(dataset, 64, None):
            batch = to_device(batch, device)
            out = model(batch["feats"], batch["lengths"])
            lengths = pooled_lengths(batch["lengths"], model.frame_pool)
            for t, alpha in out.gates.items():                   # (batch, frames or 1, width or 1)
                valid = frame_mask(lengths, alpha.shape[1]) if alpha.shape[1] > 1 else torch.ones_like(alpha[:, :, 0])
                per_utterance = (alpha * valid.unsqueeze(-1)).sum(1) / valid.sum(1, keepdim=True)
                gates[t] = gates.get(t, 0) + per_utterance.sum(0)
            for t, w in out.expert_weights.items():
                experts[t] = experts.get(t, 0) + w.sum(0)
            count += batch["feats"].shape[0]
        history.gates = {t: (s / count).tolist() for t, s in gates.items()}
        history.expert_weights = {t: (s / count).tolist() for t, s in experts.items()}


@torch.no_grad()
def predict(history: History, corpus, task: str, batch_size: int = 64) -> list:
    """Predictions of a trained run for each utterance: class names, or a (frames,) 0/1 array for VAD."""
    model = history.model.eval()
    check_choice("task", task, tuple(model.tasks))
    names, out, device = history.classes.get(task), [], model_device(model)
    for batch in batches(features_for(history, corpus), batch_size, None):
        guess = to_numpy(model(*to_device((batch["feats"], batch["lengths"]), device)).logits[task].argmax(-1))
        if task in FRAME_TASKS:
            out += [g[:n] for g, n in zip(guess, batch["lengths"].tolist())]
        else:
            out += [names[int(g)] for g in guess]
    return out
