"""Derive frame VAD labels from the audio alone: log-energy per 10 ms frame against an adaptive threshold.

Real corpora carry no voice-activity labels, so their loaders derive them here and mark them
``info['vad'] = 'energy'``. The threshold sits between the noise floor (a low percentile of the frame
energies) and the speech level (a high percentile); short gaps are bridged and short blips dropped
(hangover smoothing). Tested against the exact labels of the generated corpus (tests/test_real_corpora.py).
"""
from __future__ import annotations

import numpy as np

from ..config import HOP


def frame_energy_db(wave: np.ndarray, hop: int = HOP) -> np.ndarray:
    """Log-energy in dB of each frame [j*hop, (j+1)*hop), shape (ceil(n/hop),)."""
    n = -(-len(wave) // hop)
    x = np.zeros(n * hop, np.float64)
    x[:len(wave)] = wave
    return 10 * np.log10((x.reshape(n, hop) ** 2).mean(1) + 1e-10)


def _runs(mask: np.ndarray, value: bool):
    """(start, end) of every run of ``value`` in a boolean mask."""
    edges = np.flatnonzero(np.diff(np.r_[False, mask == value, False].astype(np.int8)))
    return zip(edges[::2], edges[1::2])


def energy_vad(wave: np.ndarray, hop: int = HOP, position: float = 0.3, min_contrast_db: float = 10.0,
               silence_db: float = -60.0, gap_frames: int = 15, blip_frames: int = 3, hangover: int = 2) -> np.ndarray:
    """Speech (1) / non-speech (0) per 10 ms frame, shape (ceil(n/hop),) uint8, from the waveform (n,) alone.

    threshold = floor + position * (speech - floor), with floor and speech the 10th and 95th percentiles of
    the frame log-energies; when they differ by less than ``min_contrast_db`` the utterance is all speech, or
    all silence when even its loud frames stay below ``silence_db``. Non-speech gaps shorter than
    ``gap_frames`` are filled, speech runs shorter than ``blip_frames`` dropped, and each speech run is
    extended by ``hangover`` frames on both sides.
    Introduced in notebooks/09_bring_your_own_data.ipynb.
    """
    energy = frame_energy_db(np.asarray(wave, np.float64), hop)
    if len(energy) == 0:
        return np.zeros(0, np.uint8)
    floor, speech = np.percentile(energy, 10), np.percentile(energy, 95)
    if speech < silence_db:
        return np.zeros(len(energy), np.uint8)
    if speech - floor < min_contrast_db:
        return np.ones(len(energy), np.uint8)
    active = energy > floor + position * (speech - floor)
    for a, b in list(_runs(active, False)):
        if a > 0 and b < len(active) and b - a < gap_frames:
            active[a:b] = True
    for a, b in list(_runs(active, True)):
        if b - a < blip_frames:
            active[a:b] = False
    out = active.copy()
    for a, b in _runs(active, True):
        out[max(a - hangover, 0):b + hangover] = True
    return out.astype(np.uint8)


def frame_f1(predicted: np.ndarray, true: np.ndarray) -> float:
    """F1 of the speech class between two frame label arrays of the same shape."""
    predicted, true = np.asarray(predicted, bool), np.asarray(true, bool)
    if predicted.shape != true.shape:
        raise ValueError(f"frame labels differ in shape: {predicted.shape} vs {true.shape}")
    tp = np.sum(predicted & true)
    return float(2 * tp / max(predicted.sum() + true.sum(), 1))
