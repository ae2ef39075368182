"""What every real-corpus loader shares: file-name matching with clear errors, subsets, reading, derived VAD."""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np

from ...config import SAMPLE_RATE
from ..corpus import Corpus, Utterance, _read_wave, assign_splits, resample
from ..energy_vad import energy_vad

AUDIO = (".wav", ".flac")
"""File extensions the loaders read as audio; other files in a corpus (README, LICENSE, csv) are skipped."""


def check_root(root) -> Path:
    """The corpus root as a Path; FileNotFoundError naming it when it is not a folder."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"corpus folder {root} does not exist")
    return root


def fetched_root(root, module, download: bool, source: str | None = None, inside: str = "") -> Path:
    """The corpus root of ``module``'s layout, downloaded first (``source``, default its NAME) when ``download``
    is set and no such corpus is there yet; ``inside`` is the folder of the archive that holds the corpus."""
    root = Path(root).expanduser()
    if download and not (root.is_dir() and module.detect(root)):
        from .downloads import download as fetch

        root = fetch(source or module.NAME, root) / inside
    return check_root(root)


def audio_files(folder: Path) -> list[Path]:
    """Sorted audio files directly in ``folder`` (hidden files such as macOS '._x.wav' are skipped)."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO and not p.name.startswith("."))


def match(pattern: re.Pattern, path: Path, expected: str) -> re.Match:
    """Match a file name; ValueError naming the file and the pattern the layout expects when it does not."""
    found = pattern.fullmatch(path.name)
    if not found:
        raise ValueError(f"unexpected file name {path}: this layout expects {expected}")
    return found


def not_empty(folder: Path, files: list, expected: str) -> list:
    """Return ``files``; ValueError when a folder that must hold audio holds none (a half-extracted archive?)."""
    if not files:
        raise ValueError(f"{folder} holds no audio files ({expected}): a half-extracted archive? "
                         f"extract it again (nothing was changed)")
    return files


def read_audio(path: Path) -> np.ndarray:
    """The 16 kHz mono waveform (n,) float32 of one file; a git-lfs pointer (an un-pulled clone) is named as such."""
    try:
        return _read_wave(path)
    except ValueError:
        with open(path, "rb") as f:
            if f.read(40).startswith(b"version https://git-lfs"):
                raise ValueError(f"{path} is a git-lfs pointer, not audio: run 'git lfs pull' in the clone "
                                 f"(nothing was changed)") from None
        raise


def limit(records: list[dict], speakers=None, max_per_speaker: int | None = None,
          max_utterances: int | None = None, seed: int = 0) -> list[dict]:
    """A seeded laptop-sized subset of file records (dicts with a 'speaker' key), chosen before any audio is read.

    ``speakers``: a list of speaker ids to keep, or a number of speakers drawn at random;
    ``max_per_speaker``: at most this many utterances of each speaker; ``max_utterances``: at most this many.
    """
    rng = np.random.default_rng(seed)
    ids = sorted({r["speaker"] for r in records})
    if speakers is not None:
        if isinstance(speakers, int):
            if not 1 <= speakers <= len(ids):
                raise ValueError(f"speakers={speakers}: this corpus has {len(ids)} speakers")
            keep = set(rng.permutation(ids)[:speakers].tolist())
        else:
            keep = {str(s) for s in speakers}
            unknown = sorted(keep - set(ids))
            if unknown:
                raise ValueError(f"unknown speaker(s) {', '.join(unknown)}; speakers here: {', '.join(ids[:30])}"
                                 + (" ..." if len(ids) > 30 else ""))
        records = [r for r in records if r["speaker"] in keep]
    if max_per_speaker is not None:
        mine = {}
        for i in rng.permutation(len(records)):
            mine.setdefault(records[i]["speaker"], []).append(int(i))
        chosen = sorted(i for idx in mine.values() for i in idx[:max_per_speaker])
        records = [records[i] for i in chosen]
    if max_utterances is not None and len(records) > max_utterances:
        records = [records[i] for i in sorted(rng.permutation(len(records))[:max_utterances])]
    if not records:
        raise ValueError("no utterances left after the speakers / max_per_speaker / max_utterances limits")
    return records


def build(records: list[dict], root: Path, module, speakers: dict | None = None, held_out: float | int = 0.2,
          seed: int = 0, options: dict | None = None, extra_info: dict | None = None) -> Corpus:
    """Read the audio of file records, derive VAD, split, and wrap it all as the kit's Corpus.

    A record: file (Path), speaker, and optionally emotion, accent, words, split. Records that carry a split
    keep it (the corpus's own lists); otherwise speakers are held out and split by :func:`assign_splits`.
    """
    utterances = []
    for r in records:
        wave = read_audio(r["file"])
        rel = r["file"].relative_to(root).as_posix()
        utterances.append(Utterance(id=rel.rsplit(".", 1)[0].replace("/", "_"), path=rel, speaker=r["speaker"],
                                    wave=wave, emotion=r.get("emotion", ""), accent=r.get("accent", ""),
                                    words=tuple(r.get("words", ())), split=r.get("split", ""),
                                    vad=energy_vad(wave)))
    if any(not u.split for u in utterances):
        n_speakers = len({u.speaker for u in utterances})
        held = held_out if isinstance(held_out, int) or n_speakers > 1 else 0
        utterances = assign_splits(utterances, held_out=held, seed=seed)
    ids = {u.speaker for u in utterances}
    options = dict(options or {})
    files = sorted(u.path for u in utterances)
    key = hashlib.sha1(json.dumps([module.NAME, str(root), options, files], default=str).encode()).hexdigest()[:16]
    info = dict(layout=f"{module.TITLE} ({module.PATTERN})", name=module.NAME, licence=module.LICENCE,
                url=module.URL, vad="energy", vad_derived=True, options=options, key=key,
                label_map=getattr(module, "LABEL_MAP", {}), **(extra_info or {}))
    return Corpus(utterances, {k: dict(v, id=k) for k, v in (speakers or {}).items() if k in ids}, info, root)


def write_audio(path: Path, wave: np.ndarray, rate: int) -> None:
    """Write a 16 kHz waveform (n,) to ``path`` at ``rate`` Hz (16-bit; FLAC or WAV by the suffix): fake trees."""
    import soundfile as sf

    wave = resample(wave, SAMPLE_RATE, rate)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.clip(wave, -1, 1), rate, subtype="PCM_16")
