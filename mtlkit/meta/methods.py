"""Few-shot methods behind one interface: ``meta_train`` on training tasks, ``curve`` on test episodes.

- ``maml`` (second order), ``fomaml`` (first order), ``anil`` (adapt the head only), ``metasgd`` (a learnt
  inner learning rate per parameter), ``reptile``: gradient-based meta-learning of an initialisation.
- ``protonet``: prototypical networks (a class is the mean embedding of its support examples).
- ``task_embedding``: the reference design's pipeline (see :class:`TaskEmbedding`).
- ``cavia``: the inner loop adapts only a context vector fed to the network, from zero (see :class:`CAVIA`).
- ``scratch``: a fresh network trained on the support set; ``finetune``: a network pretrained on all training
  tasks' labels, then fine-tuned on the support set. Both pick their inner learning rate from a small grid on
  training episodes (``LR_GRID``); the meta-learners keep the ``inner_lr`` they were meta-trained with.

A method lives on ``device`` (default: the CPU; ``device="cuda"`` puts it on the GPU) and moves the episode
tensors it is given there itself, so ``method.curve(sampler.tensors(episodes), ...)`` works wherever it is.
Introduced in notebooks/06_maml_fast_adaptation.ipynb.
"""
from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, vmap

from ..config import check_choice, pick
from ..device import to_device
from ..progress import progress_bar
from .functional import KEYS, accuracy_curve, adapt, adapt_context, meta_loss, over_tasks, use_vmap
from .model import ContextNet, MetaNet, update_statistics

OPTIMIZERS = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD}
"""Outer-loop optimisers by name."""


