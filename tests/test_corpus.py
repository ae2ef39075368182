"""The generated corpus: determinism, exact word spans and VAD labels, measurable speakers and emotions."""
import numpy as np
import pytest

from mtlkit.config import HOP
from mtlkit.data import ACCENTS, EMOTIONS, KEYWORDS, build_corpus, corpus_config, vad_frames
from mtlkit.data import noise as N
from mtlkit.features import pitch_track


def test_same_seed_same_corpus_sample_for_sample():
    config = corpus_config("hard", speakers=4, utterances_per_speaker=3, seed=7)
    a, b = build_corpus(config), build_corpus(config)
    assert [u.id for u in a] == [u.id for u in b]
    for u, v in zip(a, b):
        assert np.array_equal(u.wave, v.wave) and np.array_equal(u.vad, v.vad)
        assert (u.words, u.emotion, u.noise, u.split) == (v.words, v.emotion, v.noise, v.split)
    c = build_corpus(corpus_config("hard", speakers=4, utterances_per_speaker=3, seed=8))
    assert any(len(u.wave) != len(v.wave) or not np.array_equal(u.wave, v.wave) for u, v in zip(a, c))


def test_saying_a_word_again_changes_its_timing_and_pitch_by_the_jitter():
    """Each speaker says 'seven' 8 times in one style. Word durations ignore the gain and the gaps; without jitter
    they still wobble a little (eSpeak's own noise), with jitter=0.1 (rate and pitch +-10 %) far more."""
    def spread(jitter):
        corpus = build_corpus(corpus_config("easy", keywords=("seven",), emotions=("neutral",), noises=("none",),
                                            speakers=4, utterances_per_speaker=8, held_out_speakers=0,
                                            jitter=jitter, seed=0))
        timing, pitch = {}, {}
        for spk in corpus.speaker_ids():
            mine = [u for u in corpus if u.speaker == spk]
            timing[spk] = np.std(np.log([b - a for u in mine for a, b in u.word_spans]))
            f0 = [pitch_track(u.wave)[u.vad == 1] for u in mine]
            pitch[spk] = np.std(np.log([np.median(p[p > 0]) for p in f0]))
        return timing, pitch, corpus.speakers

    timing0, pitch0, speakers = spread(0.0)
    timing, pitch, _ = spread(0.1)
    for spk in speakers:
        assert timing[spk] > max(3 * timing0[spk], 0.03), (spk, timing[spk], timing0[spk])   # measured 0.09-0.13
    for spk in (s for s in speakers if speakers[s]["gender"] == "female"):     # a steadier pitch track than male
        assert pitch[spk] > 2 * pitch0[spk], (spk, pitch[spk], pitch0[spk])                # 0.04-0.05 vs 0.01


def test_word_spans_are_exact_in_clean_audio(clean_corpus):
    for u in clean_corpus:
        inside = np.zeros(len(u.wave), bool)
        for a, b in u.word_spans:
            s, e = round(a * 16000), round(b * 16000)
            inside[s:e] = True
            # the span starts and ends on speech: energy in its first and last 10 ms
            assert np.abs(u.wave[s:s + 160]).max() > 1e-3 and np.abs(u.wave[e - 160:e]).max() > 1e-3
        # more than 1 ms (the resampling filter's reach) away from every span there is silence
        near = np.convolve(inside, np.ones(33), mode="same") > 0
        assert np.abs(u.wave[~near]).max() < 1e-3 * np.abs(u.wave).max()
        assert len(u.word_spans) == len(u.words)
        assert all(b2 > a2 >= b1 for (_, b1), (a2, b2) in zip(u.word_spans, u.word_spans[1:]))


