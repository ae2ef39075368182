import os
import tempfile

import pytest

pytest_plugins = ["pytester"]              # tests of the conftest's own fixtures run pytest in-process

# Tests never touch the user's cache: make test sets MTLKIT_CACHE, a bare pytest run gets a temporary one.
os.environ.setdefault("MTLKIT_CACHE", tempfile.mkdtemp(prefix="mtlkit-test-cache-"))


@pytest.fixture(scope="session")
def learn2learn():
    """learn2learn, imported quietly; without it a test skips, or fails when MTLKIT_REQUIRE_L2L is set (not "" or 0)."""
    from mtlkit.meta import import_learn2learn

    try:
        return import_learn2learn()
    except ImportError as exc:
        message = f"learn2learn is not importable ({exc}); install it with `python -m mtlkit.install_learn2learn`"
        if os.environ.get("MTLKIT_REQUIRE_L2L", "") not in ("", "0"):
            pytest.fail(f"MTLKIT_REQUIRE_L2L is set but {message}")
        pytest.skip(message)


@pytest.fixture(scope="session")
def clean_corpus():
    """A small corpus without noise or reverberation: silence between words is exact zeros."""
    from mtlkit.data import build_corpus, corpus_config

    return build_corpus(corpus_config("easy", speakers=8, utterances_per_speaker=20, noises=("none",), seed=3))


@pytest.fixture(scope="session")
def hard_corpus():
    """A small corpus of the hard preset (noise, reverberation, babble, all accents)."""
    from mtlkit.data import build_corpus, corpus_config

    return build_corpus(corpus_config("hard", speakers=8, utterances_per_speaker=6, seed=1))


@pytest.fixture(scope="session")
def meta_corpus():
    """A small corpus of the meta preset: 10 speakers x 20 utterances, 5 of them held out."""
    from mtlkit.data import build_corpus, corpus_config

    return build_corpus(corpus_config("meta", speakers=10, utterances_per_speaker=20, held_out_speakers=5, seed=2))


@pytest.fixture(scope="session")
def language_corpus():
    """A small multilingual corpus: 6 languages of 4 families x 2 speakers x the numbers 0-5 twice."""
    from mtlkit.data import build_corpus, corpus_config
    from mtlkit.data.labels import NUMBERS

    return build_corpus(corpus_config("languages", languages=("de", "nl", "es", "it", "ja", "sw"), speakers=12,
                                      utterances_per_speaker=12, keywords=NUMBERS[:6], held_out_speakers=2, seed=4))
