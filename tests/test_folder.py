"""The folder format: round trip, bring-your-own data, and clear errors on bad folders."""
import csv

import numpy as np
import pytest
import soundfile as sf

from mtlkit.data import load_corpus


def test_save_and_load_round_trip(clean_corpus, tmp_path):
    folder = clean_corpus.save(tmp_path / "corpus")
    back = load_corpus(folder)
    assert len(back) == len(clean_corpus) and back.tasks() == clean_corpus.tasks()
    for u, v in zip(clean_corpus, back):
        assert (u.id, u.speaker, u.emotion, u.accent, u.words, u.noise, u.split) == \
               (v.id, v.speaker, v.emotion, v.accent, v.words, v.noise, v.split)
        assert u.word_spans == v.word_spans
        assert np.abs(u.wave - v.wave).max() <= 1 / 32768 + 1e-7     # 16-bit PCM
        assert np.array_equal(u.vad, v.vad)
    assert back.speakers == clean_corpus.speakers                           # factors keep their types
    assert back.info["config"]["seed"] == 3


def test_values_at_band_edges_read_back_exactly(hard_corpus, tmp_path):
    """snr_db, rt60 and word spans are written exactly: no utterance crosses a noise band or loses its reverb."""
    from dataclasses import replace

    from mtlkit.data.corpus import Corpus
    from mtlkit.meta.episodes import _condition

    edges = [(9.996, 0.0004, 0.1234567891), (19.99951, 0.25, 1e-6), (-0.004, 0.6, 0.5000049)]
    noisy = [u for u in hard_corpus if u.noise not in ("", "none")][:len(edges)]
    utts = [replace(u, snr_db=snr, rt60=rt60, word_spans=((start, start + 0.2),) + u.word_spans[1:])
            for u, (snr, rt60, start) in zip(noisy, edges)]
    back = load_corpus(Corpus(utts, hard_corpus.speakers, hard_corpus.info).save(tmp_path / "edges"))
    for u, v in zip(utts, back):
        assert (u.snr_db, u.rt60, u.word_spans) == (v.snr_db, v.rt60, v.word_spans), u.id
        assert _condition(u) == _condition(v) and (u.rt60 > 0) == (v.rt60 > 0)
    assert [_condition(u) for u in back] == [f"{utts[0].noise} -10 dB", f"{utts[1].noise} 10-20 dB",
                                             f"{utts[2].noise} -10 dB"]                  # below 10 dB: "-10"


def test_saving_over_a_non_empty_folder_refuses_and_keeps_it(clean_corpus, tmp_path):
    (tmp_path / "mine.txt").write_text("precious")
    with pytest.raises(FileExistsError, match="not empty"):
        clean_corpus.save(tmp_path)
    assert (tmp_path / "mine.txt").read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.txt"]


