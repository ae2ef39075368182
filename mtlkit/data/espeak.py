"""eSpeak NG driven in-process through ctypes, from the library and data inside the espeakng-loader wheel."""
from __future__ import annotations

import ctypes
import hashlib
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

import numpy as np

from ..config import cache_dir

_SYNCHRONOUS = 2          # espeak_AUDIO_OUTPUT: AUDIO_OUTPUT_SYNCHRONOUS
_CHARS_UTF8, _SSML = 1, 0x10
_RATE = 1                 # espeak_PARAMETER: espeakRATE (words per minute)
_DATA_PARTS = ("phondata", "phondata-manifest", "phonindex", "phontab", "intonations", "en_dict", "lang", "voices")


class EspeakError(RuntimeError):
    """eSpeak NG failed: it did not start, synthesise or speak (the message's first line says which)."""


class _Event(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint), ("text_position", ctypes.c_int),
                ("length", ctypes.c_int), ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", ctypes.c_void_p)]


_Callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


def _private_data_dir() -> Path:
    """Copy the English part of espeak-ng-data once into the cache, so voice variants can be added to it."""
    import espeakng_loader

    version = metadata.version("espeakng-loader")
    target = cache_dir() / f"espeak-ng-data-{version}"
    if target.is_dir():
        return target
    source = Path(espeakng_loader.get_data_path())
    tmp = Path(tempfile.mkdtemp(prefix=".espeak-", dir=cache_dir()))
    for part in _DATA_PARTS:
        (shutil.copytree if (source / part).is_dir() else shutil.copy2)(source / part, tmp / part)
    try:
        os.rename(tmp, target)          # atomic: the folder appears complete or not at all
    except OSError:                     # another process won the race
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _source_data_dir() -> Path:
    import espeakng_loader

    return Path(espeakng_loader.get_data_path())


def dictionary_of(language: str) -> str:
    """The pronunciation dictionary a language's voice uses: its voice file's ``dictionary`` line, else the code."""
    voice = next((p for p in (_source_data_dir() / "lang").rglob(language) if p.is_file()), None)
    if voice is None:
        raise ValueError(f"eSpeak NG has no voice file for language {language!r}")
    for line in voice.read_text(errors="replace").splitlines():
        if line.split()[:1] == ["dictionary"]:
            return line.split()[1]
    return language.split("-")[0]


def install_language(language: str) -> Path:
    """Copy the one dictionary ``language`` needs into the private data folder (once, atomically); its path."""
    name = f"{dictionary_of(language)}_dict"
    target = _private_data_dir() / name
    if not target.is_file():
        source = _source_data_dir() / name
        if not source.is_file():
            raise ValueError(f"eSpeak NG ships no dictionary {name} for language {language!r}")
        tmp = target.with_suffix(f".tmp{os.getpid()}")
        shutil.copy2(source, tmp)
        os.replace(tmp, target)
    return target


def _remove_stale_variants(folder: Path) -> None:
    """Delete variant files left by processes that no longer run (and mtlkit-* ones of versions that kept them)."""
    for path in [*folder.glob("mk-*"), *folder.glob("mtlkit-*")]:
        parts = path.name.split("-")
        if len(parts) == 3 and parts[2].isdigit():
            try:
                os.kill(int(parts[2]), 0)             # the writer still runs: its file is in use
                continue
            except ProcessLookupError:
                pass
            except PermissionError:
                continue
        path.unlink(missing_ok=True)


class ESpeak:
    """One in-process eSpeak NG engine (the C library is global state, so use :func:`engine`)."""

    def __init__(self):
        import espeakng_loader

        self.data_dir = _private_data_dir()
        self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self.sample_rate = self.lib.espeak_Initialize(_SYNCHRONOUS, 0, str(self.data_dir).encode(), 0)
        if self.sample_rate <= 0:
            raise EspeakError(f"eSpeak NG failed to initialise from {self.data_dir}")
        self._chunks: list[np.ndarray] = []
        self._callback = _Callback(self._collect)     # keep a reference: the C side holds only a pointer
        self.lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        self.lib.espeak_SetSynthCallback(self._callback)
        self._voice = None
        _remove_stale_variants(self.data_dir / "voices" / "!v")

    def _collect(self, wav, num_samples, events):
        if num_samples > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(num_samples,)).copy())
        return 0

    def add_variant(self, text: str) -> str:
        """Write a voice variant file (eSpeak's variant syntax) and return its name, e.g. 'mk-1a2b3c4d-812'.

        The name ends in this process's id, and :meth:`remove_variant` deletes the file after use: eSpeak NG lists
        at most 349 voices, and the ~250 it ships leave room for only ~100 variants at a time. eSpeak NG aborts
        ("buffer overflow") on a variant name longer than 20 characters; this one has at most 19.
        """
        name = f"mk-{hashlib.sha1(text.encode()).hexdigest()[:8]}-{os.getpid()}"
        path = self.data_dir / "voices" / "!v" / name
        tmp = path.with_name(f".{name}.tmp")
        tmp.write_text(f"name {name}\nlanguage variant\n{text}")
        os.replace(tmp, path)
        return name

    def remove_variant(self, name: str) -> None:
        """Delete a variant file written by :meth:`add_variant`."""
        (self.data_dir / "voices" / "!v" / name).unlink(missing_ok=True)

    def phonemes(self, text: str, voice: str) -> str:
        """The phonemes eSpeak NG reads ``text`` as with ``voice`` (ValueError if the voice does not load)."""
        if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise ValueError(f"eSpeak NG cannot load the voice {voice!r}")
        self._voice = voice
        buffer = ctypes.create_string_buffer(text.encode())
        pointer = ctypes.c_void_p(ctypes.addressof(buffer))
        out = self.lib.espeak_TextToPhonemes(ctypes.byref(pointer), _CHARS_UTF8, 0)
        return (out or b"").decode(errors="replace").strip()

    def synth(self, ssml: str, voice: str, rate_wpm: int = 175) -> np.ndarray:
        """Speak an SSML string with a voice ('en-us' or 'en-us+variant'): int16 samples at ``sample_rate``."""
        if voice != self._voice:
            if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise ValueError(f"eSpeak NG has no voice {voice!r}")
            self._voice = voice
        self.lib.espeak_SetParameter(_RATE, int(rate_wpm), 0)
        text = ssml.encode()
        self._chunks = []
        status = self.lib.espeak_Synth(text, len(text) + 1, 0, 0, 0, _SSML | _CHARS_UTF8, None, None)
        if status != 0:
            raise EspeakError(f"eSpeak NG synthesis failed (status {status}) for {ssml!r}")
        return np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)


