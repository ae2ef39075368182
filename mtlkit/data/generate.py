"""Generate a labelled speech corpus offline with eSpeak NG: speakers, emotions, accents, keywords, noise, VAD."""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, fields
from importlib import metadata

import numpy as np

from ..config import HOP, SAMPLE_RATE, cache_dir, check_choice, pick
from . import noise as N
from .corpus import Corpus, Utterance, assign_splits, load_corpus, pcm16, vad_frames
from .espeak import check_languages, speak_in_fresh_processes
from .labels import ACCENTS, EMOTIONS, KEYWORDS, LANGUAGES, NOISES, NUMBERS
from .speakers import sample_speakers

GENERATOR_VERSION = 3
"""Bump when generation changes, so that cached corpora are rebuilt."""


@dataclass(frozen=True)
class CorpusConfig:
    """Everything that determines a generated corpus (with the seed, it is reproducible sample for sample)."""

    speakers: int = 16
    utterances_per_speaker: int = 60
    words_per_utterance: tuple[int, int] = (1, 1)
    emotions: tuple[str, ...] = tuple(EMOTIONS)
    accents: tuple[str, ...] = ("en-us", "en-gb", "en-gb-scotland", "en-029")
    keywords: tuple[str, ...] = KEYWORDS
    noises: tuple[str, ...] = ("none", "white", "pink")
    snr_db: tuple[float, float] = (20.0, 30.0)
    reverb: float = 0.0
    rt60: tuple[float, float] = (0.2, 0.6)
    jitter: float = 0.04
    gap_s: tuple[float, float] = (0.15, 0.45)
    held_out_speakers: int = 4
    languages: tuple[str, ...] = ()        # multilingual: each speaker speaks one; keywords are numerals
    preset: str = "easy"
    seed: int = 0

    def __post_init__(self):
        checks = [("emotion", self.emotions, EMOTIONS), ("noise", self.noises, NOISES)]
        if self.languages:                      # numbers in many languages: the accents are not used
            checks += [("language", self.languages, LANGUAGES), ("number", self.keywords, NUMBERS)]
        else:
            checks += [("accent", self.accents, ACCENTS), ("keyword", self.keywords, KEYWORDS)]
        for kind, values, valid in checks:
            if not values:
                raise ValueError(f"at least one {kind} is needed; valid {kind}s: {', '.join(valid)}")
            for value in values:
                check_choice(kind, value, tuple(valid))
        if self.speakers < 2 or self.utterances_per_speaker < 1:
            raise ValueError(f"need >= 2 speakers and >= 1 utterance each, got speakers={self.speakers}, "
                             f"utterances_per_speaker={self.utterances_per_speaker}")
        if not 0 <= self.held_out_speakers < self.speakers:
            raise ValueError(f"held_out_speakers={self.held_out_speakers} must be in [0, speakers={self.speakers})")
        lo, hi = self.words_per_utterance
        if not 1 <= lo <= hi:
            raise ValueError(f"words_per_utterance={self.words_per_utterance} must be (min, max) with 1 <= min <= max")

    def key(self) -> str:
        """A hash of the config, the generator version and the eSpeak NG data: the cache key."""
        settings = asdict(self)
        if not settings["languages"]:           # English corpora keep the keys they had before languages existed
            del settings["languages"]
        blob = json.dumps([settings, GENERATOR_VERSION, metadata.version("espeakng-loader")], sort_keys=True)
        return hashlib.sha1(blob.encode()).hexdigest()[:16]