def _user_folder(tmp_path, rate=8000, channels=2, rows=None):
    """A bring-your-own-data folder: stereo 8 kHz wavs, only the required columns plus emotion."""
    (tmp_path / "audio").mkdir()
    rng = np.random.default_rng(0)
    rows = rows or [dict(path=f"audio/{s}_{k}.wav", speaker=s, emotion=e)
                    for s in ("ann", "bob", "cy", "dee", "eve") for k, e in enumerate(("happy", "sad", "happy"))]
    for row in rows:
        sf.write(tmp_path / row["path"], 0.1 * rng.standard_normal((rate // 2, channels)), rate)
    with open(tmp_path / "metadata.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return tmp_path


def _amplitude(wave, hz):
    """The amplitude of the sine at ``hz`` in 16 kHz samples 2000-5999 (0.25 s: a whole number of periods)."""
    n = np.arange(2000, 6000)
    return 2 * abs(np.mean(wave[n] * np.exp(-2j * np.pi * hz * n / 16000)))


def _two_tones(path, rate, hz):
    """0.5 s stereo: a 0.4 sine at hz[0] in channel 0 only, one at hz[1] in channel 1 only."""
    t = np.arange(rate // 2) / rate
    sf.write(path, 0.4 * np.sin(2 * np.pi * np.outer(t, hz)), rate)


def test_user_folder_is_resampled_mixed_down_and_split(tmp_path):
    """Stereo becomes the mean of the channels (0.2 of each tone); resampling keeps the tones and adds no images
    (8 kHz up: a repeated-sample resampler leaves 0.04 at 8000 - 1000 Hz) and no aliases (44.1 kHz down: 12 kHz
    must not fold onto 16000 - 12000 = 4000 Hz; plain decimation leaves 0.18 there)."""
    folder = _user_folder(tmp_path)
    _two_tones(folder / "audio" / "ann_0.wav", 8000, (300, 1000))
    _two_tones(folder / "audio" / "bob_0.wav", 44100, (1000, 12000))
    corpus = load_corpus(folder)
    assert len(corpus) == 15 and corpus.tasks() == ["speaker", "emotion"]
    assert all(u.wave.ndim == 1 and len(u.wave) == 8000 for u in corpus)          # 0.5 s at 16 kHz
    up, down = (next(u.wave for u in corpus if u.path == f"audio/{name}.wav") for name in ("ann_0", "bob_0"))
    assert abs(_amplitude(up, 300) - 0.2) < 0.005 and abs(_amplitude(up, 1000) - 0.2) < 0.005
    assert _amplitude(up, 7000) < 0.005 and _amplitude(up, 7700) < 0.005
    assert abs(_amplitude(down, 1000) - 0.2) < 0.005 and _amplitude(down, 4000) < 0.005
    assert corpus.counts("split")["heldout"] == 3                                 # one of five speakers
    assert corpus.classes("emotion") == ["happy", "sad"]
    with pytest.raises(ValueError, match="no vad labels.*speaker, emotion"):
        corpus.require("vad")
    with pytest.raises(ValueError, match="no keyword labels"):
        corpus.labels("keyword")
    with pytest.raises(ValueError, match="unknown task 'pitch'.*vad, speaker"):
        corpus.require("pitch")


def test_missing_wav_is_named(tmp_path):
    folder = _user_folder(tmp_path)
    (folder / "audio" / "bob_1.wav").unlink()
    with pytest.raises(FileNotFoundError, match="bob_1.wav"):
        load_corpus(folder)


def test_corrupted_wav_is_named(tmp_path):
    folder = _user_folder(tmp_path)
    (folder / "audio" / "cy_2.wav").write_bytes(b"RIFF\x00\x00garbage" * 10)
    with pytest.raises(ValueError, match="cy_2.wav"):
        load_corpus(folder)


def test_missing_columns_are_listed(tmp_path):
    folder = _user_folder(tmp_path, rows=[dict(path="audio/a.wav", emotion="sad")])
    with pytest.raises(ValueError, match="lacks column\\(s\\) speaker; it has: path, emotion"):
        load_corpus(folder)


def test_missing_folder_and_metadata_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_corpus(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="metadata.csv not found"):
        load_corpus(tmp_path)


def test_vad_labels_of_the_wrong_length_are_named(clean_corpus, tmp_path):
    folder = clean_corpus.save(tmp_path / "c")
    with np.load(folder / "vad.npz") as archive:
        vad = {k: archive[k] for k in archive.files}
    key = sorted(vad)[0]
    vad[key] = vad[key][:-3]
    np.savez(folder / "vad.npz", **vad)
    with pytest.raises(ValueError, match=f"{key} has .* frames"):
        load_corpus(folder)


def test_bad_word_spans_name_the_line(tmp_path):
    folder = _user_folder(tmp_path, rows=[dict(path="audio/a.wav", speaker="x", words="yes", word_spans="0.1 to 0.4"),
                                          dict(path="audio/b.wav", speaker="y", words="no", word_spans="")])
    with pytest.raises(ValueError, match="line 2: word_spans '0.1 to 0.4'"):
        load_corpus(folder)
