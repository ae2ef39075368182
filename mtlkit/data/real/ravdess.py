"""RAVDESS speech: 24 actors, 8 emotions, 48 kHz wav (Livingstone & Russo 2018).

Layout (the Zenodo zip Audio_Speech_Actors_01-24.zip): ``Actor_XX/03-01-EE-II-SS-RR-AA.wav``:
modality 03 (audio-only), vocal channel 01 (speech; 02 = song is not read), EE emotion, II intensity
(01 normal, 02 strong; neutral has no strong), SS statement (01 "Kids are talking by the door",
02 "Dogs are sitting by the door"), RR repetition (01, 02), AA actor (01-24; odd male, even female).
Emotion codes: 01 neutral, 02 calm, 03 happy, 04 sad, 05 angry, 06 fearful, 07 disgust, 08 surprised.
neutral, happy, sad, angry, fearful are the kit's own emotion names; calm, disgust and surprised are kept
as labels of their own (``emotions=EMOTIONS`` keeps only the kit's five).
Tasks: speaker (the actor), emotion, vad (derived from energy). Speakers: gender, statement-balanced.
Licence: CC BY-NC-SA 4.0 (non-commercial use only). https://zenodo.org/record/1188976
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

from . import common

NAME = "ravdess"
TITLE = "RAVDESS speech"
PATTERN = "Actor_XX/03-01-EE-II-SS-RR-AA.wav"
TASKS = ("vad", "speaker", "emotion")
LICENCE = "CC BY-NC-SA 4.0 (non-commercial)"
URL = "https://zenodo.org/record/1188976"
LABEL_MAP = {"01": "neutral", "02": "calm", "03": "happy", "04": "sad", "05": "angry", "06": "fearful",
             "07": "disgust", "08": "surprised"}
"""Emotion code in the file name -> emotion label."""
FILE = re.compile(r"(\d\d)-(\d\d)-(0[1-8])-(0[12])-(0[12])-(0[12])-(\d\d)\.wav")
ACTOR = re.compile(r"Actor_(\d\d)")


def detect(root: Path) -> bool:
    """True when ``root`` holds Actor_XX folders."""
    return any(ACTOR.fullmatch(p.name) and p.is_dir() for p in root.iterdir())


def load_ravdess(root, emotions=None, speakers=None, max_per_speaker=None, max_utterances=None, seed: int = 0,
                 held_out: float | int = 0.2, download: bool = False):
    """Read RAVDESS speech as a Corpus (emotion, speaker, derived vad), resampled to 16 kHz.

    ``emotions``: the labels to keep (default: all eight); ``speakers`` (ids '01'..'24' or a count),
    ``max_per_speaker``, ``max_utterances``: a seeded subset. ``download=True`` fetches the Zenodo zip
    into ``root`` first when no Actor_XX folder is there. Introduced in notebooks/09_bring_your_own_data.ipynb.
    """
    root = common.fetched_root(root, sys.modules[__name__], download)
    if emotions is not None:
        for e in emotions:
            if e not in LABEL_MAP.values():
                raise ValueError(f"unknown emotion {e!r}; RAVDESS emotions: {', '.join(LABEL_MAP.values())}")
    records = []
    actors = sorted(p for p in root.iterdir() if p.is_dir() and ACTOR.fullmatch(p.name))
    if not actors:
        raise FileNotFoundError(f"no Actor_XX folders in {root}; RAVDESS expects {PATTERN}")
    for folder in actors:
        for f in common.not_empty(folder, common.audio_files(folder), PATTERN):
            modality, channel, emo, intensity, statement, rep, actor = common.match(FILE, f, PATTERN).groups()
            if actor != folder.name[-2:]:
                raise ValueError(f"{f}: actor {actor} in the name, but the file is in {folder.name}")
            if channel != "01" or modality != "03":
                raise ValueError(f"{f}: not audio-only speech (modality {modality}, channel {channel}); "
                                 f"this loader reads the speech zip: 03-01-EE-II-SS-RR-AA.wav")
            label = LABEL_MAP[emo]
            if emotions is None or label in emotions:
                records.append(dict(file=f, speaker=actor, emotion=label))
    records = common.limit(records, speakers, max_per_speaker, max_utterances, seed)
    people = {r["speaker"]: dict(gender="male" if int(r["speaker"]) % 2 else "female") for r in records}
    options = dict(emotions=emotions, speakers=speakers, max_per_speaker=max_per_speaker,
                   max_utterances=max_utterances, seed=seed, held_out=held_out)
    return common.build(records, root, sys.modules[__name__], people, held_out, seed, options)


def fake(root: Path, corpus) -> dict:
    """Write ``corpus`` (kit emotions) as a RAVDESS tree at 48 kHz; returns {file: source utterance id}.

    Speakers become actors 01, 02, ...; each utterance takes the next free (intensity, statement, repetition)
    of its emotion, so an actor holds at most 4 neutral and 8 of each other emotion (extra ones are left out).
    """
    codes = {v: k for k, v in LABEL_MAP.items()}
    written = {}
    for a, spk in enumerate(corpus.speaker_ids()[:24], start=1):
        used = {}
        for u in corpus:
            if u.speaker != spk or u.emotion not in codes:
                continue
            k = used.get(u.emotion, 0)
            if k >= (4 if u.emotion == "neutral" else 8):
                continue
            used[u.emotion] = k + 1
            intensity, statement, rep = (1 + k // 4, 1 + (k // 2) % 2, 1 + k % 2)
            name = f"Actor_{a:02d}/03-01-{codes[u.emotion]}-{intensity:02d}-{statement:02d}-{rep:02d}-{a:02d}.wav"
            common.write_audio(root / name, u.wave, 48000)
            written[name] = u.id
    return written
