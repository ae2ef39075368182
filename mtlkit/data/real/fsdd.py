"""Free Spoken Digit Dataset (FSDD): spoken digits 0-9 from a few speakers, 8 kHz wav (Jackson et al.).

Layout (the GitHub repository Jakobovski/free-spoken-digit-dataset): ``recordings/<digit>_<speaker>_<idx>.wav``
(e.g. ``7_jackson_32.wav``; speakers george, jackson, lucas, nicolas, theo, yweweler, ...).
Labels: keyword = the digit as a word ('zero' .. 'nine', the kit's keyword names); speaker = the name.
Splits: ``splits='speakers'`` (the default) holds out speakers, as for every corpus without published splits;
``splits='official'`` is FSDD's own split (its README): recordings 0-4 of each digit and speaker are the test set,
5-49 training; FSDD has no validation set, so the kit takes recordings 5-9 for it. Every speaker is in every split.
Tasks: keyword, speaker, vad (derived from energy). Licence: CC BY-SA 4.0.
Downloaded from the release tag v1.0.10 (the recordings at master are the same), checked after extraction
against the sha256 of the ``sha256sum`` listing of its ``recordings/`` folder (see ``downloads.listing_digest``).
https://github.com/Jakobovski/free-spoken-digit-dataset
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

from ...config import check_choice
from . import common

NAME = "fsdd"
TITLE = "Free Spoken Digit Dataset"
PATTERN = "recordings/<digit>_<speaker>_<idx>.wav"
TASKS = ("vad", "speaker", "keyword")
LICENCE = "CC BY-SA 4.0"
URL = "https://github.com/Jakobovski/free-spoken-digit-dataset"
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
LABEL_MAP = {str(d): w for d, w in enumerate(DIGITS)}
"""Digit in the file name -> keyword."""
FILE = re.compile(r"(\d)_([A-Za-z]+)_(\d+)\.wav")
NAMES = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
OFFICIAL_TEST, OFFICIAL_VAL = range(0, 5), range(5, 10)
"""Recording indices of FSDD's official test set (its README), and the ones the kit takes for validation."""


def official_split(index: int) -> str:
    """The split of recording ``index`` under FSDD's official split: 0-4 test, 5-9 val (the kit's), 10-49 train."""
    return "test" if index in OFFICIAL_TEST else "val" if index in OFFICIAL_VAL else "train"


def detect(root: Path) -> bool:
    """True when ``root`` holds recordings/ with a <digit>_<speaker>_<idx>.wav file."""
    folder = root / "recordings"
    return folder.is_dir() and any(FILE.fullmatch(p.name) for p in folder.iterdir())


def load_fsdd(root, speakers=None, max_per_speaker=None, max_utterances=None, seed: int = 0,
              splits: str = "speakers", held_out: float | int = 0.2, download: bool = False):
    """Read FSDD as a Corpus (keyword = digit word, speaker, derived vad), resampled to 16 kHz.

    ``splits``: 'speakers' (held-out speakers) or 'official' (recordings 0-4 test, see the module docstring).
    Introduced in notebooks/09_bring_your_own_data.ipynb.
    """
    check_choice("splits", splits, ("official", "speakers"))
    root = common.fetched_root(root, sys.modules[__name__], download)
    folder = root / "recordings"
    if not folder.is_dir():
        raise FileNotFoundError(f"no recordings folder in {root}; FSDD expects {PATTERN}")
    records = []
    for f in common.not_empty(folder, common.audio_files(folder), PATTERN):
        digit, spk, index = common.match(FILE, f, PATTERN).groups()
        split = official_split(int(index)) if splits == "official" else ""
        records.append(dict(file=f, speaker=spk, words=(LABEL_MAP[digit],), split=split))
    records = common.limit(records, speakers, max_per_speaker, max_utterances, seed)
    options = dict(speakers=speakers, max_per_speaker=max_per_speaker, max_utterances=max_utterances, seed=seed,
                   splits=splits, held_out=held_out)
    return common.build(records, root, sys.modules[__name__], {}, held_out, seed, options)


def fake(root: Path, corpus) -> dict:
    """Write the digit utterances of ``corpus`` as an FSDD tree at 8 kHz; returns {file: source utterance id}."""
    written = {}
    for i, spk in enumerate(corpus.speaker_ids()):
        name = NAMES[i] if i < len(NAMES) else f"speaker{chr(97 + i % 26)}{chr(97 + i // 26)}"
        count = {}
        for u in corpus:
            if u.speaker == spk and u.keyword in DIGITS:
                digit = DIGITS.index(u.keyword)
                k = count[digit] = count.get(digit, -1) + 1
                path = f"recordings/{digit}_{name}_{k}.wav"
                common.write_audio(root / path, u.wave, 8000)
                written[path] = u.id
    (root / "README.md").write_text("fake FSDD tree written by mtlkit from generated speech\n")
    return written
