"""Every function that runs a model sends its inputs to the model's device and brings results back to the host.

No GPU is needed: ``OnElsewhere`` tensors stand in for GPU tensors. They report the device ``meta`` and keep
their numbers on the CPU, and they behave as CUDA tensors do where device bugs show:
- an operation mixing them with a CPU tensor raises (0-dimensional CPU tensors and CPU index tensors are
  allowed, as on CUDA);
- ``.numpy()`` raises, while ``.cpu()``, ``.item()``, ``float()`` and ``.tolist()`` work.
Inside ``elsewhere()``, ``.to(ELSEWHERE)`` and factories called with ``device=ELSEWHERE`` create them. A forward
pre-hook on every module also checks that each input is on the device of the module's parameters.
"""
import contextlib

import numpy as np
import pytest
import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten, tree_map

from mtlkit.device import model_device, to_device, to_numpy

ELSEWHERE = torch.device("meta", 0)
aten = torch.ops.aten
INDEX_OPS = {aten.index.Tensor, aten.index_put.default, aten.index_put_.default, aten._index_put_impl_.default}


def _is_elsewhere(device) -> bool:
    return device is not None and torch.device(device).type == ELSEWHERE.type


def _inner(t):
    """The CPU numbers of an OnElsewhere tensor. The autograd engine creates the zero gradients it fills in
    for unused outputs on the device itself, as real (data-less) meta tensors: read those as zeros."""
    if isinstance(t, OnElsewhere):
        return t.inner
    if isinstance(t, torch.Tensor) and t.device.type == "meta":
        return torch.zeros(t.shape, dtype=t.dtype)
    return t


class OnElsewhere(torch.Tensor):
    """A tensor that says it is on ELSEWHERE and holds its numbers in a CPU tensor, ``inner``."""

    @staticmethod
    def __new__(cls, inner):
        return torch.Tensor._make_wrapper_subclass(cls, inner.size(), strides=inner.stride(),
                                                   storage_offset=inner.storage_offset(), dtype=inner.dtype,
                                                   device=ELSEWHERE, requires_grad=inner.requires_grad)

    def __init__(self, inner):
        self.inner = inner

    def __repr__(self):
        return f"OnElsewhere({self.inner!r})"

    def __tensor_flatten__(self):
        return ["inner"], None

    @staticmethod
    def __tensor_unflatten__(inner_tensors, ctx, outer_size, outer_stride):
        return OnElsewhere(inner_tensors["inner"])

    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        checked = (args[:1], kwargs) if func in INDEX_OPS else (args, kwargs)
        for t in tree_flatten(checked)[0]:
            if isinstance(t, torch.Tensor) and t.device.type != ELSEWHERE.type and t.dim() > 0:
                raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, "
                                   f"{ELSEWHERE} and {t.device}! (in {func})")
        args, kwargs = tree_map(_inner, (args, kwargs))
        to_host = kwargs.get("device") is not None and not _is_elsewhere(kwargs["device"])
        if _is_elsewhere(kwargs.get("device")):
            kwargs["device"] = torch.device("cpu")
        out = func(*args, **kwargs)
        if to_host or func is aten._local_scalar_dense.default:
            return out
        return tree_map(lambda t: OnElsewhere(t) if isinstance(t, torch.Tensor) else t, out)


class _Elsewhere(TorchFunctionMode):
    """Creates OnElsewhere tensors for ``.to(ELSEWHERE)`` and ``device=ELSEWHERE``; refuses ``.numpy()`` on them."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is torch.Tensor.numpy and isinstance(args[0], OnElsewhere):
            raise TypeError(f"can't convert {ELSEWHERE} device type tensor to numpy. Use Tensor.cpu() first.")
        if func is torch.Tensor.tolist and isinstance(args[0], OnElsewhere):
            return args[0].inner.tolist()
        if func is torch.Tensor.to and not isinstance(args[0], OnElsewhere):
            device, dtype, *_ = torch._C._nn._parse_to(*args[1:], **kwargs)
            if _is_elsewhere(device):
                return OnElsewhere(args[0].to(dtype=dtype or args[0].dtype).detach())
        elif _is_elsewhere(kwargs.get("device")) and not any(isinstance(a, OnElsewhere) for a in args):
            with torch._C._DisableFuncTorch():        # a factory inside vmap / grad: a constant of the transform
                return OnElsewhere(func(*args, **{**kwargs, "device": "cpu"}))
        return func(*args, **kwargs)


def _inputs_on_the_parameters_device(module, inputs):
    params = list(module.parameters())
    for x in tree_flatten(inputs)[0]:
        if params and isinstance(x, torch.Tensor) and x.device != params[0].device:
            raise AssertionError(f"an input on {x.device} reached {type(module).__name__}, whose parameters are "
                                 f"on {params[0].device}")


@contextlib.contextmanager
def elsewhere():
    """Run the block with OnElsewhere tensors available and every module checking its inputs' device."""
    hook = nn.modules.module.register_module_forward_pre_hook(_inputs_on_the_parameters_device)
    try:
        with _Elsewhere():
            yield
    finally:
        hook.remove()