_ENGINE: ESpeak | None = None


def check_languages(languages) -> None:
    """Install each language's dictionary and refuse, naming them, the languages whose voice fails to load or
    that read a numeral as English digits (the same phonemes for "7" as English, without being English)."""
    tts = engine()
    english = tts.phonemes("7", "en")
    bad = {}
    for language in languages:
        try:
            install_language(language)
            seven = tts.phonemes("7", language)
        except ValueError as error:
            bad[language] = str(error)
            continue
        if not seven:
            bad[language] = "reads '7' as nothing (no pronunciation dictionary)"
        elif language != "en" and seven == english:
            bad[language] = f"reads '7' as English {english!r}"
    if bad:
        raise ValueError("these languages cannot speak numbers in their own words: "
                         + "; ".join(f"{k}: {v}" for k, v in bad.items()))


def engine() -> ESpeak:
    """Return the process-wide eSpeak NG engine, starting it on first use."""
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = ESpeak()
    return _ENGINE


def _ssml(word: str, prosody: dict) -> str:
    attrs = " ".join(f'{k}="{v:+.0f}%"' for k, v in prosody.items())
    return f"<speak><prosody {attrs}>{word}</prosody></speak>"


def speak_words(words, voice, prosody, rate_wpm, gaps):
    """Speak words one by one, trim their silences, join them with the given gaps (s): (wave, spans, rate).

    ``prosody`` holds SSML percent changes (pitch, range, rate, volume); ``gaps`` has len(words) + 1 entries;
    ``spans`` are the [start, end) samples of each word in ``wave`` (float32 at the eSpeak rate).
    """
    tts = engine()
    rate = tts.sample_rate
    pieces, spans, pos = [], [], 0
    for k, word in enumerate(words):
        raw = tts.synth(_ssml(word, prosody), voice, rate_wpm)
        voiced = np.flatnonzero(raw)
        if len(voiced) == 0:
            raise EspeakError(f"eSpeak NG produced silence for {word!r} with voice {voice!r}")
        gap = int(gaps[k] * rate)
        pieces += [np.zeros(gap, np.float32), raw[voiced[0]:voiced[-1] + 1].astype(np.float32) / 32768]
        spans.append((pos + gap, pos + gap + voiced[-1] + 1 - voiced[0]))
        pos = spans[-1][1]
    pieces.append(np.zeros(int(gaps[-1] * rate), np.float32))
    return np.concatenate(pieces), spans, rate


def _speak_job(job):
    """Speak one speaker's scripts: job = (variant text, accent voice, [dict(words, prosody, rate_wpm, gaps)])."""
    variant, accent_voice, scripts = job
    tts = engine()
    tts.lib.espeak_ng_SetRandSeed(ctypes.c_long(0))      # breath and roughness noise
    ctypes.CDLL(None).srand(0)
    name = tts.add_variant(variant)
    try:
        return [speak_words(s["words"], f"{accent_voice}+{name}", s["prosody"], s["rate_wpm"], s["gaps"])
                for s in scripts]
    finally:
        tts.remove_variant(name)


def _run_in_fresh_process(job):
    package_root = str(Path(__file__).resolve().parents[2])          # importable even when not pip-installed
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])))
    done = subprocess.run([sys.executable, "-m", __name__], input=pickle.dumps(job), capture_output=True, env=env)
    if done.returncode != 0:
        said = done.stderr.decode(errors="replace").strip().splitlines() or ["(nothing on stderr)"]
        raise EspeakError(f"eSpeak NG worker process failed (exit status {done.returncode}): {said[-1]}\n"
                          + "\n".join(said[-30:]))
    return pickle.loads(done.stdout)


def speak_in_fresh_processes(jobs, workers: int = 2):
    """Run each job (one speaker) in a fresh Python process, ``workers`` at a time: results in job order.

    eSpeak NG keeps state across calls in C globals that no API resets (pitch flutter phase, noise
    generators), so the same text comes out a few samples different depending on what was said before.
    A fresh process per speaker makes each speaker's audio depend on its job alone: reproducible sample
    for sample, whatever ran before and however many speakers there are.
    """
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(_run_in_fresh_process, jobs))


if __name__ == "__main__":
    sys.stdout.buffer.write(pickle.dumps(_speak_job(pickle.loads(sys.stdin.buffer.read()))))
