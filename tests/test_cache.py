"""The corpus cache: keyed by the config, atomic, never reads a half-written folder."""
import os

import numpy as np
import pytest
import torch

from mtlkit.data import corpus, corpus_config, generate, load_corpus, make_corpus


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MTLKIT_CACHE", str(tmp_path))
    return tmp_path


SMALL = dict(speakers=3, utterances_per_speaker=2, held_out_speakers=1)


def _same_corpus(a, b) -> None:
    """Every field of every utterance, the speakers' factors and the info, exactly (waves sample for sample)."""
    assert [u.id for u in a] == [u.id for u in b]
    for u, v in zip(a, b):
        assert u.wave.dtype == v.wave.dtype == np.float32 and np.array_equal(u.wave, v.wave), u.id
        assert np.array_equal(u.vad, v.vad), u.id
        for name in ("path", "speaker", "emotion", "accent", "words", "word_spans", "noise", "rt60", "split"):
            assert getattr(u, name) == getattr(v, name), (u.id, name)
        assert u.snr_db == v.snr_db or (np.isnan(u.snr_db) and np.isnan(v.snr_db)), u.id
    assert a.speakers == b.speakers and a.info == b.info


def test_first_run_equals_every_reload(cache, monkeypatch, capsys):
    settings = dict(SMALL, utterances_per_speaker=4, noises=("none", "white", "pink"), reverb=0.5)
    first = make_corpus("hard", **settings)            # generated: the run a newcomer sees first
    folder = cache / "corpora" / corpus_config("hard", **settings).key()
    said = capsys.readouterr().out                     # a newcomer is told what is happening, and for how long
    n = SMALL["speakers"] * 4
    assert f"generating the 'hard' corpus once ({n} utterances, about" in said and str(folder) in said, said
    assert "generated in" in said
    assert folder.is_dir() and first.root == folder
    assert any(0 < u.rt60 for u in first) and any(not np.isnan(u.snr_db) for u in first)   # rounding exercised
    monkeypatch.setattr(generate, "build_corpus", lambda config: pytest.fail("the second call regenerated"))
    second = make_corpus("hard", **settings)
    assert second.root == folder and capsys.readouterr().out == ""      # a reload is silent
    _same_corpus(first, second)
    _same_corpus(first, load_corpus(folder))
    from mtlkit.features import FeatureDataset
    f1, f2 = FeatureDataset(first, ("vad",)), FeatureDataset(second, ("vad",))
    assert all(torch.equal(x, y) for x, y in zip(f1.feats, f2.feats))


def test_in_memory_corpus_equals_its_saved_copy(cache, tmp_path):
    built = make_corpus("easy", cache=False, **SMALL)
    _same_corpus(built, load_corpus(built.save(tmp_path / "copy")))


def test_key_changes_with_every_setting(monkeypatch):
    """Every field of CorpusConfig changed alone (a new field must be added here), the generator version and the
    eSpeak NG data version each give a new key; the same settings give the same key."""
    from dataclasses import fields, replace
    from types import SimpleNamespace

    base = corpus_config("easy", **SMALL)
    spoken = replace(base, languages=("de",), keywords=("0", "1"), accents=())
    changed = dict(speakers=4, utterances_per_speaker=3, words_per_utterance=(1, 2), emotions=("neutral", "sad"),
                   accents=("en-us",), keywords=("yes", "no"), noises=("none",), snr_db=(20.0, 31.0), reverb=0.1,
                   rt60=(0.2, 0.7), jitter=0.05, gap_s=(0.15, 0.5), held_out_speakers=2, preset="hard", seed=1)
    pairs = {name: (base, replace(base, **{name: value})) for name, value in changed.items()}
    pairs["languages"] = (spoken, replace(spoken, languages=("nl",)))
    assert set(pairs) == {f.name for f in fields(generate.CorpusConfig)}
    keys = [base.key(), spoken.key()]
    for name, (a, b) in pairs.items():
        assert a.key() != b.key(), name
        keys.append(b.key())
    assert len(set(keys)) == len(keys) and base.key() == corpus_config("easy", **SMALL).key()
    for name, value in (("GENERATOR_VERSION", generate.GENERATOR_VERSION + 1),
                        ("metadata", SimpleNamespace(version=lambda package: f"{package} 0.0-other"))):
        monkeypatch.setattr(generate, name, value)
        assert base.key() not in keys, name
        monkeypatch.undo()


def test_a_write_interrupted_midway_leaves_nothing_that_is_read(cache, monkeypatch):
    real_write = corpus._write_folder

    def crash_after_half(c, folder):
        real_write(c, folder)
        (folder / "metadata.csv").write_text("path,speaker\nwavs/half")   # the state a crash leaves
        raise KeyboardInterrupt

    monkeypatch.setattr(corpus, "_write_folder", crash_after_half)
    with pytest.raises(KeyboardInterrupt):
        make_corpus("easy", **SMALL)
    assert list((cache / "corpora").iterdir()) == []                      # no final folder, no partial one
    monkeypatch.setattr(corpus, "_write_folder", real_write)
    assert len(make_corpus("easy", **SMALL)) == 6


def test_a_partial_folder_left_by_a_killed_process_is_ignored(cache):
    key = corpus_config("easy", **SMALL).key()
    junk = cache / "corpora" / f".{key}.partial-abc"
    junk.mkdir(parents=True)
    (junk / "metadata.csv").write_text("path,speaker\nmissing.wav,x\n")
    c = make_corpus("easy", **SMALL)
    assert len(c) == 6 and c.root.name == key


def test_no_cache_builds_in_memory(cache):
    c = make_corpus("easy", cache=False, **SMALL)
    assert c.root is None and len(c) == 6
    assert not (cache / "corpora").exists() or os.listdir(cache / "corpora") == []
