"""LibriSpeech: read English audiobooks, 16 kHz flac with transcripts (Panayotov et al. 2015).

Layout (e.g. dev-clean.tar.gz, extracted): ``LibriSpeech/<subset>/<spk>/<chapter>/<spk>-<chapter>-<utt>.flac``
with one ``<spk>-<chapter>.trans.txt`` per chapter (``<spk>-<chapter>-<utt> WORDS ...`` a line) and
``LibriSpeech/SPEAKERS.TXT`` (``ID | SEX | SUBSET | MINUTES | NAME``). Point the kit at the subset folder
(``.../LibriSpeech/dev-clean``) or at a folder above it.
Labels: speaker; words = the transcript, lower-cased (keyword = its first word: thousands of classes, so
keyword is available but hardly a lesson); sex from SPEAKERS.TXT into ``corpus.speakers``.
Tasks: speaker, keyword (first word), vad (derived from energy). Licence: CC BY 4.0.
https://www.openslr.org/12
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

from . import common

NAME = "librispeech"
TITLE = "LibriSpeech"
PATTERN = "<subset>/<spk>/<chapter>/<spk>-<chapter>-<utt>.flac"
TASKS = ("vad", "speaker", "keyword")
LICENCE = "CC BY 4.0"
URL = "https://www.openslr.org/12"
LABEL_MAP = {"speaker": "the reader id", "words": "the transcript line, lower-cased", "keyword": "first word"}
FILE = re.compile(r"(\d+)-(\d+)-(\d+)\.flac")
SUBSETS = ("dev-clean", "test-clean", "dev-other", "test-other", "train-clean-100")


def detect(root: Path) -> bool:
    """True when ``root`` is a subset folder: <spk>/<chapter>/<spk>-<chapter>.trans.txt."""
    for spk in sorted(p for p in root.iterdir() if p.is_dir() and p.name.isdigit())[:1]:
        for chapter in sorted(p for p in spk.iterdir() if p.is_dir() and p.name.isdigit())[:1]:
            return (chapter / f"{spk.name}-{chapter.name}.trans.txt").is_file()
    return False


def _speakers_table(root: Path) -> dict:
    for path in (root / "SPEAKERS.TXT", root.parent / "SPEAKERS.TXT"):
        if path.is_file():
            out = {}
            for line in path.read_text(errors="replace").splitlines():
                parts = [p.strip() for p in line.split("|", 4)]      # a NAME may hold '|' (reader 60)
                if line.startswith(";") or len(parts) < 5:
                    continue
                out[parts[0]] = dict(sex=dict(F="female", M="male").get(parts[1], parts[1]), subset=parts[2],
                                     name=parts[4])
            return out
    return {}


def load_librispeech(root, speakers=None, max_per_speaker=None, max_utterances=None, seed: int = 0,
                     held_out: float | int = 0.2, download: bool = False, subset: str = "dev-clean"):
    """Read one LibriSpeech subset as a Corpus (speaker, words / keyword, derived vad).

    ``download=True`` fetches ``subset`` (dev-clean, test-clean, train-clean-100, ...) from openslr into
    ``root`` first. Introduced in notebooks/09_bring_your_own_data.ipynb.
    """
    root = common.fetched_root(root, sys.modules[__name__], download, f"librispeech-{subset}", subset)
    spk_dirs = sorted(p for p in root.iterdir() if p.is_dir() and p.name.isdigit())
    if not spk_dirs:
        raise FileNotFoundError(f"no speaker folders in {root}; LibriSpeech expects {PATTERN}")
    records = []
    for spk in spk_dirs:
        chapters = sorted(p for p in spk.iterdir() if p.is_dir())
        if not chapters:
            raise ValueError(f"{spk} holds no chapter folders: a half-extracted archive? extract it again")
        for chapter in chapters:
            trans = chapter / f"{spk.name}-{chapter.name}.trans.txt"
            if not trans.is_file():
                raise FileNotFoundError(f"missing transcript {trans} (LibriSpeech expects one per chapter)")
            lines = dict(line.split(" ", 1) for line in trans.read_text().splitlines() if " " in line)
            for f in common.not_empty(chapter, common.audio_files(chapter), PATTERN):
                s, c, _ = common.match(FILE, f, PATTERN).groups()
                if (s, c) != (spk.name, chapter.name):
                    raise ValueError(f"{f}: its name says speaker {s}, chapter {c}; it is in {spk.name}/{chapter.name}")
                if f.stem not in lines:
                    raise ValueError(f"{f}: no line for {f.stem} in {trans}")
                records.append(dict(file=f, speaker=s, words=tuple(lines[f.stem].lower().split())))
    records = common.limit(records, speakers, max_per_speaker, max_utterances, seed)
    options = dict(speakers=speakers, max_per_speaker=max_per_speaker, max_utterances=max_utterances, seed=seed,
                   held_out=held_out)
    return common.build(records, root, sys.modules[__name__], _speakers_table(root), held_out, seed, options)


def fake(root: Path, corpus) -> dict:
    """Write ``corpus`` as LibriSpeech/dev-clean (flac, transcripts, SPEAKERS.TXT) under ``root``; {file: id}."""
    written, rows = {}, [";ID  |SEX| SUBSET           |MINUTES| NAME"]
    for i, spk in enumerate(corpus.speaker_ids()):
        sid, chapter = str(100 + 17 * i), str(5000 + i)
        lines = []
        for k, u in enumerate(u for u in corpus if u.speaker == spk):
            name = f"LibriSpeech/dev-clean/{sid}/{chapter}/{sid}-{chapter}-{k:04d}.flac"
            common.write_audio(root / name, u.wave, 16000)
            written[name] = u.id
            lines.append(f"{sid}-{chapter}-{k:04d} {' '.join(u.words).upper()}")
        (root / f"LibriSpeech/dev-clean/{sid}/{chapter}/{sid}-{chapter}.trans.txt").write_text("\n".join(lines) + "\n")
        sex = "F" if corpus.speakers.get(spk, {}).get("gender") == "female" else "M"
        rows.append(f"{sid:<5}| {sex} | dev-clean        | 8.02  | Reader {spk}")
    (root / "LibriSpeech/SPEAKERS.TXT").write_text("; fake SPEAKERS.TXT written by mtlkit\n" + "\n".join(rows) + "\n")
    (root / "LibriSpeech/README.TXT").write_text("fake LibriSpeech tree written by mtlkit\n")
    return written
