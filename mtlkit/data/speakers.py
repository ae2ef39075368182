"""Synthetic speakers: the voice factors of each one and the eSpeak NG variant that realises them."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..config import check_choice
from .labels import ACCENTS, LANGUAGES


@dataclass(frozen=True)
class Speaker:
    """The voice factors of one speaker (pitch in Hz, formant scale in percent, rate in words per minute)."""

    id: str
    gender: str
    accent: str
    pitch_low: int
    pitch_high: int
    formant_scale: int
    breath: int
    roughness: int
    flutter: int
    rate_wpm: int
    language: str = ""           # set in multilingual corpora; then the voice is the language's

    def variant(self) -> str:
        """Return the eSpeak NG voice-variant text of this speaker."""
        lines = [f"gender {self.gender}", f"pitch {self.pitch_low} {self.pitch_high}", "formant 0 100 100 100"]
        for k in range(1, 6):   # higher formants scale a little less, as a longer or shorter vocal tract does
            scale = 100 + (self.formant_scale - 100) * (1.0 - 0.1 * (k - 1))
            lines.append(f"formant {k} {round(scale)} 100 100")
        b = self.breath
        lines += [f"breath {b} {b} {b // 2} {b // 3} 0 0 0 0", f"roughness {self.roughness}", f"flutter {self.flutter}"]
        return "\n".join(lines) + "\n"

    def voice(self) -> str:
        """The eSpeak NG voice this speaker's variant applies to: its language's, else its English accent's."""
        return self.language or ACCENTS[self.accent]

    def as_row(self) -> dict:
        """Return the factors as a flat dict (one row of speakers.csv)."""
        return asdict(self)


def balanced_cells(n: int, accents, rng: np.random.Generator) -> list[tuple[str, str]]:
    """(accent, gender) for ``n`` speakers, drawn so that accent and gender are independent and balanced.

    Speakers come in blocks of 2 x len(accents): each block has every accent once per gender, in a random order.
    Within any block, accents and genders are spread so that any number of speakers counts each accent, each
    gender and each (accent, gender) cell within one of the others.
    """
    cells = []
    while len(cells) < n:
        order, first = rng.permutation(len(accents)), int(rng.integers(2))
        shift = 1 - len(accents) % 2           # with an even count, position j + len(accents) flips the gender
        for j in range(2 * len(accents)):
            gender = ("male", "female")[(first + j + shift * (j // len(accents))) % 2]
            cells.append((accents[order[j % len(accents)]], gender))
    return cells[:n]


def sample_speakers(n: int, accents, rng: np.random.Generator, prefix: str = "spk", languages=()) -> list[Speaker]:
    """Draw ``n`` distinct speakers: accent and gender balanced and independent (:func:`balanced_cells`), the
    pitch range and formant scale drawn for the gender, breath, roughness, flutter and rate independent of both.

    With ``languages`` each speaker speaks one of them instead of an English accent (balanced in the same way).
    """
    for accent in accents:
        check_choice("accent", accent, tuple(ACCENTS))
    for language in languages:
        check_choice("language", language, tuple(LANGUAGES))
    speakers = []
    for i, (cell, gender) in enumerate(balanced_cells(n, list(languages or accents), rng)):
        accent, language = ("", cell) if languages else (cell, "")
        female = gender == "female"
        low = int(rng.uniform(150, 215) if female else rng.uniform(72, 125))
        span = int(rng.uniform(0.3, 0.9) * low)
        speakers.append(Speaker(
            id=f"{prefix}{i:03d}", gender=gender, accent=accent, pitch_low=low, pitch_high=low + span,
            formant_scale=int(rng.uniform(104, 122) if female else rng.uniform(88, 104)),
            breath=int(rng.choice([0, 0, 10, 20, 35])), roughness=int(rng.integers(0, 4)),
            flutter=int(rng.integers(0, 25)), rate_wpm=int(rng.uniform(140, 200)), language=language))
    return speakers
