"""Settings read from the environment, in one place: fast mode, cache folder, audio constants."""
from __future__ import annotations

import os
import re
from pathlib import Path

SAMPLE_RATE = 16_000
"""Sample rate of every waveform in the kit, in Hz."""
HOP = 160
"""Samples per frame: one VAD label and one feature frame every 10 ms."""
WIN = 400
"""Analysis window of the features in samples (25 ms)."""


def fast_mode() -> bool:
    """Return True when ``MTLKIT_FAST`` is set to anything but '' or '0' (tests and nbval use it)."""
    return os.environ.get("MTLKIT_FAST", "").strip() not in ("", "0")


def in_colab() -> bool:
    """Return True inside Google Colab (notebook 09 downloads real data there and builds a fake tree elsewhere)."""
    import sys

    return "google.colab" in sys.modules


def pick(full, fast):
    """Return ``fast`` in fast mode and ``full`` otherwise: the one switch that shrinks work."""
    return fast if fast_mode() else full


def cache_dir() -> Path:
    """Return the cache folder: ``MTLKIT_CACHE`` or ``~/.cache/mtlkit`` (created if missing)."""
    path = Path(os.environ.get("MTLKIT_CACHE") or Path.home() / ".cache" / "mtlkit").expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def check_choice(kind: str, value, choices) -> None:
    """Raise ValueError naming ``value`` and the valid ``choices`` when ``value`` is not one of them."""
    if value not in choices:
        raise ValueError(f"unknown {kind} {value!r}; valid {plural(kind)}: {', '.join(map(str, choices))}")


def plural(noun: str) -> str:
    """The plural of a noun phrase: 'task family' -> 'task families', 'task in label_fraction' -> 'tasks in ...'."""
    match = re.search(r" (in|with|to|of) | \(", noun)
    if match:                                  # the head noun comes before a preposition or a parenthesis
        return plural(noun[:match.start()]) + noun[match.start():]
    head, _, last = noun.rpartition(" ")
    irregular = {"corpus": "corpora"}
    if last in irregular:
        last = irregular[last]
    elif last.endswith("y") and last[-2:-1] not in "aeiou":
        last = last[:-1] + "ies"
    elif not last.endswith("s"):
        last += "s"
    return f"{head} {last}" if head else last


def device_report() -> str:
    """One line on the hardware the kit will use (printed by every notebook's Colab install cell)."""
    import torch

    if torch.cuda.is_available():
        return (f"GPU: {torch.cuda.get_device_name(0)}. fit trains on it (and the functions that run its model "
                f"follow it); the meta-learning methods stay on the CPU unless given device='cuda'.")
    return f"no GPU: everything runs on the CPU ({torch.get_num_threads()} threads)."
