"""Speech Commands v0.02: 35 words, 1 s clips from ~2600 speakers, 16 kHz wav (Warden 2018).

Layout (speech_commands_v0.02.tar.gz, extracted): ``<word>/<speakerhash>_nohash_<k>.wav``, plus
``validation_list.txt`` and ``testing_list.txt`` (one ``<word>/<file>.wav`` a line) and
``_background_noise_/`` (long noise recordings: listed in ``corpus.info['noise_sources']``, not utterances).
Labels: keyword = the folder's word; speaker = the 8-hex-digit hash.
Splits (``splits='official'``, the default): files in validation_list.txt -> val, testing_list.txt -> test,
the rest -> train. These lists keep a speaker in one split only, so there is no speaker task across splits
and no held-out split; ``splits='speakers'`` uses the kit's split by speaker instead.
Tasks: keyword, speaker, vad (derived from energy). Licence: CC BY 4.0.
https://storage.googleapis.com/download.tensorflow.org/data/speech_commands_v0.02.tar.gz
"""
from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

import numpy as np

from ...config import check_choice
from . import common

NAME = "speech_commands"
TITLE = "Speech Commands v0.02"
PATTERN = "<word>/<speakerhash>_nohash_<k>.wav"
TASKS = ("vad", "speaker", "keyword")
LICENCE = "CC BY 4.0"
URL = "https://www.tensorflow.org/datasets/catalog/speech_commands"
LABEL_MAP = {"keyword": "the folder name (yes, no, up, ... 35 words)", "speaker": "the hash before _nohash_"}
FILE = re.compile(r"([0-9a-f]{8})_nohash_(\d+)\.wav")
NOISE = "_background_noise_"


def detect(root: Path) -> bool:
    """True when ``root`` holds _background_noise_ or both list files."""
    return (root / NOISE).is_dir() or ((root / "validation_list.txt").is_file()
                                       and (root / "testing_list.txt").is_file())


def _listed(path: Path) -> set:
    return {line.strip() for line in path.read_text().splitlines() if line.strip()} if path.is_file() else set()


def load_speech_commands(root, words=None, speakers=None, max_per_speaker=None, max_utterances=None,
                         seed: int = 0, splits: str = "official", held_out: float | int = 0.2,
                         download: bool = False):
    """Read Speech Commands v0.02 as a Corpus (keyword, speaker, derived vad), official splits by default.

    ``words``: the keywords to keep (default: every word folder). Introduced in
    notebooks/09_bring_your_own_data.ipynb.
    """
    check_choice("splits", splits, ("official", "speakers"))
    root = common.fetched_root(root, sys.modules[__name__], download)
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    if not folders:
        raise FileNotFoundError(f"no word folders in {root}; Speech Commands expects {PATTERN}")
    names = [p.name for p in folders]
    for w in words or ():
        check_choice("word", w, names)
    val, test = _listed(root / "validation_list.txt"), _listed(root / "testing_list.txt")
    records = []
    for folder in folders:
        if words is not None and folder.name not in words:
            continue
        for f in common.not_empty(folder, common.audio_files(folder), PATTERN):
            spk = common.match(FILE, f, PATTERN).group(1)
            rel = f"{folder.name}/{f.name}"
            split = ("val" if rel in val else "test" if rel in test else "train") if splits == "official" else ""
            records.append(dict(file=f, speaker=spk, words=(folder.name,), split=split))
    on_disk = {f"{r['file'].parent.name}/{r['file'].name}" for r in records}
    for listed, name in ((val, "validation_list.txt"), (test, "testing_list.txt")):
        gone = sorted(p for p in listed if p not in on_disk and (words is None or p.split("/")[0] in words))
        if gone:
            raise FileNotFoundError(f"{root / name} lists {len(gone)} file(s) not on disk, e.g. {root / gone[0]}: "
                                    f"a half-extracted archive? extract it again")
    records = common.limit(records, speakers, max_per_speaker, max_utterances, seed)
    noise = sorted(p.relative_to(root).as_posix() for p in (root / NOISE).glob("*.wav")) \
        if (root / NOISE).is_dir() else []
    options = dict(words=words, speakers=speakers, max_per_speaker=max_per_speaker, max_utterances=max_utterances,
                   seed=seed, splits=splits, held_out=held_out)
    return common.build(records, root, sys.modules[__name__], {}, held_out, seed, options,
                        extra_info=dict(noise_sources=noise))


def fake(root: Path, corpus) -> dict:
    """Write ``corpus`` as a Speech Commands tree (1 s clips, list files, background noise); {file: source id}.

    Like the real lists, each speaker's clips all go to one list: the last speaker to testing, the one before
    to validation.
    """
    from ..noise import pink_noise, white_noise

    written, hashes = {}, {s: hashlib.sha1(s.encode()).hexdigest()[:8] for s in corpus.speaker_ids()}
    ids = corpus.speaker_ids()
    lists = {ids[-1]: [], ids[-2]: []} if len(ids) > 2 else {}
    for u in corpus:
        word = u.keyword
        k = sum(1 for name in written if name.startswith(f"{word}/{hashes[u.speaker]}_"))
        name = f"{word}/{hashes[u.speaker]}_nohash_{k}.wav"
        clip = np.zeros(16000, np.float32)
        clip[:min(len(u.wave), 16000)] = u.wave[:16000]
        common.write_audio(root / name, clip, 16000)
        written[name] = u.id
        if u.speaker in lists:
            lists[u.speaker].append(name)
    (root / "testing_list.txt").write_text("".join(f"{n}\n" for n in lists.get(ids[-1], [])))
    (root / "validation_list.txt").write_text("".join(f"{n}\n" for n in lists.get(ids[-2], [])) if lists else "")
    rng = np.random.default_rng(0)
    common.write_audio(root / NOISE / "white_noise.wav", 0.1 * white_noise(32000, rng), 16000)
    common.write_audio(root / NOISE / "pink_noise.wav", 0.1 * pink_noise(32000, rng), 16000)
    (root / "README.md").write_text("fake Speech Commands tree written by mtlkit from generated speech\n")
    (root / "LICENSE").write_text("CC BY 4.0\n")
    return written
