"""Background noise at a chosen SNR and synthetic room reverberation, on float32 numpy waveforms."""
from __future__ import annotations

import numpy as np

from ..config import SAMPLE_RATE


def white_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-variance white noise, shape (n,)."""
    return rng.standard_normal(n).astype(np.float32)


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-variance 1/f (pink) noise made by shaping white noise in the frequency domain, shape (n,)."""
    spectrum = np.fft.rfft(rng.standard_normal(max(n, 2)))
    freqs = np.arange(len(spectrum), dtype=np.float64)
    freqs[0] = 1.0
    x = np.fft.irfft(spectrum / np.sqrt(freqs), n=max(n, 2))[:n]
    return (x / (x.std() + 1e-12)).astype(np.float32)


def babble_noise(n: int, others: list[np.ndarray], rng: np.random.Generator, talkers: int = 4) -> np.ndarray:
    """Unit-variance babble: ``talkers`` utterances of other speakers, each looped to n samples, summed."""
    if not others:
        raise ValueError("babble noise needs utterances of other speakers, got none")
    x = np.zeros(n, np.float64)
    for k in rng.choice(len(others), size=min(talkers, len(others)), replace=False):
        src = others[k]
        looped = np.resize(src, n + len(src))
        start = int(rng.integers(0, len(src)))
        x += looped[start:start + n]
    return (x / (x.std() + 1e-12)).astype(np.float32)


def room_impulse_response(rt60: float, rng: np.random.Generator, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A synthetic room impulse response: direct path plus exponentially decaying noise (-60 dB at rt60 s)."""
    n = max(int(rt60 * sample_rate), 2)
    t = np.arange(n) / sample_rate
    h = rng.standard_normal(n) * np.exp(-6.9078 * t / rt60) * 0.3
    h[0] = 1.0
    return (h / np.sqrt((h ** 2).sum())).astype(np.float32)


def reverberate(x: np.ndarray, rt60: float, rng: np.random.Generator) -> np.ndarray:
    """Convolve x (n,) with a synthetic room of the given rt60, keeping its length and level."""
    h = room_impulse_response(rt60, rng)
    size = len(x) + len(h) - 1
    y = np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(h, size), size)[: len(x)]
    return (y * (np.abs(x).max() / (np.abs(y).max() + 1e-12))).astype(np.float32)


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float,
               speech_mask: np.ndarray | None = None) -> np.ndarray:
    """Add noise scaled so that speech power over noise power is snr_db (speech power over speech_mask)."""
    active = speech[speech_mask] if speech_mask is not None and speech_mask.any() else speech
    p_speech = float(np.mean(active.astype(np.float64) ** 2))
    p_noise = float(np.mean(noise.astype(np.float64) ** 2)) + 1e-20
    scale = np.sqrt(p_speech / (p_noise * 10 ** (snr_db / 10)))
    return (speech + scale * noise).astype(np.float32)
