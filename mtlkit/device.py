"""Where tensors live: the GPU when there is one, and every function follows the model it is given.

``fit`` and the meta-learning methods put their model on :func:`default_device`; every other function asks
the model where it is (:func:`model_device`), sends its batches there (:func:`to_device`) and brings results
back with :func:`to_numpy`. Introduced in notebooks/01_single_task_baselines.ipynb.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn


def default_device() -> torch.device:
    """Return the GPU (``cuda``) when one is available, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def model_device(model: nn.Module) -> torch.device:
    """Return the device of the model's parameters (the CPU for a model without any)."""
    return next(model.parameters(), torch.empty(0)).device


def to_device(batch, device):
    """Return ``batch`` (a tensor, or a dict, list or tuple of them) on ``device``; other values unchanged."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


def to_numpy(x: torch.Tensor) -> np.ndarray:
    """Return a tensor as a NumPy array in host memory (detached, copied off the GPU when it is there)."""
    return x.detach().cpu().numpy()
