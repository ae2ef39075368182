"""The label vocabularies of the generated corpus: keywords, emotions, accents, noises."""
from __future__ import annotations

KEYWORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go",
            "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
"""Speech-Commands-like keyword vocabulary."""

EMOTIONS = {
    # SSML prosody of each speaking style, relative to the speaker's own voice: pitch level, pitch range,
    # speaking rate and volume (percent changes).  Measured on one voice: happy is higher and livelier,
    # sad is low, flat, slow and quiet, angry is loud and fast, fearful is high, narrow and fast.
    "neutral": dict(pitch=0, range=0, rate=0, volume=0),
    "happy": dict(pitch=35, range=80, rate=10, volume=15),
    "sad": dict(pitch=-22, range=-70, rate=-30, volume=-35),
    "angry": dict(pitch=12, range=40, rate=15, volume=80),
    "fearful": dict(pitch=45, range=-40, rate=30, volume=-10),
}
"""Emotion / speaking style -> prosody changes in percent."""

ACCENTS = {
    "en-us": "en-us", "en-gb": "en", "en-gb-scotland": "en-gb-scotland", "en-gb-x-rp": "en-gb-x-rp",
    "en-029": "en-029", "en-us-nyc": "en-us-nyc", "en-gb-x-gbclan": "en-gb-x-gbclan",
    "en-gb-x-gbcwmd": "en-gb-x-gbcwmd",
}
"""English accents of eSpeak NG: accent name -> eSpeak voice."""

NOISES = ("none", "white", "pink", "babble")
"""Background noise types; babble is a mix of other speakers of the same corpus."""

LANGUAGES = {
    # code: (name, family); the code is also the eSpeak NG voice. Chosen across families and scripts.
    "en": ("English", "Germanic"), "de": ("German", "Germanic"), "nl": ("Dutch", "Germanic"),
    "sv": ("Swedish", "Germanic"),
    "fr": ("French", "Romance"), "es": ("Spanish", "Romance"), "it": ("Italian", "Romance"),
    "pt": ("Portuguese", "Romance"),
    "ru": ("Russian", "Slavic"), "pl": ("Polish", "Slavic"),
    "fi": ("Finnish", "Uralic"), "hu": ("Hungarian", "Uralic"),
    "tr": ("Turkish", "Turkic"), "kk": ("Kazakh", "Turkic"),
    "hi": ("Hindi", "Indo-Aryan"), "bn": ("Bengali", "Indo-Aryan"),
    "ta": ("Tamil", "Dravidian"), "te": ("Telugu", "Dravidian"),
    "cmn": ("Mandarin", "Sino-Tibetan"), "yue": ("Cantonese", "Sino-Tibetan"),
    "ja": ("Japanese", "Japonic"), "ko": ("Korean", "Koreanic"),
    "ar": ("Arabic", "Semitic"), "sw": ("Swahili", "Bantu"), "tn": ("Setswana", "Bantu"),
}
"""Languages of the 'languages' preset: ISO 639 code (also the eSpeak NG voice) -> (name, family)."""

HELD_OUT_LANGUAGES = ("pt", "fi", "te", "yue", "ko", "sw")
"""The default test languages of the 'language' task family: one per family from six families, five of them
with a related training language (Portuguese: Spanish, Finnish: Hungarian, ...) and Korean with none."""

NUMBERS = tuple(str(n) for n in range(20))
"""Numerals '0'..'19': each language speaks them as its own number words, a vocabulary without translation."""
