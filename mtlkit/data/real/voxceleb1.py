"""VoxCeleb1: 1251 celebrities in interview videos, 16 kHz wav (Nagrani et al. 2017).

Layout (vox1_dev_wav.zip and vox1_test_wav.zip, both extracted into one folder so that they fill the same
``wav/``): ``wav/idXXXXX/<video>/<nnnnn>.wav`` with
``iden_split.txt`` beside ``wav/`` (``<1|2|3> idXXXXX/<video>/<nnnnn>.wav`` a line: 1 train, 2 val, 3 test)
and optionally ``vox1_meta.csv`` (tab-separated: VoxCeleb1 ID, VGGFace1 ID, Gender, Nationality, Set).
Labels: speaker = idXXXXX; splits from iden_split.txt (``splits='official'``, the default, when the file is
there; identification splits share speakers, as the kit's train/val/test do). iden_split.txt lists all 1,251
speakers, 40 of them (id10270-id10309) only in the test archive: files it lists that are not on disk are an error
that names them (``splits='speakers'`` reads what is there instead). Speakers: gender, nationality.
Tasks: speaker, vad (derived from energy).
Licence: the audio was released under CC BY 4.0, the copyright of the videos staying with their owners; the
metadata is under CC BY-SA 4.0 (the VoxCeleb pages' current wording). Obtaining it: see :data:`HOW_TO_GET`.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

from ...config import check_choice
from . import common

NAME = "voxceleb1"
TITLE = "VoxCeleb1"
PATTERN = "wav/idXXXXX/<video>/<nnnnn>.wav"
TASKS = ("vad", "speaker")
LICENCE = "audio CC BY 4.0 (video copyright: its owners); metadata CC BY-SA 4.0"
URL = "https://www.robots.ox.ac.uk/~vgg/data/voxceleb/vox1.html"
HOW_TO_GET = ("VoxCeleb1 cannot be downloaded by the kit. Its home is "
              "https://www.robots.ox.ac.uk/~vgg/data/voxceleb/vox1.html (it used to hand out the audio after a "
              "request form; reports from 2025 say it now serves only the metadata, so check there first, then "
              "copies whose terms you have read). You need both vox1_dev_wav.zip (about 32 GB, often in four parts "
              "to join) and vox1_test_wav.zip (about 1 GB), extracted into one folder so that both fill the same "
              "wav/, and iden_split.txt beside wav/ (vox1_meta.csv too, for gender and nationality)")
LABEL_MAP = {"1": "train", "2": "val", "3": "test"}
"""iden_split.txt set number -> split."""
SPEAKER = re.compile(r"id\d{5}")
FILE = re.compile(r"\d{5}\.wav")


def detect(root: Path) -> bool:
    """True when ``root`` holds wav/idXXXXX folders."""
    wav = root / "wav"
    return wav.is_dir() and any(SPEAKER.fullmatch(p.name) for p in wav.iterdir())


def load_voxceleb1(root, speakers=None, max_per_speaker=None, max_utterances=None, seed: int = 0,
                   splits: str = "official", held_out: float | int = 0.2, download: bool = False):
    """Read VoxCeleb1 as a Corpus (speaker, derived vad), splits from iden_split.txt when present.

    With official splits every file iden_split.txt lists must be there (FileNotFoundError naming what is not).
    ``download=True`` cannot fetch it and says how to get it.
    Introduced in notebooks/09_bring_your_own_data.ipynb.
    """
    check_choice("splits", splits, ("official", "speakers"))
    root = Path(root).expanduser()
    if download and not (root.is_dir() and detect(root)):
        raise FileNotFoundError(f"no VoxCeleb1 at {root}. {HOW_TO_GET}")
    root = common.check_root(root)
    if not detect(root):
        raise FileNotFoundError(f"no wav/idXXXXX folders in {root}; VoxCeleb1 expects {PATTERN}")
    official = {}
    if splits == "official" and (root / "iden_split.txt").is_file():
        for n, line in enumerate((root / "iden_split.txt").read_text().splitlines(), start=1):
            parts = line.split()
            if len(parts) != 2 or parts[0] not in LABEL_MAP:
                raise ValueError(f"{root / 'iden_split.txt'}, line {n}: {line!r} is not '<1|2|3> id/video/nnnnn.wav'")
            official[parts[1]] = LABEL_MAP[parts[0]]
    records = []
    for spk in sorted(p for p in (root / "wav").iterdir() if p.is_dir()):
        common.match(SPEAKER, spk, "wav/idXXXXX (a speaker id: 'id' and five digits)")
        videos = sorted(p for p in spk.iterdir() if p.is_dir())
        if not videos:
            raise ValueError(f"{spk} holds no video folders: a half-extracted archive? extract it again")
        for video in videos:
            for f in common.not_empty(video, common.audio_files(video), PATTERN):
                common.match(FILE, f, PATTERN)
                rel = f"{spk.name}/{video.name}/{f.name}"
                records.append(dict(file=f, speaker=spk.name, split=official.get(rel, "train" if official else "")))
    if official:
        on_disk = {r["file"].relative_to(root / "wav").as_posix() for r in records}
        gone = sorted(rel for rel in official if rel not in on_disk)
        if gone:
            who = sorted({rel.split("/")[0] for rel in gone})
            raise FileNotFoundError(
                f"{root / 'iden_split.txt'} lists {len(gone)} file(s) of {len(who)} speaker(s) not on disk "
                f"({', '.join(who[:5])}{' ...' if len(who) > 5 else ''}), e.g. {root / 'wav' / gone[0]}: "
                f"id10270-id10309 are in vox1_test_wav.zip, which must be extracted into the same wav/ as "
                f"vox1_dev_wav.zip; or pass splits='speakers' to read only what is on disk")
    records = common.limit(records, speakers, max_per_speaker, max_utterances, seed)
    people = {}
    if (root / "vox1_meta.csv").is_file():
        for line in (root / "vox1_meta.csv").read_text().splitlines()[1:]:
            parts = [p.strip() for p in line.split("\t")]
            if len(parts) >= 4:
                people[parts[0]] = dict(name=parts[1], gender=dict(m="male", f="female").get(parts[2], parts[2]),
                                        nationality=parts[3])
    options = dict(speakers=speakers, max_per_speaker=max_per_speaker, max_utterances=max_utterances, seed=seed,
                   splits=splits, held_out=held_out)
    return common.build(records, root, sys.modules[__name__], people, held_out, seed, options)


def fake(root: Path, corpus) -> dict:
    """Write ``corpus`` as a VoxCeleb1 tree (wav/, iden_split.txt, vox1_meta.csv); returns {file: source id}.

    Each speaker's utterances are spread over two "videos"; the corpus's train/val/test become sets 1/2/3.
    """
    written, split_lines, meta = {}, [], ["VoxCeleb1 ID\tVGGFace1 ID\tGender\tNationality\tSet"]
    sets = {"train": "1", "val": "2", "test": "3", "heldout": "3"}
    for i, spk in enumerate(corpus.speaker_ids(), start=10001):
        mine = [u for u in corpus if u.speaker == spk]
        for k, u in enumerate(mine):
            rel = f"id{i}/vid{k % 2:08d}/{k // 2 + 1:05d}.wav"
            common.write_audio(root / "wav" / rel, u.wave, 16000)
            written[f"wav/{rel}"] = u.id
            split_lines.append(f"{sets.get(u.split, '1')} {rel}")
        gender = corpus.speakers.get(spk, {}).get("gender", "")[:1]
        meta.append(f"id{i}\tSpeaker_{spk}\t{gender}\tGenerated\tdev")
    (root / "iden_split.txt").write_text("\n".join(split_lines) + "\n")
    (root / "vox1_meta.csv").write_text("\n".join(meta) + "\n")
    return written