class Method:
    """A meta-learner around a :class:`MetaNet`; subclasses define ``meta_step`` and may override ``curve``."""

    name = ""
    meta_trained = True

    def __init__(self, sampler, width: int = 32, encoder: str = "cnn", norm: str = "layer", inner_lr: float = 0.1,
                 outer_lr: float = 3e-3, optimizer: str = "adam", inner_steps: int = 5, seed: int = 0,
                 vectorize: bool | None = None, chunk_size: int | None = None, device: str = "cpu"):
        check_choice("optimizer", optimizer, tuple(OPTIMIZERS))
        if inner_lr <= 0 or outer_lr <= 0:
            raise ValueError(f"learning rates must be > 0, got inner_lr={inner_lr}, outer_lr={outer_lr}")
        if inner_steps < 1:
            raise ValueError(f"inner_steps={inner_steps}: meta-training needs at least one inner step")
        torch.manual_seed(seed)
        self.sampler, self.inner_lr, self.inner_steps, self.seed = sampler, inner_lr, inner_steps, seed
        self.vectorize, self.chunk_size = vectorize, chunk_size
        self.device = torch.device(device)
        self.model = self.network(width, encoder, norm).to(self.device)
        self.extra = nn.ParameterDict()
        self.build()
        self.optimizer = OPTIMIZERS[optimizer](list(self.model.parameters()) + list(self.extra.parameters()),
                                               lr=outer_lr)
        self.losses, self.seconds = [], 0.0

    def network(self, width: int, encoder: str, norm: str) -> nn.Module:
        """The network the method adapts: a :class:`MetaNet` (CAVIA's takes a context vector too)."""
        return MetaNet(self.sampler.n_way, self.sampler.feats.shape[-1], width, encoder, norm)

    def build(self) -> None:
        """Create method-specific parameters in ``self.extra``, on ``self.device`` (none by default)."""

    def params(self) -> dict:
        """The meta-parameters theta by name (attached to the model: gradients land in .grad)."""
        return dict(self.model.named_parameters())

    def buffers(self) -> dict:
        """The model's buffers by name (BatchNorm running statistics)."""
        return dict(self.model.named_buffers())

    def meta_train(self, meta_steps: int, meta_batch: int = 16, seed: int = 0, progress=None) -> list:
        """Run ``meta_steps`` outer steps on meta-batches of training episodes; returns the meta-losses.

        ``progress``: True shows a tqdm bar, a function is called as ``progress(done, total)``.
        """
        if meta_steps < 0 or meta_batch < 1:
            raise ValueError(f"need meta_steps >= 0 and meta_batch >= 1, got {meta_steps}, {meta_batch}")
        rng = np.random.default_rng(seed)
        start = time.perf_counter()
        self.model.train()
        bar = progress_bar(meta_steps, progress, f"{self.name} meta-training")
        for step in range(meta_steps):
            batch = to_device(self.sampler.tensors([self.sampler.sample("train", rng) for _ in range(meta_batch)]),
                              self.device)
            self.optimizer.zero_grad()
            loss = self.meta_step(batch)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"{self.name}: meta-loss is {loss.item()} at step {step}; lower "
                                         f"inner_lr={self.inner_lr} or the outer learning rate")
            self.optimizer.step()
            with torch.no_grad(), update_statistics(self.model):          # BatchNorm: outer loop only
                self.model(batch["x_s"].flatten(0, 1), batch["len_s"].flatten())
            self.losses.append(float(loss))
            bar.update()
        bar.close()
        self.seconds += time.perf_counter() - start
        return self.losses

    def meta_step(self, batch: dict) -> torch.Tensor:
        """Put the meta-gradient of one meta-batch into .grad; return the (detached) meta-loss."""
        raise NotImplementedError

    def curve(self, batch: dict, steps: int, episodes: list | None = None) -> torch.Tensor:
        """(tasks, steps + 1) query accuracy after 0..steps adaptation steps (eval mode)."""
        self.model.eval()
        return accuracy_curve(self.model, self.params(), self.buffers(), batch, steps, self.inner_lr,
                              names=self.names(), lrs=self.lrs(), vectorize=self.vectorize,
                              chunk_size=self.chunk_size)

    def predict(self, batch: dict, steps: int, episodes: list | None = None) -> torch.Tensor:
        """(tasks, Q) predicted query labels after ``steps`` adaptation steps on each support set (eval mode)."""
        self.model.eval()
        batch, out = to_device(batch, self.device), []
        for t in range(len(batch["y_s"])):
            p = {k: v.detach() for k, v in self.start(episodes[t].classes if episodes else None).items()}
            x_s, len_s, y_s = batch["x_s"][t], batch["len_s"][t], batch["y_s"][t]
            lrs = None if self.lrs() is None else {k: v.detach() for k, v in self.lrs().items()}
            p = adapt(self.model, p, self.buffers(), x_s, len_s, y_s, steps, self.inner_lr, True, self.names(), lrs)
            with torch.no_grad():
                out.append(functional_call(self.model, (p, self.buffers()), (batch["x_q"][t], batch["len_q"][t])))
        return torch.stack(out).argmax(-1)

    def start(self, classes: list | None = None) -> dict:
        """The parameters a test episode starts adapting from (the meta-learnt theta)."""
        return self.params()

    def names(self):
        """The parameters the inner loop adapts (None: all of them)."""
        return None

    def lrs(self):
        """Inner learning rate per parameter (None: ``inner_lr`` for all)."""
        return None


class MAMLMethod(Method):
    """MAML (Finn et al., 2017): learn theta so that a few gradient steps on a support set fit the task."""

    name, first_order, head_only = "maml", False, False

    def names(self):
        return [k for k in self.params() if k.startswith("head.")] if self.head_only else None

    def meta_step(self, batch):
        loss = meta_loss(self.model, self.params(), self.buffers(), batch, vectorize=self.vectorize,
                         chunk_size=self.chunk_size, steps=self.inner_steps, lr=self.inner_lr,
                         first_order=self.first_order, names=self.names(), lrs=self.lrs())
        loss.backward()
        return loss.detach()


class FOMAML(MAMLMethod):
    """First-order MAML: the inner gradients are treated as constants (no second derivatives)."""

    name, first_order = "fomaml", True


class ANIL(MAMLMethod):
    """ANIL (Raghu et al., 2020): the inner loop adapts the head only; the encoder is meta-learnt."""

    name, head_only = "anil", True


class MetaSGD(MAMLMethod):
    """Meta-SGD (Li et al., 2017): a learnt inner learning rate per parameter entry, initialised at inner_lr."""

    name = "metasgd"

    def build(self):
        for k, p in self.model.named_parameters():
            self.extra[k.replace(".", "__")] = nn.Parameter(torch.full_like(p, self.inner_lr))

    def lrs(self):
        return {k: self.extra[k.replace(".", "__")] for k in self.params()}


