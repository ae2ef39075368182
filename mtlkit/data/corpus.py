"""The corpus type every loader returns, and its on-disk folder format (wav files + metadata.csv + vad.npz)."""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf

from ..config import HOP, SAMPLE_RATE, check_choice
from .labels import EMOTIONS, LANGUAGES

TASKS = ("vad", "speaker", "emotion", "keyword", "accent", "language")
"""Every label a corpus can carry; a task is available when every utterance has its label."""
REQUIRED_COLUMNS = ("path", "speaker")
"""Columns metadata.csv must have; the others (emotion, accent, words, word_spans, ...) are optional."""
SPLITS = ("train", "val", "test", "heldout")
"""Utterance splits: train/val/test among training speakers, heldout speakers for meta-learning."""


@dataclass
class Utterance:
    """One utterance: its waveform (n,) float32 at 16 kHz, its labels and, if known, its VAD frames (ceil(n/160),)."""

    id: str
    path: str
    speaker: str
    wave: np.ndarray = field(repr=False)
    emotion: str = ""
    accent: str = ""
    language: str = ""                  # ISO 639 code, in multilingual corpora
    words: tuple[str, ...] = ()
    word_spans: tuple[tuple[float, float], ...] = ()
    noise: str = ""
    snr_db: float = float("nan")
    rt60: float = 0.0
    split: str = ""
    vad: np.ndarray | None = field(default=None, repr=False)

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.wave) / SAMPLE_RATE

    @property
    def family(self) -> str:
        """The language family of the utterance's language ('' when unknown)."""
        return LANGUAGES.get(self.language, ("", ""))[1]

    @property
    def keyword(self) -> str:
        """The utterance's keyword label: its first word (later words are distractors)."""
        return self.words[0] if self.words else ""


