"""CREMA-D: 91 actors, 12 sentences, 6 emotions at up to 4 levels, 16 kHz wav (Cao et al. 2014).

Layout (the GitHub repository CheyneyComputerScience/CREMA-D, fetched with git-lfs):
``AudioWAV/<actor>_<sentence>_<emotion>_<level>.wav`` plus ``VideoDemographics.csv``
(ActorID, Age, Sex, Race, Ethnicity). actor 1001-1091; sentence a three-letter code (IEO, TIE, IOM, IWW,
TAI, MTI, IWL, ITH, DFA, ITS, TSI, WSI); level LO, MD, HI or XX (unspecified).
Emotion codes: ANG angry, DIS disgust, FEA fearful, HAP happy, NEU neutral, SAD sad (five of them are the
kit's emotion names; disgust is kept as its own label, or dropped with ``emotions=EMOTIONS``).
Tasks: speaker, emotion, vad (derived from energy). Speakers: age, sex, race, ethnicity.
Licence: Open Database License (ODbL 1.0); its contents under the Database Contents License (DbCL 1.0).
No single-file download: the audio is in git-lfs; :data:`HOW_TO_GET` fetches only the wav files (606 MB).
https://github.com/CheyneyComputerScience/CREMA-D
"""
from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

from . import common

NAME = "crema_d"
TITLE = "CREMA-D"
PATTERN = "AudioWAV/<actor>_<sentence>_<emotion>_<level>.wav"
TASKS = ("vad", "speaker", "emotion")
LICENCE = "ODbL 1.0 (contents DbCL 1.0)"
URL = "https://github.com/CheyneyComputerScience/CREMA-D"
HOW_TO_GET = ("CREMA-D has no single archive: its audio is stored with git-lfs, and a full clone fetches about 7.5 GB "
              "(video and mp3 too). Fetch only AudioWAV/ (606 MB) from the mirror its README names first: "
              "'GIT_LFS_SKIP_SMUDGE=1 git clone https://gitlab.com/cs-cooper-lab/crema-d-mirror.git && "
              "cd crema-d-mirror && git lfs pull --include \"AudioWAV/*\"' (the same commands work on "
              "https://github.com/CheyneyComputerScience/CREMA-D, whose LFS budget has run out before), "
              "then point the kit at the clone")
LABEL_MAP = {"ANG": "angry", "DIS": "disgust", "FEA": "fearful", "HAP": "happy", "NEU": "neutral", "SAD": "sad"}
"""Emotion code in the file name -> emotion label."""
FILE = re.compile(r"(\d{4})_([A-Z]{3})_(ANG|DIS|FEA|HAP|NEU|SAD)_(LO|MD|HI|XX|X)\.wav")
SENTENCES = ("IEO", "TIE", "IOM", "IWW", "TAI", "MTI", "IWL", "ITH", "DFA", "ITS", "TSI", "WSI")


def detect(root: Path) -> bool:
    """True when ``root`` holds an AudioWAV folder."""
    return (root / "AudioWAV").is_dir()


def load_crema_d(root, emotions=None, speakers=None, max_per_speaker=None, max_utterances=None, seed: int = 0,
                 held_out: float | int = 0.2, download: bool = False):
    """Read CREMA-D as a Corpus (emotion, speaker, derived vad; demographics in ``corpus.speakers``).

    ``download=True`` cannot fetch it (git-lfs only) and says how to get it.
    Introduced in notebooks/09_bring_your_own_data.ipynb.
    """
    root = Path(root).expanduser()
    if download and not (root.is_dir() and detect(root)):
        raise FileNotFoundError(f"no CREMA-D at {root}. {HOW_TO_GET}")
    root = common.check_root(root)
    if not detect(root):
        raise FileNotFoundError(f"no AudioWAV folder in {root}; CREMA-D expects {PATTERN}")
    for e in emotions or ():
        if e not in LABEL_MAP.values():
            raise ValueError(f"unknown emotion {e!r}; CREMA-D emotions: {', '.join(LABEL_MAP.values())}")
    folder = root / "AudioWAV"
    records = []
    for f in common.not_empty(folder, common.audio_files(folder), PATTERN):
        actor, _sentence, emo, _level = common.match(FILE, f, PATTERN).groups()
        if emotions is None or LABEL_MAP[emo] in emotions:
            records.append(dict(file=f, speaker=actor, emotion=LABEL_MAP[emo]))
    records = common.limit(records, speakers, max_per_speaker, max_utterances, seed)
    people = {}
    table = root / "VideoDemographics.csv"
    if table.is_file():
        with open(table, newline="") as fh:
            rows = list(csv.DictReader(fh))
        missing = [c for c in ("ActorID", "Age", "Sex", "Race", "Ethnicity") if c not in (rows[0] if rows else {})]
        if missing:
            raise ValueError(f"{table} lacks column(s) {', '.join(missing)}; expected ActorID,Age,Sex,Race,Ethnicity")
        people = {r["ActorID"]: dict(age=int(r["Age"]), sex=r["Sex"].lower(), race=r["Race"],
                                     ethnicity=r["Ethnicity"]) for r in rows}
    options = dict(emotions=emotions, speakers=speakers, max_per_speaker=max_per_speaker,
                   max_utterances=max_utterances, seed=seed, held_out=held_out)
    return common.build(records, root, sys.modules[__name__], people, held_out, seed, options)


def fake(root: Path, corpus) -> dict:
    """Write ``corpus`` as a CREMA-D tree (16 kHz, demographics table); returns {file: source utterance id}."""
    codes = {v: k for k, v in LABEL_MAP.items()}
    written, rows = {}, []
    for a, spk in enumerate(corpus.speaker_ids(), start=1001):
        used = {}
        for u in corpus:
            if u.speaker != spk or u.emotion not in codes:
                continue
            k = used.get(u.emotion, 0)
            used[u.emotion] = k + 1
            level = "XX" if u.emotion == "neutral" else ("LO", "MD", "HI", "XX")[k // len(SENTENCES) % 4]
            name = f"AudioWAV/{a}_{SENTENCES[k % len(SENTENCES)]}_{codes[u.emotion]}_{level}.wav"
            if name in written:
                continue
            common.write_audio(root / name, u.wave, 16000)
            written[name] = u.id
        gender = corpus.speakers.get(spk, {}).get("gender", "female")
        rows.append(f"{a},{20 + a % 50},{gender.capitalize()},Caucasian,Not Hispanic")
    (root / "VideoDemographics.csv").write_text("ActorID,Age,Sex,Race,Ethnicity\n" + "\n".join(rows) + "\n")
    return written