class Reptile(Method):
    """Reptile (Nichol et al., 2018): move theta towards the weights adapted on each task (first order).

    The outer optimiser receives theta - mean_i theta_i' as its gradient.
    """

    name = "reptile"

    def meta_step(self, batch):
        params = {k: v.detach() for k, v in self.params().items()}
        x = torch.cat([batch["x_s"], batch["x_q"]], 1)
        lengths, y = torch.cat([batch["len_s"], batch["len_q"]], 1), torch.cat([batch["y_s"], batch["y_q"]], 1)
        task = lambda x, n, y: adapt(self.model, params, self.buffers(), x, n, y, self.inner_steps,  # noqa: E731
                                     self.inner_lr, first_order=True)
        adapted = over_tasks(task, x, lengths, y, vectorize=use_vmap(self.model, self.vectorize),
                             chunk_size=self.chunk_size)
        for k, p in self.model.named_parameters():
            p.grad = params[k] - adapted[k].mean(0)
        logits = self.model(batch["x_q"].flatten(0, 1), batch["len_q"].flatten())
        return F.cross_entropy(logits, batch["y_q"].flatten()).detach()


def _embed_sets(model, batch) -> tuple:
    """Embeddings of every support and query utterance: (tasks, N*K, width) and (tasks, Q, width)."""
    t = len(batch["y_s"])
    h_s = model.embed(batch["x_s"].flatten(0, 1), batch["len_s"].flatten()).unflatten(0, (t, -1))
    h_q = model.embed(batch["x_q"].flatten(0, 1), batch["len_q"].flatten()).unflatten(0, (t, -1))
    return h_s, h_q


def _prototypes(h: torch.Tensor, y: torch.Tensor, n_way: int) -> torch.Tensor:
    """(tasks, N*K, width), (tasks, N*K) -> (tasks, N, width) class means."""
    onehot = F.one_hot(y, n_way).float()                                   # (tasks, N*K, N)
    return onehot.transpose(1, 2) @ h / onehot.sum(1).unsqueeze(-1)


class ProtoNet(Method):
    """Prototypical networks (Snell et al., 2017): logits are minus squared distances to class prototypes."""

    name = "protonet"

    def logits(self, batch):
        """(tasks, Q, N): minus the squared distance of each query to each class prototype."""
        h_s, h_q = _embed_sets(self.model, batch)
        return -torch.cdist(h_q, _prototypes(h_s, batch["y_s"], self.sampler.n_way)) ** 2

    def meta_step(self, batch):
        loss = F.cross_entropy(self.logits(batch).flatten(0, 1), batch["y_q"].flatten())
        loss.backward()
        return loss.detach()

    @torch.no_grad()
    def predict(self, batch, steps, episodes=None):
        self.model.eval()
        return self.logits(to_device(batch, self.device)).argmax(-1)

    def curve(self, batch, steps, episodes=None):
        batch = to_device(batch, self.device)
        acc = (self.predict(batch, steps) == batch["y_q"]).float().mean(1)
        return acc.unsqueeze(1).expand(-1, steps + 1)


