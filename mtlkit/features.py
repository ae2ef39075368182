"""Features for the models: log-mel or MFCC frames aligned to the 10 ms VAD labels, SpecAugment, padding collate.

Alignment: feature frame t is centred on the middle of label frame t, i.e. on sample t*160 + 80, and a
waveform of n samples gives exactly ceil(n / 160) feature frames, the number of its VAD label frames.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
import torchaudio.transforms as T
from torch import nn

from .config import HOP, SAMPLE_RATE, WIN, check_choice

KINDS = ("logmel", "mfcc")
"""Feature kinds :class:`Features` can compute."""
N_FFT = 512
"""FFT size; the 25 ms window sits in its middle."""


def num_frames(num_samples: int, hop: int = HOP) -> int:
    """Frames of a waveform of ``num_samples`` samples: ceil(num_samples / hop)."""
    return -(-num_samples // hop)


class Features(nn.Module):
    """Waveform (batch, samples) or (samples,) -> features (batch, frames, n_features), frames = ceil(samples/160).

    Introduced in notebooks/00_corpus_tour.ipynb.
    """

    def __init__(self, kind: str = "logmel", n_mels: int = 40, n_mfcc: int = 20, normalize: bool = False):
        super().__init__()
        check_choice("feature kind", kind, KINDS)
        self.kind, self.normalize = kind, normalize
        mel = dict(n_fft=N_FFT, win_length=WIN, hop_length=HOP, n_mels=n_mels, f_min=20.0, f_max=SAMPLE_RATE / 2,
                   center=False, power=2.0)
        if kind == "mfcc":
            self.transform = T.MFCC(SAMPLE_RATE, n_mfcc=n_mfcc, log_mels=True, melkwargs=mel)
            self.n_features = n_mfcc
        else:
            self.transform = T.MelSpectrogram(SAMPLE_RATE, **mel)
            self.n_features = n_mels

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        squeeze = wave.dim() == 1
        wave = wave.unsqueeze(0) if squeeze else wave
        n = wave.shape[-1]
        left = (N_FFT - HOP) // 2
        wave = F.pad(wave, (left, left + (-n) % HOP))           # frame t's window is centred on t*HOP + HOP/2
        feats = self.transform(wave)
        if self.kind == "logmel":
            feats = torch.log(feats + 1e-6)
        feats = feats.transpose(-1, -2)                        # (batch, frames, n_features)
        if self.normalize:
            feats = normalize(feats)
        return feats[0] if squeeze else feats


def normalize(feats: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Per-utterance mean/variance normalisation of (batch, frames, n) over the valid frames of mask (batch, frames)."""
    if mask is None:
        mask = torch.ones(feats.shape[:-1], dtype=torch.bool, device=feats.device)
    w = mask.unsqueeze(-1).to(feats.dtype)
    count = w.sum(dim=-2, keepdim=True).clamp_min(1.0)
    mean = (feats * w).sum(dim=-2, keepdim=True) / count
    var = (((feats - mean) * w) ** 2).sum(dim=-2, keepdim=True) / count
    return (feats - mean) / torch.sqrt(var + 1e-5) * w


class SpecAugment(nn.Module):
    """SpecAugment-style masking of (batch, frames, n_features) in training mode; identity in eval mode."""

    def __init__(self, freq_mask: int = 8, time_mask: int = 20, n_masks: int = 2):
        super().__init__()
        self.n_masks = n_masks
        self.freq = T.FrequencyMasking(freq_mask, iid_masks=True)
        self.time = T.TimeMasking(time_mask, iid_masks=True)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        if not self.training or self.n_masks == 0:
            return feats
        x = feats.transpose(-1, -2).unsqueeze(1)                 # (batch, 1, n_features, frames)
        for _ in range(self.n_masks):
            x = self.time(self.freq(x))
        return x.squeeze(1).transpose(-1, -2)


