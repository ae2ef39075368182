"""AudioMNIST: 30000 spoken digits, 60 speakers x 10 digits x 50 repetitions, 48 kHz wav (Becker et al. 2018).

Layout (the GitHub repository soerenab/AudioMNIST): ``data/<NN>/<digit>_<NN>_<rep>.wav`` (speaker NN 01-60,
rep 0-49) and ``data/audioMNIST_meta.txt``, a JSON dict per speaker: accent, age, gender, native speaker,
origin, recordingdate, recordingroom.
Labels: keyword = the digit as a word ('zero' .. 'nine'); speaker = NN; accent = the meta file's accent,
lower-cased (german, italian, chinese, ...: free text, as recorded). Speakers: age, gender, native speaker,
origin, room.
Splits: ``splits='speakers'`` (the default) holds out speakers as for every corpus; ``splits='official'`` is
fold ``fold`` (0-4) of the authors' five speaker-disjoint folds for the digit task
(``audiomnist/train/splits.py``): 36 speakers train, 12 validate, 12 test, no speaker in two splits.
Tasks: keyword, speaker, accent (with the meta file), vad (derived from energy). Licence: MIT.
https://github.com/soerenab/AudioMNIST
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from ...config import check_choice
from . import common
from .fsdd import DIGITS

NAME = "audiomnist"
TITLE = "AudioMNIST"
PATTERN = "data/<NN>/<digit>_<NN>_<rep>.wav"
TASKS = ("vad", "speaker", "keyword", "accent")
LICENCE = "MIT"
URL = "https://github.com/soerenab/AudioMNIST"
LABEL_MAP = {str(d): w for d, w in enumerate(DIGITS)}
"""Digit in the file name -> keyword."""
FILE = re.compile(r"(\d)_(\d\d)_(\d+)\.wav")
META = "audioMNIST_meta.txt"
FOLD_GROUPS = ((28, 56, 7, 19, 35, 1, 6, 16, 23, 34, 46, 53), (36, 57, 9, 24, 37, 2, 8, 17, 29, 39, 48, 54),
               (43, 58, 14, 25, 38, 3, 10, 20, 30, 40, 49, 55), (12, 47, 59, 15, 27, 41, 4, 11, 21, 31, 44, 50),
               (26, 52, 60, 18, 32, 42, 5, 13, 22, 33, 45, 51))
"""The five groups of 12 speakers behind the authors' digit folds: fold k trains on groups k, k+1, k+2 (mod 5),
validates on k+3 and tests on k+4 (audiomnist/train/splits.py, splits['digit'])."""


def official_split(speaker: str, fold: int) -> str:
    """The split of speaker 'NN' in fold ``fold`` (0-4) of the authors' digit folds: train, val or test."""
    group = next(g for g, members in enumerate(FOLD_GROUPS) if int(speaker) in members)
    return {0: "train", 1: "train", 2: "train", 3: "val", 4: "test"}[(group - fold) % 5]


def detect(root: Path) -> bool:
    """True when ``root`` holds data/audioMNIST_meta.txt or data/<NN>/ speaker folders."""
    data = root / "data"
    return (data / META).is_file() or (data.is_dir() and any(re.fullmatch(r"\d\d", p.name) and p.is_dir()
                                                               for p in data.iterdir()))


def _meta(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not the JSON dict of speakers AudioMNIST ships: {err}") from None


def load_audiomnist(root, speakers=None, max_per_speaker=None, max_utterances=None, seed: int = 0,
                    splits: str = "speakers", fold: int = 0, held_out: float | int = 0.2, download: bool = False):
    """Read AudioMNIST as a Corpus (keyword = digit word, speaker, accent, derived vad), resampled to 16 kHz.

    ``splits``: 'speakers' (the kit's) or 'official' (fold ``fold`` of the authors' five; see the module docstring).
    Introduced in notebooks/09_bring_your_own_data.ipynb.
    """
    check_choice("splits", splits, ("official", "speakers"))
    check_choice("fold", fold, tuple(range(len(FOLD_GROUPS))))
    root = common.fetched_root(root, sys.modules[__name__], download)
    data = root / "data"
    folders = sorted(p for p in data.iterdir() if p.is_dir()) if data.is_dir() else []
    if not folders:
        raise FileNotFoundError(f"no data/<NN> folders in {root}; AudioMNIST expects {PATTERN}")
    meta = _meta(data / META)
    records = []
    for folder in folders:
        if not re.fullmatch(r"\d\d", folder.name):
            raise ValueError(f"unexpected folder {folder}: AudioMNIST expects {PATTERN} (two-digit speaker folders)")
        for f in common.not_empty(folder, common.audio_files(folder), PATTERN):
            digit, spk, _ = common.match(FILE, f, PATTERN).groups()
            if spk != folder.name:
                raise ValueError(f"{f}: speaker {spk} in the name, but the file is in {folder.name}")
            accent = str(meta.get(spk, {}).get("accent", "")).strip().lower()
            split = official_split(spk, fold) if splits == "official" else ""
            records.append(dict(file=f, speaker=spk, words=(LABEL_MAP[digit],), accent=accent, split=split))
    records = common.limit(records, speakers, max_per_speaker, max_utterances, seed)
    people = {k: {f: v.get(f, "") for f in ("age", "gender", "native speaker", "origin", "recordingroom")}
              for k, v in meta.items()}
    options = dict(speakers=speakers, max_per_speaker=max_per_speaker, max_utterances=max_utterances, seed=seed,
                   splits=splits, fold=fold, held_out=held_out)
    return common.build(records, root, sys.modules[__name__], people, held_out, seed, options)


def fake(root: Path, corpus) -> dict:
    """Write the digit utterances of ``corpus`` as an AudioMNIST tree (48 kHz, meta file); {file: source id}."""
    written, meta = {}, {}
    for i, spk in enumerate(corpus.speaker_ids(), start=1):
        nn = f"{i:02d}"
        factors = corpus.speakers.get(spk, {})
        meta[nn] = {"accent": factors.get("accent", "en-us"), "age": str(20 + i), "gender": factors.get("gender", ""),
                    "native speaker": "yes", "origin": "generated", "recordingdate": "", "recordingroom": "espeak"}
        count = {}
        for u in corpus:
            if u.speaker == spk and u.keyword in DIGITS:
                digit = DIGITS.index(u.keyword)
                k = count[digit] = count.get(digit, -1) + 1
                path = f"data/{nn}/{digit}_{nn}_{k}.wav"
                common.write_audio(root / path, u.wave, 48000)
                written[path] = u.id
    (root / "data" / META).write_text(json.dumps(meta, indent=4))
    return written