class TaskEmbedding(Method):
    """The reference design: task embedding -> meta-learner -> initial parameters -> fast adaptation -> inference.

    The encoder embeds the support set; its mean is the task embedding z. A hypernetwork maps z to FiLM scales
    and shifts of the features (h -> h * (1 + gamma(z)) + beta(z)) and sets the head's initial weights from the
    FiLM-ed class means (w_c = mu_c, b_c = -|mu_c|^2 / 2). A few gradient steps adapt the head on the support
    set; everything is trained end to end through them. ``film=False`` is the ablation without the
    hypernetwork (gamma = beta = 0 throughout): prototypes as the initial head, then the same steps.
    """

    name = "task_embedding"

    def __init__(self, sampler, film: bool = True, **options):
        self.use_film = film
        super().__init__(sampler, **options)

    def build(self):
        width = self.model.head.in_features
        self.film = nn.Linear(width, 2 * width, device=self.device)
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)
        if self.use_film:
            self.extra.update({f"film__{k}": p for k, p in self.film.named_parameters()})
        else:
            self.film.requires_grad_(False)                 # stays zero: no FiLM

    def task_embeddings(self, batch) -> torch.Tensor:
        """(tasks, width): the mean support embedding of each task, z."""
        return _embed_sets(self.model, to_device(batch, self.device))[0].mean(1)

    def _film(self, batch) -> tuple:
        """z (tasks, width), gamma and beta (tasks, 1, width), FiLM-ed support and query embeddings
        (tasks, N*K, width) and (tasks, Q, width)."""
        h_s, h_q = _embed_sets(self.model, batch)
        z = h_s.mean(1)
        gamma, beta = self.film(z).unsqueeze(1).chunk(2, -1)
        return z, gamma, beta, h_s * (1 + gamma) + beta, h_q * (1 + gamma) + beta

    @staticmethod
    def _logits(f_q, head: dict) -> torch.Tensor:
        """(tasks, Q, N) logits of per-task heads w (tasks, N, width), b (tasks, N) on query features."""
        return torch.einsum("tqw,tnw->tqn", f_q, head["w"]) + head["b"].unsqueeze(1)

    def _adapted_heads(self, f_s, y_s, steps, first_order=False):
        """Per task: initial head from the class means, then ``steps`` gradient steps on the support set."""
        n = self.sampler.n_way

        def one(f, y):
            mu = _prototypes(f[None], y[None], n)[0]
            head = dict(w=mu, b=-(mu ** 2).sum(-1) / 2)
            heads = [head]
            for _ in range(steps):
                g = grad(lambda h: F.cross_entropy(f @ h["w"].T + h["b"], y))(head)
                if first_order:
                    g = {k: v.detach() for k, v in g.items()}
                head = {k: head[k] - self.inner_lr * g[k] for k in head}
                heads.append(head)
            return heads

        return vmap(one)(f_s, y_s)

    def meta_step(self, batch):
        *_, f_s, f_q = self._film(batch)
        head = self._adapted_heads(f_s, batch["y_s"], self.inner_steps)[-1]
        loss = F.cross_entropy(self._logits(f_q, head).flatten(0, 1), batch["y_q"].flatten())
        loss.backward()
        return loss.detach()

    def _run(self, batch, steps) -> tuple:
        """Eval mode, no meta-gradient: the outputs of :meth:`_film` and the heads after 0..``steps`` steps."""
        self.model.eval()
        batch = to_device(batch, self.device)
        with torch.no_grad():
            parts = self._film(batch)
        heads = self._adapted_heads(parts[-2], batch["y_s"], steps, first_order=True)
        return parts, [{k: v.detach() for k, v in h.items()} for h in heads]

    def stages(self, batch, steps: int = 5) -> dict:
        """Every stage of the pipeline for a batch of episodes, for inspection (eval mode).

        z (tasks, width), gamma and beta (tasks, width), the FiLM-ed features f_s (tasks, N*K, width) and
        f_q (tasks, Q, width), the initial head w0 (tasks, N, width) and b0 (tasks, N), the adapted head w and
        b after ``steps`` steps, and the query predictions (tasks, Q) of both heads.
        """
        (z, gamma, beta, f_s, f_q), heads = self._run(batch, steps)
        first, last = heads[0], heads[-1]
        return dict(z=z, gamma=gamma[:, 0], beta=beta[:, 0], f_s=f_s, f_q=f_q, w0=first["w"], b0=first["b"],
                    w=last["w"], b=last["b"], before=self._logits(f_q, first).argmax(-1),
                    after=self._logits(f_q, last).argmax(-1))

    def _predictions(self, batch, steps) -> list:
        """Query predictions (tasks, Q) after 0, 1, ..., ``steps`` steps of the head."""
        (*_, f_q), heads = self._run(batch, steps)
        return [self._logits(f_q, h).argmax(-1) for h in heads]

    def predict(self, batch, steps, episodes=None):
        return self._predictions(batch, steps)[-1]

    def curve(self, batch, steps, episodes=None):
        batch = to_device(batch, self.device)
        return torch.stack([(p == batch["y_q"]).float().mean(1) for p in self._predictions(batch, steps)], 1)


