"""Real corpora read as published: RAVDESS, CREMA-D, Speech Commands, LibriSpeech, FSDD, AudioMNIST, VoxCeleb1.

Each loader returns the kit's :class:`~mtlkit.data.Corpus` (16 kHz, derived energy VAD), so the notebooks,
``mtlkit compare --data DIR`` and the widgets work unchanged. ``load_corpus(path)`` (in ``mtlkit.data``)
reads the kit's own folder format first and otherwise detects one of these layouts.
Introduced in notebooks/09_bring_your_own_data.ipynb.
"""
from __future__ import annotations

from pathlib import Path

from ...config import check_choice
from . import audiomnist, crema_d, fsdd, librispeech, ravdess, speech_commands, voxceleb1
from .audiomnist import load_audiomnist
from .crema_d import load_crema_d
from .downloads import NOT_DOWNLOADABLE, SOURCES, download
from .fsdd import load_fsdd
from .librispeech import load_librispeech
from .ravdess import load_ravdess
from .speech_commands import load_speech_commands
from .voxceleb1 import load_voxceleb1

LAYOUTS = {m.NAME: m for m in (ravdess, crema_d, speech_commands, librispeech, fsdd, audiomnist, voxceleb1)}
"""Layout name -> its module (NAME, TITLE, PATTERN, TASKS, LICENCE, URL, detect, load_<name>, fake)."""
LOADERS = {"ravdess": load_ravdess, "crema_d": load_crema_d, "speech_commands": load_speech_commands,
           "librispeech": load_librispeech, "fsdd": load_fsdd, "audiomnist": load_audiomnist,
           "voxceleb1": load_voxceleb1}
"""Layout name -> loader function."""


def _levels(path: Path, depth: int):
    """Yield the folders at ``path`` (level 0), then one level down, ... to ``depth``, each level only when asked."""
    level = [path]
    for k in range(depth + 1):
        yield level
        if k < depth:
            level = [c for p in level for c in sorted(p.iterdir()) if c.is_dir() and not c.name.startswith(".")]


def known_layouts() -> str:
    """One line per layout: name, title and the file pattern it expects (for error messages)."""
    return "\n".join(f"  {name:<16} {m.TITLE}: {m.PATTERN}" for name, m in LAYOUTS.items())


def detect_layout(path) -> tuple[str, Path]:
    """(layout name, corpus root) of the real corpus at ``path`` or up to two folder levels below it.

    FileNotFoundError naming ``path`` and the known layouts when none is found; ValueError when several are.
    """
    path = Path(path).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"corpus folder {path} does not exist")
    for level in _levels(path, 2):
        found = [(name, p) for p in level for name, m in LAYOUTS.items() if m.detect(p)]
        if len(found) == 1:
            return found[0]
        if found:
            raise ValueError(f"several corpora under {path}: "
                             + ", ".join(f"{name} at {p}" for name, p in found) + "; point at one of them")
    raise FileNotFoundError(f"{path / 'metadata.csv'} not found and no real corpus layout under {path}. A corpus "
                            f"folder needs metadata.csv (columns path, speaker, ...; see the README) or one of these "
                            f"layouts:\n{known_layouts()}")


def load_real(path, layout: str | None = None, **options):
    """Read the real corpus at ``path`` (layout detected unless named); ``options`` go to its loader."""
    if layout is None:
        layout, path = detect_layout(path)
    check_choice("layout", layout, tuple(LAYOUTS))
    return LOADERS[layout](path, **options)


def fake_tree(layout: str, root, corpus) -> dict:
    """Write a generated ``corpus`` into ``root`` in the exact published layout of a real corpus.

    Returns {file written, relative to root: id of the generated utterance}. For tests and offline runs of
    notebook 09: the kit reads the tree as it would read the real corpus. Introduced in
    notebooks/09_bring_your_own_data.ipynb.
    """
    check_choice("layout", layout, tuple(LAYOUTS))
    root = Path(root).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return LAYOUTS[layout].fake(root, corpus)


__all__ = ["LAYOUTS", "LOADERS", "NOT_DOWNLOADABLE", "SOURCES", "detect_layout", "download", "fake_tree",
           "known_layouts", "load_audiomnist", "load_crema_d", "load_fsdd", "load_librispeech", "load_ravdess",
           "load_real", "load_speech_commands", "load_voxceleb1"]
