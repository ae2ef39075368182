"""The corpus cache: keyed by the config, atomic, never reads a half-written folder."""
import os

import numpy as np
import pytest

from mtlkit.data import corpus, corpus_config, make_corpus


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MTLKIT_CACHE", str(tmp_path))
    return tmp_path


SMALL = dict(speakers=3, utterances_per_speaker=2, held_out_speakers=1)


def test_second_call_reads_the_cache_and_gets_the_same_corpus(cache):
    first = make_corpus("easy", **SMALL)
    folder = cache / "corpora" / corpus_config("easy", **SMALL).key()
    assert folder.is_dir() and first.root == folder
    second = make_corpus("easy", **SMALL)
    assert second.root == folder
    assert [u.id for u in first] == [u.id for u in second]
    assert all(np.abs(u.wave - v.wave).max() <= 1 / 32768 + 1e-7 for u, v in zip(first, second))


def test_key_changes_with_every_setting():
    base = corpus_config("easy", **SMALL)
    keys = {base.key(), corpus_config("easy", **SMALL, seed=1).key(), corpus_config("hard", **SMALL).key(),
            corpus_config("easy", **dict(SMALL, speakers=4)).key()}
    assert len(keys) == 4 and base.key() == corpus_config("easy", **SMALL).key()


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