class CAVIA(Method):
    """CAVIA (Zintgraf et al. 2019): the inner loop adapts only a context vector phi (context,), from phi = 0.

    Per task, phi_0 = 0 and phi <- phi - inner_lr * dL_support(theta, phi)/dphi (``inner_steps`` times); theta
    never moves in the inner loop. The meta-loss mean_i L_query_i(theta, phi_i) is backpropagated to theta
    through those steps (second order). phi FiLMs the output of the network's first layer, as the paper's
    convolutional networks condition a middle layer (FiLM scales and shifts; a context concatenated to the
    frames of a conv net could only shift them; see :class:`ContextNet`): the inner loop learns a task
    embedding by gradient descent. ``contexts(batch, steps)`` -> (tasks, context).
    By default 2 inner steps of 1.0, the paper's setting for few-shot image classification.
    Introduced in notebooks/07_task_embeddings.ipynb.
    """

    name = "cavia"

    def __init__(self, sampler, context: int = 16, inner_lr: float = 1.0, inner_steps: int = 2, **options):
        if isinstance(context, bool) or not isinstance(context, int) or context < 1:
            raise ValueError(f"context={context!r}: CAVIA's context vector needs a whole number of entries >= 1")
        self.context = context
        super().__init__(sampler, inner_lr=inner_lr, inner_steps=inner_steps, **options)

    def network(self, width, encoder, norm):
        return ContextNet(self.sampler.n_way, self.sampler.feats.shape[-1], width, encoder, norm, self.context)

    def meta_step(self, batch):
        params, buffers = self.params(), self.buffers()

        def task(x_s, len_s, y_s, x_q, len_q, y_q):
            phi = adapt_context(self.model, params, buffers, x_s, len_s, y_s, self.inner_steps, self.inner_lr)[-1]
            return F.cross_entropy(functional_call(self.model, (params, buffers), (x_q, len_q, phi)), y_q)

        loss = over_tasks(task, *(batch[k] for k in KEYS), vectorize=use_vmap(self.model, self.vectorize),
                          chunk_size=self.chunk_size).mean()
        loss.backward()
        return loss.detach()

    def _adapted(self, batch, steps) -> tuple:
        """Eval mode, no meta-gradient: phi after 0..``steps`` steps (tasks, steps + 1, context) and the query
        logits with each (tasks, steps + 1, Q, N)."""
        self.model.eval()
        batch = to_device(batch, self.device)
        params = {k: v.detach() for k, v in self.params().items()}
        buffers = self.buffers()

        def task(x_s, len_s, y_s, x_q, len_q):
            phis = adapt_context(self.model, params, buffers, x_s, len_s, y_s, steps, self.inner_lr, first_order=True)
            logits = [functional_call(self.model, (params, buffers), (x_q, len_q, phi)) for phi in phis]
            return torch.stack(phis).detach(), torch.stack(logits).detach()

        return over_tasks(task, *(batch[k] for k in KEYS[:5]), vectorize=use_vmap(self.model, self.vectorize),
                          chunk_size=self.chunk_size)

    def contexts(self, batch, steps: int | None = None) -> torch.Tensor:
        """(tasks, context): each task's phi after ``steps`` inner steps on its support set (default inner_steps)."""
        return self._adapted(batch, self.inner_steps if steps is None else steps)[0][:, -1]

    def predict(self, batch, steps, episodes=None):
        return self._adapted(batch, steps)[1][:, -1].argmax(-1)

    def curve(self, batch, steps, episodes=None):
        logits = self._adapted(batch, steps)[1]
        return (logits.argmax(-1) == to_device(batch["y_q"], self.device)[:, None]).float().mean(-1)


def _tune_inner_lr(method, grid, seed: int, episodes: int | None = None) -> dict:
    """Set ``method.inner_lr`` to the value of ``grid`` with the best mean query accuracy on ``episodes``
    *training* episodes (32; 16 in fast mode) after ``method.inner_steps`` steps; returns every value's accuracy."""
    episodes = pick(32, 16) if episodes is None else episodes
    rng = np.random.default_rng(seed)
    chosen = [method.sampler.sample("train", rng) for _ in range(episodes)]
    batch = method.sampler.tensors(chosen)
    scores = {}
    for lr in grid:
        method.inner_lr = lr
        scores[lr] = float(method.curve(batch, method.inner_steps, chosen)[:, -1].mean())
    method.inner_lr = max(scores, key=scores.get)
    return scores


