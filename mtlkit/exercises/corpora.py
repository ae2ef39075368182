"""Notebook 09's exercise: read every label off a RAVDESS file name (Livingstone & Russo 2018)."""
from __future__ import annotations

from pathlib import Path

from .core import Exercise, Failed, register, run

EMOTIONS = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")
"""RAVDESS emotion codes 01..08, in order."""


def parse_ravdess(path: str) -> dict:
    """'Actor_07/03-01-05-02-01-02-07.wav' -> {'speaker': '07', 'emotion': 'angry', 'intensity': 'strong',
    'gender': 'male'}; ValueError for any other name (song files, wrong field counts)."""
    fields = Path(path).stem.split("-")
    if len(fields) != 7 or not all(f.isdigit() and len(f) == 2 for f in fields):
        raise ValueError(f"{path}: not a RAVDESS name MM-VV-EE-II-SS-RR-AA.wav")
    modality, channel, emotion, intensity, _statement, _repetition, actor = fields
    if modality != "03" or channel != "01":
        raise ValueError(f"{path}: not audio-only speech (modality {modality}, vocal channel {channel})")
    if not 1 <= int(emotion) <= 8 or intensity not in ("01", "02"):
        raise ValueError(f"{path}: emotion {emotion} or intensity {intensity} out of range")
    return dict(speaker=actor, emotion=EMOTIONS[int(emotion) - 1],
                intensity="normal" if intensity == "01" else "strong",
                gender="male" if int(actor) % 2 else "female")


def _must_reject(fn, name: str, why: str):
    try:
        fn(name)
    except NotImplementedError:
        raise
    except ValueError:
        return
    except Exception as error:  # noqa: BLE001
        raise Failed(f"{name!r} ({why}) must raise ValueError naming the file; yours raised "
                     f"{type(error).__name__}: {error}") from None
    raise Failed(f"{name!r} must raise ValueError: {why}; yours returned a result, so a wrong file would be "
                 "read as speech with made-up labels")


def _check_ravdess(fn, reference) -> str:
    name = "Actor_07/03-01-05-02-01-02-07.wav"
    out = run(fn, name, what=name)
    expected = reference(name)
    if not isinstance(out, dict) or set(out) != set(expected):
        raise Failed(f"return a dict with the keys {sorted(expected)}; got "
                     f"{sorted(out) if isinstance(out, dict) else type(out).__name__}")
    for key in ("speaker", "emotion", "intensity", "gender"):
        if out[key] != expected[key]:
            advice = {"speaker": "the actor is the 7th field (AA), kept as the two-digit string '07'",
                      "emotion": "emotion codes count from 01 (neutral): 05 is EMOTIONS[5 - 1] = 'angry'",
                      "intensity": "intensity 01 is 'normal', 02 'strong'",
                      "gender": "odd actors are male, even actors female"}[key]
            raise Failed(f"{name}: {key} should be {expected[key]!r}, got {out[key]!r}: {advice}")
    for bad, why in (("03-02-03-01-01-01-05.wav", "vocal channel 02 is song, not speech"),
                     ("01-01-03-01-01-01-05.wav", "modality 01 is audio-video, not audio-only"),
                     ("03-01-09-01-01-01-05.wav", "there is no emotion 09"),
                     ("03-01-03-01-01-05.wav", "six fields, not seven"),
                     ("notes.wav", "not a RAVDESS name at all")):
        _must_reject(fn, bad, why)
    count = 0
    for actor in range(1, 25):
        for emotion in range(1, 9):
            for intensity in ((1,) if emotion == 1 else (1, 2)):
                name = f"Actor_{actor:02d}/03-01-{emotion:02d}-{intensity:02d}-02-01-{actor:02d}.wav"
                mine = run(fn, name, what=name)
                if mine != reference(name):
                    raise Failed(f"{name}: expected {reference(name)}, got {mine}")
                count += 1
    return (f"the worked name, 5 names that must be rejected (song, audio-video, emotion 09, six fields, not "
            f"RAVDESS), and all {count} speech names of the 24 actors")


register(Exercise(
    name="parse_ravdess", notebook="09_bring_your_own_data",
    statement=("A RAVDESS file name MM-VV-EE-II-SS-RR-AA.wav carries every label: modality MM (03 = audio-only), "
               "vocal channel VV (01 = speech, 02 = song), emotion EE (01 neutral, 02 calm, 03 happy, 04 sad, "
               "05 angry, 06 fearful, 07 disgust, 08 surprised), intensity II (01 normal, 02 strong), statement SS, "
               "repetition RR and actor AA (01-24; odd actors are male, even female). Return the speaker (the actor, "
               "as its two-digit string), emotion, intensity and gender of a path to a speech file; raise "
               "ValueError for anything else, so a wrong file is never read with made-up labels."),
    signature="def parse_ravdess(path: str) -> dict:   # 'Actor_07/03-01-05-02-01-02-07.wav' -> {'speaker': '07', ...}",
    reference=parse_ravdess, checker=_check_ravdess,
    hints=["Path(path).stem.split('-') gives the seven two-digit fields; check there are seven.",
           "EMOTIONS[int(code) - 1]: the codes count from 01.",
           "Raise ValueError unless modality == '03' and channel == '01'; int(actor) % 2 == 1 means male."]))