def resample(wave: torch.Tensor, rate: int, new_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """Resample (..., samples) from ``rate`` to ``new_rate`` Hz with torchaudio."""
    return T.Resample(rate, new_rate)(wave) if rate != new_rate else wave


IGNORE = -100
"""Label of padded frames (the ignore_index of cross-entropy)."""


def collate(items: list[dict]) -> dict:
    """Pad a list of {'feats': (frames, n), 'vad': (frames,), <task>: int, ...} into a batch.

    Returns 'feats' (batch, max_frames, n) zero-padded, 'mask' (batch, max_frames) bool, 'lengths' (batch,),
    'vad' (batch, max_frames) with IGNORE on padding (when present), and each utterance label as a (batch,) tensor.
    """
    lengths = torch.tensor([len(it["feats"]) for it in items])
    batch = {"feats": nn.utils.rnn.pad_sequence([it["feats"] for it in items], batch_first=True),
             "lengths": lengths, "mask": torch.arange(int(lengths.max()))[None, :] < lengths[:, None]}
    for key in items[0]:
        if key == "feats":
            continue
        if key == "vad":
            batch["vad"] = nn.utils.rnn.pad_sequence([torch.as_tensor(it["vad"]).long() for it in items],
                                                     batch_first=True, padding_value=IGNORE)
        else:
            batch[key] = torch.tensor([it[key] for it in items])
    return batch


class FeatureDataset(torch.utils.data.Dataset):
    """Features of every utterance computed once, standardised per feature with ``stats``, and integer labels.

    ``classes`` and ``stats`` (mean, std) default to this corpus's own; give an evaluation set the training
    set's, so that both see the same label indices and scaling.
    """

    def __init__(self, corpus, tasks=("vad", "speaker", "emotion", "keyword"), features: Features | None = None,
                 classes: dict | None = None, stats: tuple | None = None):
        for task in tasks:
            corpus.require(task)
        self.tasks = tuple(tasks)
        self.features = features or Features()
        self.classes = classes or {t: corpus.classes(t) for t in self.tasks if t != "vad"}
        with torch.no_grad():
            feats = [self.features(torch.from_numpy(np.asarray(u.wave, np.float32))) for u in corpus]
        if stats is None:
            frames = torch.cat(feats)
            stats = (frames.mean(0), frames.std(0) + 1e-5)
        self.stats = stats
        self.feats = [(f - stats[0]) / stats[1] for f in feats]
        self.items = []
        for u, f in zip(corpus, self.feats):
            item = {"feats": f}
            for t in self.tasks:
                if t == "vad":
                    item["vad"] = torch.from_numpy(u.vad.astype(np.int64))
                else:
                    label = getattr(u, t)
                    if label not in self.classes[t]:
                        raise ValueError(f"{t} label {label!r} of {u.id} is not among the classes {self.classes[t]}")
                    item[t] = self.classes[t].index(label)
            self.items.append(item)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        return self.items[i]


def pitch_track(wave: np.ndarray, fmin: float = 50.0, fmax: float = 500.0) -> np.ndarray:
    """F0 in Hz per 10 ms frame (ceil(n/160),) by normalised autocorrelation; 0 where unvoiced."""
    n = len(wave)
    frames = num_frames(n)
    padded = np.pad(wave.astype(np.float64), (WIN, WIN + (-n) % HOP))
    win = 2 * WIN
    lag_lo, lag_hi = int(SAMPLE_RATE / fmax), int(SAMPLE_RATE / fmin)
    idx = np.arange(frames)[:, None] * HOP + HOP // 2 + WIN - win // 2 + np.arange(win)[None, :]
    x = padded[idx]
    x = x - x.mean(axis=1, keepdims=True)
    spec = np.fft.rfft(x, 2 * win, axis=1)
    ac = np.fft.irfft(spec * spec.conj(), axis=1)[:, :lag_hi + 1]
    energy = ac[:, :1] + 1e-12
    lags = np.arange(lag_lo, lag_hi + 1)
    r = ac[:, lag_lo:lag_hi + 1] / energy * win / (win - lags)      # unbiased: fewer products at long lags
    best = r.argmax(axis=1)
    f0 = SAMPLE_RATE / (best + lag_lo)
    voiced = (r.max(axis=1) > 0.5) & (energy[:, 0] > 1e-4 * energy.max())
    return np.where(voiced, f0, 0.0)