class Scratch(Method):
    """No meta-training: a freshly initialised network adapted on the support set (all parameters).

    ``meta_train`` only picks the inner learning rate from :data:`LR_GRID` that does best on training
    episodes after ``inner_steps`` steps (a fair baseline, not an untuned one); ``lr_scores`` keeps the grid.
    """

    name, meta_trained = "scratch", False
    LR_GRID = (0.01, 0.03, 0.1, 0.3, 1.0)

    def meta_train(self, meta_steps, meta_batch=16, seed=0, progress=None):
        self.lr_scores = _tune_inner_lr(self, self.LR_GRID, seed + 1)
        return []


class FineTune(Method):
    """Pretrain on every training utterance with its label (all classes at once), then fine-tune per task.

    The pretraining sees as many utterances as meta-training does (meta_steps x meta_batch x episode size).
    A test episode's head starts from the pretrained rows of its classes when they were seen (emotions,
    keywords) and from zero otherwise (new speakers); then every parameter is fine-tuned on the support set
    with the learning rate of :data:`LR_GRID` that does best on training episodes after ``inner_steps``
    steps (5 by default).
    """

    name = "finetune"
    LR_GRID = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3)

    def meta_train(self, meta_steps, meta_batch=16, seed=0, progress=None):
        losses = super().meta_train(meta_steps, meta_batch, seed, progress)
        self.lr_scores = _tune_inner_lr(self, self.LR_GRID, seed + 1)
        return losses

    def build(self):
        pool = sorted(i for idx in self.sampler.groups["train"].values() for i in idx)
        self.pool = np.asarray(pool)
        self.class_names = sorted(set(self.sampler.labels[self.pool].tolist()))
        self.targets = torch.as_tensor([self.class_names.index(c) for c in self.sampler.labels[self.pool]],
                                       device=self.device)
        self.full_head = nn.Linear(self.model.head.in_features, len(self.class_names), device=self.device)
        self.extra.update({f"full_head__{k}": p for k, p in self.full_head.named_parameters()})
        self.rng = np.random.default_rng(self.seed)

    def meta_step(self, batch):
        size = batch["y_s"].numel() + batch["y_q"].numel()
        pick = self.rng.choice(len(self.pool), min(size, len(self.pool)), replace=False)
        idx = torch.as_tensor(self.pool[pick])
        h = self.model.embed(*to_device((self.sampler.feats[idx], self.sampler.lengths[idx]), self.device))
        loss = F.cross_entropy(self.full_head(h), self.targets[torch.as_tensor(pick, device=self.device)])
        loss.backward()
        return loss.detach()

    def start(self, classes: list | None = None) -> dict:
        """Parameters for a test episode with these class names: pretrained encoder, head from known rows."""
        if classes is None:
            raise ValueError("finetune needs the episodes (their class names pick the pretrained head rows)")
        params = {k: v.detach() for k, v in self.params().items()}
        w = torch.zeros_like(params["head.weight"])
        b = torch.zeros_like(params["head.bias"])
        for i, c in enumerate(classes):
            if c in self.class_names:
                w[i] = self.full_head.weight[self.class_names.index(c)].detach()
                b[i] = self.full_head.bias[self.class_names.index(c)].detach()
        return {**params, "head.weight": w, "head.bias": b}

    def curve(self, batch, steps, episodes=None):
        if episodes is None:
            raise ValueError("finetune needs the episodes (their class names pick the pretrained head rows)")
        self.model.eval()
        starts = [self.start(e.classes) for e in episodes]
        heads = {k: torch.stack([s[k] for s in starts]) for k in ("head.weight", "head.bias")}
        return accuracy_curve(self.model, starts[0], self.buffers(), batch, steps, self.inner_lr,
                              vectorize=self.vectorize, chunk_size=self.chunk_size, per_task=heads)


METHODS = {m.name: m for m in (MAMLMethod, FOMAML, ANIL, MetaSGD, Reptile, ProtoNet, TaskEmbedding, CAVIA,
                               Scratch, FineTune)}
"""Every few-shot method by the name the command line and the widgets list."""


def make_method(name: str, sampler, **options) -> Method:
    """Build the method called ``name`` (see :data:`METHODS`) for a sampler's task family."""
    check_choice("meta-learning method", name, tuple(METHODS))
    return METHODS[name](sampler, **options)