def test_vad_labels_match_a_hand_count_of_span_samples(clean_corpus):
    for u in list(clean_corpus)[:20]:
        n = len(u.wave)
        spans = [(round(a * 16000), round(b * 16000)) for a, b in u.word_spans]
        expected = []
        for j in range(-(-n // HOP)):
            lo, hi = j * HOP, min((j + 1) * HOP, n)
            speech = sum(max(0, min(hi, e) - max(lo, s)) for s, e in spans)
            expected.append(1 if 2 * speech >= HOP else 0)
        assert u.vad.tolist() == expected


def test_vad_frames_rule_by_hand():
    # frame 0: 80 speech samples of 160 -> speech; frame 1: 79 -> not; frame 2: none; last partial frame
    labels = vad_frames([(80, 160), (320 + 81, 480), (500, 520)], num_samples=520, hop=160)
    assert labels.tolist() == [1, 0, 0, 0]
    assert vad_frames([(0, 100)], 100).tolist() == [1]


def test_labels_are_balanced_and_in_range(clean_corpus):
    counts = clean_corpus.counts("emotion")
    assert set(counts) == set(EMOTIONS) and max(counts.values()) - min(counts.values()) <= 8
    assert all(w in KEYWORDS for u in clean_corpus for w in u.words)
    assert all(len(u.words) == 1 for u in clean_corpus)                    # easy: one keyword, as Speech Commands
    assert clean_corpus.tasks() == ["vad", "speaker", "emotion", "keyword", "accent"]


def test_speakers_differ_in_measured_pitch_as_their_factors_say(clean_corpus):
    measured, target = [], []
    for spk in clean_corpus.speaker_ids():
        f0 = np.concatenate([pitch_track(u.wave)[(u.vad == 1)] for u in clean_corpus
                             if u.speaker == spk and u.emotion == "neutral"])
        measured.append(np.median(f0[f0 > 0]))
        target.append(clean_corpus.speakers[spk]["pitch_low"])
    ranks = lambda x: np.argsort(np.argsort(x))
    spearman = np.corrcoef(ranks(measured), ranks(target))[0, 1]
    assert spearman > 0.8, (measured, target)


def _speaker_relative(corpus, stat):
    """stat(utterance) per emotion, divided by the same speaker's neutral mean."""
    out = {e: [] for e in EMOTIONS}
    for spk in corpus.speaker_ids():
        mine = [u for u in corpus if u.speaker == spk]
        base = np.nanmean([stat(u) for u in mine if u.emotion == "neutral"])
        for e in EMOTIONS:
            out[e].append(np.nanmean([stat(u) for u in mine if u.emotion == e]) / base)
    return {e: np.array(v) for e, v in out.items()}


def test_emotions_change_pitch_duration_and_loudness_as_designed(clean_corpus):
    def f0(u):
        p = pitch_track(u.wave)[u.vad == 1]
        return np.median(p[p > 0]) if (p > 0).sum() >= 3 else np.nan

    def word_duration(u):
        return np.mean([b - a for a, b in u.word_spans])

    def loudness(u):
        return np.sqrt(np.mean(u.wave[np.repeat(u.vad, HOP)[:len(u.wave)] == 1] ** 2))

    pitch = _speaker_relative(clean_corpus, f0)
    assert (pitch["happy"] > 1.1).mean() >= 0.8 and (pitch["fearful"] > 1.1).mean() >= 0.8
    assert (pitch["sad"] < 0.95).mean() >= 0.8
    duration = _speaker_relative(clean_corpus, word_duration)
    assert (duration["sad"] > 1.15).mean() >= 0.8 and (duration["fearful"] < 0.95).mean() >= 0.8
    level = _speaker_relative(clean_corpus, loudness)
    assert (level["angry"] > 1.3).mean() >= 0.8 and (level["sad"] < 0.85).mean() >= 0.8


@pytest.mark.parametrize("n_accents", [1, 3, 4, 8])
def test_accent_and_gender_are_balanced_and_independent(n_accents):
    from collections import Counter

    from mtlkit.data import ACCENTS, sample_speakers

    accents = list(ACCENTS)[:n_accents]
    for n in range(2, 41):
        speakers = sample_speakers(n, accents, np.random.default_rng(n))
        cells = Counter((s.accent, s.gender) for s in speakers)
        counts = [cells[(a, g)] for a in accents for g in ("male", "female")]
        assert max(counts) - min(counts) <= 1, (n, cells)       # every accent by both genders, evenly
    rows = sample_speakers(40, list(ACCENTS), np.random.default_rng(0))     # the meta preset's size
    for accent in ACCENTS:                                     # pitch follows gender only, not the accent
        mine = [s for s in rows if s.accent == accent]
        assert {s.gender for s in mine} == {"male", "female"}
    male = [s.pitch_low for s in rows if s.gender == "male"]
    assert max(male) <= 125 and min(s.pitch_low for s in rows if s.gender == "female") >= 150


def test_every_pair_of_accents_sounds_different():
    """The same speaker and words under each accent, each in a fresh process as the generator runs them (so one
    voice gives the same samples twice): every pair of accents differs by at least 5 ms in some word's length."""
    from itertools import combinations

    from mtlkit.data.espeak import speak_in_fresh_processes

    words = ["seven", "zero", "right", "stop", "four"]
    script = dict(words=words, prosody=EMOTIONS["neutral"], rate_wpm=175, gaps=[0.1] * (len(words) + 1))
    spoken = speak_in_fresh_processes([("gender male\npitch 100 150\n", v, [script]) for v in ACCENTS.values()])
    lengths = {a: np.array([b - s for s, b in spans]) / rate * 1000 for a, ((_, spans, rate),) in zip(ACCENTS, spoken)}
    for a, b in combinations(ACCENTS, 2):
        assert np.abs(lengths[a] - lengths[b]).max() > 5, (a, b, lengths[a], lengths[b])    # measured >= 13 ms


def test_hard_preset_has_noise_reverb_and_every_accent(hard_corpus):
    assert set(hard_corpus.counts("noise")) <= {"none", "white", "pink", "babble"}
    assert len(hard_corpus.counts("noise")) >= 3
    assert any(u.rt60 > 0 for u in hard_corpus) and any(u.rt60 == 0 for u in hard_corpus)
    assert set(hard_corpus.counts("accent")) == set(ACCENTS)
    noisy = [u for u in hard_corpus if u.noise != "none"]
    assert all(0 <= u.snr_db <= 15 for u in noisy)


def test_hard_preset_mixes_noise_at_the_recorded_snr_and_reverberates(hard_corpus):
    """The same config without noise or reverberation gives the dry speech of every utterance (the conditions are
    drawn after the speech). Noise = noisy - dry; speech power is measured over the word spans, as mix_at_snr's
    speech_mask says; a reverberated utterance rings on after its last word, where the dry one is silent."""
    dry = build_corpus(corpus_config("hard", speakers=8, utterances_per_speaker=6, seed=1, noises=("none",),
                                     reverb=0.0))
    assert [u.id for u in dry] == [u.id for u in hard_corpus]
    measured = set()
    for u, d in zip(hard_corpus, dry):
        speech = np.zeros(len(d.wave), bool)
        for a, b in d.word_spans:
            speech[round(a * 16000):round(b * 16000)] = True
        if u.rt60 == 0 and u.noise == "none":
            assert np.array_equal(u.wave, d.wave), u.id
        elif u.rt60 == 0 and np.abs(u.wave).max() < 0.999:        # loud utterances clip at 1.0: not a clean sum
            added = u.wave.astype(np.float64) - d.wave
            snr = 10 * np.log10(np.mean(d.wave[speech].astype(np.float64) ** 2) / np.mean(added ** 2))
            assert abs(snr - u.snr_db) < 0.01, (u.id, u.noise, snr, u.snr_db)
            measured.add(u.noise)
        elif u.rt60 > 0 and u.noise == "none":
            end = round(d.word_spans[-1][1] * 16000)
            after = slice(end + 160, end + 800)                       # 10 to 50 ms after the last word
            assert np.abs(d.wave[after]).max() == 0
            ringing = np.sqrt(np.mean(u.wave[after] ** 2) / np.mean(u.wave[speech] ** 2))
            assert ringing > 0.01, (u.id, u.rt60, ringing)           # measured 0.04-0.30
            measured.add("reverb")
    assert measured == {"white", "pink", "babble", "reverb"}, measured


def test_splits_hold_out_whole_speakers(clean_corpus):
    held = {u.speaker for u in clean_corpus if u.split == "heldout"}
    trained = {u.speaker for u in clean_corpus if u.split in ("train", "val", "test")}
    assert len(held) == 2 and not held & trained and len(trained) == 6
    for spk in trained:
        splits = [u.split for u in clean_corpus if u.speaker == spk]
        assert splits.count("train") == 14 and splits.count("val") == 3 and splits.count("test") == 3
    assert len(clean_corpus.split("heldout")) == 40


def test_mix_at_snr_hits_the_requested_ratio():
    rng = np.random.default_rng(0)
    speech = np.sin(np.arange(16000) * 0.05).astype(np.float32)
    noise = N.white_noise(16000, rng)
    for snr in (0.0, 7.5, 20.0):
        mixed = N.mix_at_snr(speech, noise, snr)
        added = mixed.astype(np.float64) - speech
        measured = 10 * np.log10(np.mean(speech.astype(np.float64) ** 2) / np.mean(added ** 2))
        assert abs(measured - snr) < 1e-3


def test_pink_noise_falls_3_db_per_octave():
    x = N.pink_noise(2 ** 16, np.random.default_rng(1))
    power = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.arange(len(power))
    band = (freqs > 10) & (freqs < 2 ** 14)
    slope = np.polyfit(np.log10(freqs[band]), np.log10(power[band]), 1)[0]
    assert -1.15 < slope < -0.85
    assert abs(x.std() - 1) < 1e-3


def test_babble_is_made_of_the_given_talkers():
    rng = np.random.default_rng(0)
    talkers = [np.sin(np.arange(4000) * f).astype(np.float32) for f in (0.01, 0.02, 0.03)]
    babble = N.babble_noise(8000, talkers, rng, talkers=3)
    spectrum = np.abs(np.fft.rfft(babble, 2 ** 15))
    at = lambda omega: spectrum[round(omega * 2 ** 15 / (2 * np.pi))]
    assert all(at(omega) > 50 * np.median(spectrum) for omega in (0.01, 0.02, 0.03))
    assert at(0.05) < 0.05 * min(at(0.01), at(0.02), at(0.03))
    assert abs(babble.std() - 1) < 1e-3
    with pytest.raises(ValueError, match="other speakers"):
        N.babble_noise(10, [], rng)


@pytest.mark.parametrize("rt60", [0.2, 0.4, 0.8])
def test_room_impulse_response_decays_60_db_at_rt60(rt60):
    """rt60 is the time the reverberant energy takes to fall by 60 dB: its level in 20 ms windows lies on a line
    of slope -60 dB per rt60 seconds (a decay twice too fast gives -120 dB at rt60, half as fast -30 dB)."""
    h = N.room_impulse_response(rt60, np.random.default_rng(0)).astype(np.float64)
    assert len(h) == round(rt60 * 16000) and h[0] == h.max() and abs(np.sum(h ** 2) - 1) < 1e-5
    windows = h[1:1 + (len(h) - 1) // 320 * 320].reshape(-1, 320)
    level = 10 * np.log10(np.sum(windows ** 2, 1))
    slope = np.polyfit((np.arange(len(windows)) + 0.5) * 0.02, level, 1)[0]
    assert abs(slope * rt60 + 60) < 3, slope * rt60
    first, last = np.sum(h[1:641] ** 2), np.sum(h[-640:] ** 2)       # windows [0, 40 ms) and [rt60 - 40 ms, rt60)
    expected = -60 * (rt60 - 0.04) / rt60                             # their centres are rt60 - 40 ms apart
    assert abs(10 * np.log10(last / first) - expected) < 3


@pytest.mark.parametrize("field, value, valid", [
    ("accents", ("en-au",), "en-us"), ("emotions", ("bored",), "happy"),
    ("noises", ("traffic",), "babble"), ("keywords", ("maybe",), "stop")])
def test_unknown_names_list_the_valid_ones(field, value, valid):
    with pytest.raises(ValueError, match=rf"{value[0]!r}.*{valid}"):
        corpus_config("easy", **{field: value})


def test_unknown_preset_and_setting_are_named():
    with pytest.raises(ValueError, match="'medium'.*easy, hard"):
        corpus_config("medium")
    with pytest.raises(ValueError, match="'speeker'.*speakers"):
        corpus_config("easy", speeker=3)
    with pytest.raises(ValueError, match="held_out_speakers=4"):
        corpus_config("easy", speakers=4, held_out_speakers=4)


def test_meta_preset_sizes_in_full_and_fast_mode(monkeypatch):
    monkeypatch.setenv("MTLKIT_FAST", "0")
    full = corpus_config("meta")
    assert (full.speakers, full.utterances_per_speaker, full.held_out_speakers) == (40, 40, 12)
    monkeypatch.setenv("MTLKIT_FAST", "1")
    fast = corpus_config("meta")
    assert (fast.speakers, fast.utterances_per_speaker, fast.held_out_speakers) == (20, 40, 8)
    assert corpus_config("meta", speakers=10).speakers == 10
    easy = corpus_config("easy")
    assert (easy.speakers, easy.utterances_per_speaker, easy.held_out_speakers) == (12, 30, 3)


def test_a_bad_choice_names_the_value_and_the_choices_in_plain_english():
    from mtlkit.config import check_choice

    cases = {"task family": "valid task families: a, b", "splits": "valid splits: a, b", "corpus": "valid corpora: a, b",
             "sharing": "valid sharings: a, b", "task in label_fraction": "valid tasks in label_fraction: a, b",
             "task (this model has one tower per task)": "valid tasks (this model has one tower per task): a, b"}
    for kind, expected in cases.items():
        with pytest.raises(ValueError) as error:
            check_choice(kind, "zz", ("a", "b"))
        assert str(error.value) == f"unknown {kind} 'zz'; {expected}"
    check_choice("sharing", "a", ("a", "b"))                                 # a valid value passes silently