PRESETS = {
    "easy": dict(),
    "hard": dict(speakers=24, words_per_utterance=(1, 2), accents=tuple(ACCENTS), noises=NOISES,
                 snr_db=(0.0, 15.0), reverb=0.5, jitter=0.08, gap_s=(0.08, 0.35)),
    "meta": dict(speakers=40, utterances_per_speaker=40, held_out_speakers=12, accents=tuple(ACCENTS),
                 noises=NOISES, snr_db=(10.0, 30.0),
                 fast=dict(speakers=20, utterances_per_speaker=40, held_out_speakers=8)),
    "languages": dict(languages=tuple(LANGUAGES), keywords=NUMBERS, accents=(), speakers=4 * len(LANGUAGES),
                      utterances_per_speaker=2 * len(NUMBERS), held_out_speakers=len(LANGUAGES),
                      fast=dict(speakers=2 * len(LANGUAGES), utterances_per_speaker=40,
                                held_out_speakers=len(LANGUAGES) // 2, keywords=NUMBERS[:10])),
}
"""Named corpus settings: 'easy' (one keyword per utterance as in Speech Commands, mostly clean, 4 accents),
'hard' (a keyword then maybe a distractor word, noisy, reverberant, all 8 accents) and 'meta' (many speakers,
a third of them held out, all accents and noise types at 10-30 dB: few-shot tasks for meta-learning) and
'languages' (25 languages of 12 families, 4 speakers each saying the numbers 0-19 twice in their language's own
words; fast mode: 2 speakers each saying 0-9 four times).
``fast`` holds a preset's sizes in fast mode."""


def corpus_config(preset: str = "easy", **overrides) -> CorpusConfig:
    """The config of a preset, shrunk in fast mode, with any field overridden (e.g. speakers=8, seed=1).

    Unless given, a quarter of the speakers (at least one) are held out for meta-learning.
    """
    check_choice("preset", preset, tuple(PRESETS))
    names = {f.name for f in fields(CorpusConfig)}
    for name in overrides:
        check_choice("corpus setting", name, tuple(sorted(names)))
    settings = dict(PRESETS[preset], preset=preset)
    fast = settings.pop("fast", {})
    settings["speakers"] = pick(settings.get("speakers", 16), fast.get("speakers", 12))
    settings["utterances_per_speaker"] = pick(settings.get("utterances_per_speaker", 60),
                                              fast.get("utterances_per_speaker", 30))
    if "held_out_speakers" in settings:
        settings["held_out_speakers"] = pick(settings["held_out_speakers"], fast.get("held_out_speakers"))
    for name, value in fast.items():            # any other field a preset shrinks in fast mode
        if name not in ("speakers", "utterances_per_speaker", "held_out_speakers"):
            settings[name] = pick(settings[name], value)
    settings.update({k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()})
    settings.setdefault("held_out_speakers", max(1, settings["speakers"] // 4))   # a quarter of the speakers
    return CorpusConfig(**settings)


def make_corpus(preset: str = "easy", cache: bool = True, **overrides) -> Corpus:
    """Generate (or load from the cache) the corpus of a preset; see :func:`corpus_config` for the overrides.

    Introduced in notebooks/00_corpus_tour.ipynb.
    """
    config = corpus_config(preset, **overrides)
    if not cache:
        return build_corpus(config)
    folder = cache_dir() / "corpora" / config.key()
    if folder.is_dir():
        return load_corpus(folder)
    n = config.speakers * config.utterances_per_speaker
    print(f"mtlkit: generating the {config.preset!r} corpus once ({n} utterances, about {1 + n / 250:.0f} s on 2 "
          f"CPU cores); every later make_corpus({config.preset!r}) reads it from {folder}", flush=True)
    start = time.perf_counter()
    corpus = build_corpus(config)
    print(f"mtlkit: generated in {time.perf_counter() - start:.1f} s", flush=True)
    try:
        corpus.save(folder)
    except FileExistsError:                       # built meanwhile by another process: theirs is complete
        return load_corpus(folder)
    return corpus


class _Resampler:
    def __init__(self, rate: int):
        import torchaudio.transforms as T

        self.ratio = SAMPLE_RATE / rate
        self.transform = T.Resample(rate, SAMPLE_RATE) if rate != SAMPLE_RATE else None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        import torch

        if self.transform is None:
            return x
        with torch.no_grad():
            return self.transform(torch.from_numpy(x)).numpy()


def build_corpus(config: CorpusConfig) -> Corpus:
    """Generate the corpus a config describes, deterministically (no cache)."""
    rng = np.random.default_rng(config.seed)
    if config.languages:
        check_languages(config.languages)
    speakers = sample_speakers(config.speakers, config.accents, rng, languages=config.languages)
    jobs, records = [], []
    for spk in speakers:
        emo_offset, kw_order = rng.integers(len(config.emotions)), rng.permutation(len(config.keywords))
        scripts = []
        for j in range(config.utterances_per_speaker):
            shift = j // len(config.keywords) if config.languages else 0     # each repetition of a number
            emotion = config.emotions[(j + emo_offset + shift) % len(config.emotions)]   # in another style
            n_words = int(rng.integers(config.words_per_utterance[0], config.words_per_utterance[1] + 1))
            first = config.keywords[kw_order[j % len(kw_order)]]
            words = [first] + [config.keywords[i] for i in rng.integers(0, len(config.keywords), n_words - 1)]
            prosody = dict(EMOTIONS[emotion])
            prosody["pitch"] += 100 * config.jitter * rng.standard_normal()
            prosody["rate"] += 100 * config.jitter * rng.standard_normal()
            gaps = [rng.uniform(0.1, 0.3)] + list(rng.uniform(*config.gap_s, n_words - 1)) + [rng.uniform(0.1, 0.3)]
            scripts.append(dict(words=words, prosody=prosody, rate_wpm=spk.rate_wpm, gaps=gaps))
            records.append(dict(id=f"{spk.id}_{j:04d}", speaker=spk.id, emotion=emotion, accent=spk.accent,
                                language=spk.language,
                                words=tuple(words), gain_db=rng.uniform(-2, 2)))
        jobs.append((spk.variant(), spk.voice(), scripts))
    spoken = [utt for speaker in speak_in_fresh_processes(jobs) for utt in speaker]
    resample = _Resampler(spoken[0][2])
    clean = []
    for rec, (wave, spans, _) in zip(records, spoken):
        clean.append((resample(wave) * 10 ** (rec["gain_db"] / 20)).astype(np.float32))
        rec["spans"] = [(round(a * resample.ratio), round(b * resample.ratio)) for a, b in spans]
    by_speaker = {}
    for rec, wave in zip(records, clean):
        by_speaker.setdefault(rec["speaker"], []).append(wave)
    utterances = [_add_conditions(rec, wave, by_speaker, config, rng) for rec, wave in zip(records, clean)]
    utterances = assign_splits(utterances, held_out=config.held_out_speakers, seed=config.seed)
    info = json.loads(json.dumps(dict(layout=f"mtlkit generated corpus (preset {config.preset})",
                                      config=asdict(config), generator_version=GENERATOR_VERSION, key=config.key())))
    return Corpus(utterances, {s.id: s.as_row() for s in speakers}, info)


def _add_conditions(rec, wave, by_speaker, config, rng) -> Utterance:
    """Reverberate and add noise to one clean utterance; label its VAD frames from the dry word spans."""
    speech = np.zeros(len(wave), bool)
    for a, b in rec["spans"]:
        speech[a:b] = True
    rt60 = round(float(rng.uniform(*config.rt60)), 3) if rng.random() < config.reverb else 0.0   # readable
    if rt60:
        wave = N.reverberate(wave, rt60, rng)
    kind = config.noises[int(rng.integers(len(config.noises)))]
    snr = round(float(rng.uniform(*config.snr_db)), 2) if kind != "none" else float("nan")       # readable
    if kind == "white":
        wave = N.mix_at_snr(wave, N.white_noise(len(wave), rng), snr, speech)
    elif kind == "pink":
        wave = N.mix_at_snr(wave, N.pink_noise(len(wave), rng), snr, speech)
    elif kind == "babble":
        others = [w for spk, waves in by_speaker.items() if spk != rec["speaker"] for w in waves]
        wave = N.mix_at_snr(wave, N.babble_noise(len(wave), others, rng), snr, speech)
    wave = pcm16(np.clip(wave, -1.0, 1.0))       # what a reload from the cache returns, sample for sample
    sr = SAMPLE_RATE
    return Utterance(id=rec["id"], path=f"wavs/{rec['id']}.wav", speaker=rec["speaker"], wave=wave,
                     emotion=rec["emotion"], accent=rec["accent"], language=rec["language"], words=rec["words"],
                     word_spans=tuple((round(a / sr, 5), round(b / sr, 5)) for a, b in rec["spans"]),
                     noise=kind, snr_db=snr, rt60=rt60, vad=vad_frames(rec["spans"], len(wave), HOP))