def vad_frames(spans: list[tuple[int, int]], num_samples: int, hop: int = HOP) -> np.ndarray:
    """Frame VAD labels (ceil(num_samples/hop),) uint8: 1 where at least half a frame's samples are speech.

    Frame j covers samples [j*hop, (j+1)*hop); ``spans`` are speech [start, end) sample ranges.
    """
    speech = np.zeros(-(-num_samples // hop) * hop, dtype=np.int32)
    for start, end in spans:
        speech[max(start, 0):min(end, num_samples)] = 1
    return (speech.reshape(-1, hop).sum(1) * 2 >= hop).astype(np.uint8)


def _exact(x: float) -> str:
    """The shortest decimal that reads back as exactly x (never exponent notation: '-' separates spans)."""
    return np.format_float_positional(float(x), unique=True, trim="0")


def _format_spans(spans) -> str:
    return " ".join(f"{_exact(a)}-{_exact(b)}" for a, b in spans)


def _parse_spans(text: str, where: str) -> tuple[tuple[float, float], ...]:
    try:
        return tuple((float(a), float(b)) for a, b in (item.split("-") for item in text.split()))
    except ValueError:
        raise ValueError(f"{where}: word_spans {text!r} is not 'start-end start-end ...' in seconds") from None


class Corpus:
    """A list of utterances with their speakers' factors: the one corpus type of the kit."""

    def __init__(self, utterances: list[Utterance], speakers: dict[str, dict] | None = None,
                 info: dict | None = None, root: Path | None = None):
        self.utterances = list(utterances)
        self.speakers = dict(speakers or {})
        self.info = dict(info or {})
        self.root = root

    def __len__(self) -> int:
        return len(self.utterances)

    def __getitem__(self, i: int) -> Utterance:
        return self.utterances[i]

    def __iter__(self):
        return iter(self.utterances)

    def __repr__(self) -> str:
        return (f"Corpus({len(self)} utterances, {len(self.speaker_ids())} speakers, "
                f"{self.duration() / 60:.1f} min, tasks={self.tasks()})")

    def duration(self) -> float:
        """Total audio in seconds."""
        return sum(u.duration for u in self.utterances)

    def speaker_ids(self) -> list[str]:
        """Sorted speaker ids."""
        return sorted({u.speaker for u in self.utterances})

    def tasks(self) -> list[str]:
        """The tasks whose labels every utterance carries."""
        return [t for t in TASKS if self.utterances and all(_has_label(u, t) for u in self.utterances)]

    def require(self, task: str) -> None:
        """Raise ValueError when the corpus lacks the labels of ``task`` (naming what it has)."""
        check_choice("task", task, TASKS)
        if task not in self.tasks():
            raise ValueError(f"this corpus has no {task} labels for every utterance; "
                             f"its tasks: {', '.join(self.tasks()) or 'none'}")

    def labels(self, task: str) -> list[str]:
        """One label per utterance for an utterance-level task ('speaker', 'emotion', 'keyword', 'accent')."""
        self.require(task)
        if task == "vad":
            raise ValueError("vad is a frame-level task: read utterance.vad instead of labels('vad')")
        return [getattr(u, task) for u in self.utterances]

    def classes(self, task: str) -> list[str]:
        """The sorted label set of a task (emotions in the kit's canonical order)."""
        return _ordered(task, set(self.labels(task)))

    def counts(self, column: str) -> Counter:
        """How many utterances carry each value of a column (e.g. 'emotion', 'noise', 'split')."""
        return Counter(getattr(u, column) for u in self.utterances)

    def subset(self, keep) -> "Corpus":
        """A corpus of the utterances for which ``keep(utterance)`` is true."""
        utts = [u for u in self.utterances if keep(u)]
        ids = {u.speaker for u in utts}
        return Corpus(utts, {k: v for k, v in self.speakers.items() if k in ids}, self.info, self.root)

    def split(self, name: str) -> "Corpus":
        """The utterances of one split: 'train', 'val', 'test' (training speakers) or 'heldout' (new speakers)."""
        check_choice("split", name, SPLITS)
        return self.subset(lambda u: u.split == name)

    def describe(self) -> str:
        """A human-readable summary: layout, counts per label, durations."""
        lines = [f"layout: {self.info.get('layout', 'mtlkit folder')}" + (f" at {self.root}" if self.root else ""),
                 f"utterances: {len(self)}   speakers: {len(self.speaker_ids())}   "
                 f"total duration: {self.duration() / 60:.2f} min", f"tasks: {', '.join(self.tasks())}"]
        for column in ("split", "emotion", "accent", "language", "keyword", "noise"):
            counts = self.counts(column)
            if any(counts):
                lines.append(f"{column}: " + ", ".join(f"{k}={counts[k]}" for k in _ordered(column, counts) if k))
        if "vad" in self.tasks():
            speech = np.mean(np.concatenate([u.vad for u in self.utterances]))
            derived = " (derived from energy, not annotated)" if self.info.get("vad") == "energy" else ""
            lines.append(f"vad: {100 * speech:.1f}% of 10 ms frames are speech{derived}")
        return "\n".join(lines)

    def save(self, folder) -> Path:
        """Write the corpus as a folder (wavs/, metadata.csv, vad.npz, speakers.csv, corpus.json), atomically."""
        folder = check_new_folder(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.partial-", dir=folder.parent))
        try:
            _write_folder(self, tmp)
            if folder.exists():
                folder.rmdir()
            os.rename(tmp, folder)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self.root = folder
        return folder


def check_new_folder(folder) -> Path:
    """``folder`` as a Path if a corpus can be written there (absent or an empty folder); FileExistsError if not."""
    folder = Path(folder).expanduser()
    if folder.exists() and not folder.is_dir():
        raise FileExistsError(f"{folder} is a file; choose a new folder (nothing was written)")
    if folder.exists() and any(folder.iterdir()):
        raise FileExistsError(f"{folder} exists and is not empty; choose a new folder (nothing was written)")
    base = folder
    while not base.exists():
        base = base.parent
    if not base.is_dir():
        raise NotADirectoryError(f"{base} is a file, so no folder can be made under it: choose another place for "
                                 f"{folder} (nothing was written)")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".mtlkit-check-", dir=base))       # can we write there? (root or not)
    except OSError as err:
        raise PermissionError(f"cannot write in {base} ({err.strerror}): choose another place for {folder} "
                              f"(nothing was written)") from None
    return folder


def _ordered(column: str, values) -> list:
    """Values sorted for display and class indices: emotions in the kit's canonical order, others sorted."""
    if column == "emotion":
        return [e for e in EMOTIONS if e in values] + sorted(set(values) - set(EMOTIONS))
    return sorted(values)


def _has_label(u: Utterance, task: str) -> bool:
    if task == "vad":
        return u.vad is not None
    return bool(getattr(u, "keyword" if task == "keyword" else task))


_COLUMNS = ("path", "speaker", "emotion", "accent", "language", "family", "words", "word_spans", "noise", "snr_db",
            "rt60", "split")


def pcm16(wave: np.ndarray) -> np.ndarray:
    """A waveform (n,) float32 exactly as the folder format stores and reloads it (16-bit PCM, read as float32)."""
    buffer = io.BytesIO()
    sf.write(buffer, wave, SAMPLE_RATE, subtype="PCM_16", format="WAV")
    buffer.seek(0)
    return sf.read(buffer, dtype="float32")[0]


def _write_folder(corpus: Corpus, folder: Path) -> None:
    rows, vad = [], {}
    for u in corpus.utterances:
        path = u.path or f"wavs/{u.id}.wav"
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        sf.write(folder / path, u.wave, SAMPLE_RATE, subtype="PCM_16")
        rows.append(dict(path=path, speaker=u.speaker, emotion=u.emotion, accent=u.accent, language=u.language,
                         family=u.family, words=" ".join(u.words),
                         word_spans=_format_spans(u.word_spans), noise=u.noise,
                         snr_db="" if np.isnan(u.snr_db) else _exact(u.snr_db), rt60=_exact(u.rt60), split=u.split))
        if u.vad is not None:
            vad[path] = u.vad
    with open(folder / "metadata.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    if vad:
        np.savez_compressed(folder / "vad.npz", **vad)
    if corpus.speakers:
        with open(folder / "speakers.csv", "w", newline="") as f:
            first = next(iter(corpus.speakers.values()))
            writer = csv.DictWriter(f, fieldnames=list(first))
            writer.writeheader()
            writer.writerows(corpus.speakers.values())
    (folder / "corpus.json").write_text(json.dumps(corpus.info, indent=1, sort_keys=True))


def _read_wave(path: Path) -> np.ndarray:
    if not path.is_file():
        raise FileNotFoundError(f"missing wav file {path} (listed in metadata.csv)")
    try:
        wave, rate = sf.read(path, dtype="float32", always_2d=True)
    except Exception as err:
        raise ValueError(f"cannot read audio file {path}: {err}") from None
    wave = wave.mean(axis=1)
    return resample(wave, rate, SAMPLE_RATE)


@lru_cache(maxsize=8)
def _resampler(rate: int, to: int):
    import torchaudio.transforms as T

    return T.Resample(rate, to)


def resample(wave: np.ndarray, rate: int, to: int = SAMPLE_RATE) -> np.ndarray:
    """Resample a waveform (n,) float32 from ``rate`` to ``to`` Hz (the filter is built once per rate pair)."""
    if rate == to:
        return wave
    import torch

    with torch.no_grad():
        return _resampler(rate, to)(torch.from_numpy(np.ascontiguousarray(wave, np.float32))).numpy()


def load_corpus(folder, **options) -> Corpus:
    """Read a corpus folder: the kit's format (metadata.csv, wavs, optional vad.npz) or a real corpus's layout.

    Without metadata.csv the layout of a real corpus (RAVDESS, CREMA-D, Speech Commands, LibriSpeech, FSDD,
    AudioMNIST, VoxCeleb1) is detected, also one or two folders down; ``options`` (e.g. max_per_speaker=20)
    go to its loader, see :mod:`mtlkit.data.real`.
    """
    folder = Path(folder).expanduser()
    if folder.is_file():
        raise FileNotFoundError(f"{folder} is a file, not a corpus folder: extract an archive first, "
                                f"or let 'mtlkit corpus download' do it")
    if not folder.is_dir():
        raise FileNotFoundError(f"corpus folder {folder} does not exist")
    meta = folder / "metadata.csv"
    if not meta.is_file():
        from .real import load_real            # real corpora build on this module: imported when needed

        return load_real(folder, **options)
    if options:
        raise ValueError(f"options {', '.join(options)} apply to real corpora only; {folder} is an mtlkit folder")
    with open(meta, newline="") as f:
        reader = csv.DictReader(f)
        columns = reader.fieldnames or []
        missing = [c for c in REQUIRED_COLUMNS if c not in columns]
        if missing:
            raise ValueError(f"{meta} lacks column(s) {', '.join(missing)}; it has: {', '.join(columns) or 'none'}; "
                             f"required: {', '.join(REQUIRED_COLUMNS)}")
        rows = list(reader)
    if not rows:
        raise ValueError(f"{meta} lists no utterances")
    vad = {}
    if (folder / "vad.npz").is_file():
        with np.load(folder / "vad.npz") as archive:
            vad = {k: archive[k] for k in archive.files}
    utterances = []
    for line, row in enumerate(rows, start=2):
        where = f"{meta}, line {line}"
        if not row.get("path") or not row.get("speaker"):
            raise ValueError(f"{where}: empty path or speaker")
        wave = _read_wave(folder / row["path"])
        frames = vad.get(row["path"])
        if frames is not None and len(frames) != -(-len(wave) // HOP):
            raise ValueError(f"vad.npz: {row['path']} has {len(frames)} frames, its audio needs "
                             f"{-(-len(wave) // HOP)} (one per 10 ms)")
        emotion = row.get("emotion") or ""
        utterances.append(Utterance(
            id=Path(row["path"]).stem, path=row["path"], speaker=row["speaker"], wave=wave, emotion=emotion,
            accent=row.get("accent") or "", language=row.get("language") or "",
            words=tuple((row.get("words") or "").split()),
            word_spans=_parse_spans(row.get("word_spans") or "", where), noise=row.get("noise") or "",
            snr_db=float(row.get("snr_db") or "nan"), rt60=float(row.get("rt60") or 0.0),
            split=row.get("split") or "", vad=frames))
    if any(not u.split for u in utterances):
        utterances = assign_splits(utterances, held_out=0.2, seed=0)
    speakers = {}
    if (folder / "speakers.csv").is_file():
        with open(folder / "speakers.csv", newline="") as f:
            speakers = {r["id"]: {k: _number_or_text(v) for k, v in r.items()} for r in csv.DictReader(f)}
    info = json.loads((folder / "corpus.json").read_text()) if (folder / "corpus.json").is_file() else {}
    return Corpus(utterances, speakers, info, folder)


def _number_or_text(value: str):
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def assign_splits(utterances: list[Utterance], held_out: float | int, seed: int,
                  fractions=(0.7, 0.15, 0.15)) -> list[Utterance]:
    """Mark held-out speakers 'heldout' and split each training speaker's utterances train/val/test."""
    rng = np.random.default_rng(seed)
    speakers = sorted({u.speaker for u in utterances})
    n_held = held_out if isinstance(held_out, int) else int(round(held_out * len(speakers)))
    if not 0 <= n_held < len(speakers):
        raise ValueError(f"held_out={held_out} leaves no training speakers among {len(speakers)}")
    held = set(rng.permutation(speakers)[:n_held].tolist())
    out = []
    for spk in speakers:
        mine = [u for u in utterances if u.speaker == spk]
        if spk in held:
            out += [replace(u, split="heldout") for u in mine]
            continue
        order = rng.permutation(len(mine))
        n_train = int(round(fractions[0] * len(mine)))
        n_val = int(round(fractions[1] * len(mine)))
        names = ["train"] * n_train + ["val"] * n_val + ["test"] * (len(mine) - n_train - n_val)
        out += [replace(mine[i], split=names[rank]) for rank, i in enumerate(order)]
    position = {u.path: k for k, u in enumerate(utterances)}
    return sorted(out, key=lambda u: position[u.path])