def test_the_stand_in_device_fails_like_a_gpu():
    with elsewhere():
        model = nn.Sequential(nn.Conv1d(3, 4, 3), nn.ReLU()).to(ELSEWHERE)
        assert model_device(model) == ELSEWHERE
        x = torch.randn(2, 3, 8)
        with pytest.raises(AssertionError, match="input on cpu reached Sequential"):
            model(x)
        with pytest.raises(RuntimeError, match="same device"):
            model[0].weight * torch.ones(4, 3, 3)
        assert (model[0].weight * torch.tensor(2.0)).device == ELSEWHERE   # a CPU scalar is fine, as on CUDA
        y = model(to_device(x, model_device(model)))
        with pytest.raises(TypeError, match="numpy"):
            y.numpy()
        assert isinstance(to_numpy(y), np.ndarray) and to_numpy(y).shape == (2, 4, 6)
        assert np.allclose(to_numpy(y), model.to("cpu")(x).detach().numpy())
        assert to_device({"a": [x]}, ELSEWHERE)["a"][0].device == ELSEWHERE


def test_fit_evaluate_predict_and_embed_follow_the_model(clean_corpus):
    from mtlkit.embeddings import embed
    from mtlkit.train import fit, predict

    with elsewhere():
        history = fit(clean_corpus, ("vad", "speaker", "emotion"), sharing="gated", epochs=1, batch_size=16,
                      device=ELSEWHERE, progress=False)
        model = history.model
        assert model_device(model) == ELSEWHERE
        assert set(history.gates) == {"vad", "speaker", "emotion"}              # _record_attention ran
        assert set(history.test) == {"vad", "speaker", "emotion"}               # evaluate ran, on val and test
        test = clean_corpus.split("test")
        vad = predict(history, test, "vad")
        assert [len(v) for v in vad] == [len(u.vad) for u in test] and isinstance(vad[0], np.ndarray)
        assert set(predict(history, test, "speaker")) <= set(history.classes["speaker"])
        assert embed(history, test, "head", "speaker").shape[0] == len(test)
        assert embed(history, test, "lstm2").shape[0] == len(test)


@pytest.fixture(scope="module")
def sampler(meta_corpus):
    from mtlkit.meta import EpisodeSampler

    return EpisodeSampler(meta_corpus, "speaker_adaptation", n_way=3, k_shot=2, queries=1)


@pytest.mark.parametrize("name", ["maml", "anil", "metasgd", "reptile", "protonet", "task_embedding", "cavia",
                                  "finetune"])
def test_meta_learning_methods_move_the_episodes_to_their_device(sampler, name):
    from mtlkit.meta import make_method
    from mtlkit.meta.experiment import evaluate

    rng = np.random.default_rng(0)
    episodes = [sampler.sample("test", rng) for _ in range(2)]
    with elsewhere():
        method = make_method(name, sampler, width=8, inner_steps=1, seed=0, device=ELSEWHERE)
        assert model_device(method.model) == ELSEWHERE
        assert all(p.device == ELSEWHERE for p in method.extra.parameters())
        assert len(method.meta_train(1, 2)) == 1
        result = evaluate(method, sampler, tasks=2, steps=1, chunk=2)
        assert len(result["curve"]) == 2 and len(result["per_task"]) == 2
        guess = method.predict(sampler.tensors(episodes), 1, episodes)
        assert guess.device == ELSEWHERE and guess.shape == (2, 3)
        if name == "cavia":
            phi = method.contexts(sampler.tensors(episodes), 1)
            assert phi.device == ELSEWHERE and phi.shape == (2, 16)


def test_task_space_stages_and_the_adaptation_panel_follow_the_method(sampler):
    from mtlkit.meta import make_method
    from mtlkit.meta.experiment import task_space
    from mtlkit.widgets import AdaptationPanel

    with elsewhere():
        method = make_method("task_embedding", sampler, width=8, inner_steps=1, seed=0, device=ELSEWHERE)
        z, episodes = task_space(method, per_split=2)
        assert isinstance(z, np.ndarray) and z.shape == (4, 8)
        stages = method.stages(sampler.tensors(episodes[:2]), steps=1)
        assert stages["after"].device == ELSEWHERE
        panel = AdaptationPanel({"task_embedding": method}, sampler)
        panel.run_button.click()
        assert panel.last_error is None, panel.last_error
        r, _ = panel.result
        assert isinstance(r["after"], np.ndarray) and len(r["after"]) == len(r["episode"].query)


def test_functional_core_follows_the_model(sampler):
    from mtlkit.meta import MetaNet, accuracy_curve, meta_loss

    batch = sampler.tensors([sampler.sample("train", np.random.default_rng(1)) for _ in range(2)])
    with elsewhere():
        model = MetaNet(3, sampler.feats.shape[-1], width=8).to(ELSEWHERE)
        params, buffers = dict(model.named_parameters()), dict(model.named_buffers())
        assert meta_loss(model, params, buffers, batch, steps=1, lr=0.1).device == ELSEWHERE
        assert accuracy_curve(model, params, buffers, batch, steps=1, lr=0.1).shape == (2, 2)
