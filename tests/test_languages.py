"""Languages as tasks: the multilingual preset, eSpeak's dictionaries, the 'language' task family and its CLI."""
import json

import numpy as np
import pytest

from mtlkit.data import corpus_config, load_corpus
from mtlkit.data.labels import HELD_OUT_LANGUAGES, LANGUAGES, NUMBERS
from mtlkit.meta import EpisodeSampler, make_method


def test_the_preset_spans_families_and_names_bad_languages_and_numbers():
    config = corpus_config("languages")
    families = {LANGUAGES[code][1] for code in config.languages}
    assert len(config.languages) >= 20 and len(families) >= 10, families
    assert {LANGUAGES[code][1] for code in HELD_OUT_LANGUAGES} <= families and len(set(HELD_OUT_LANGUAGES)) == 6
    with pytest.raises(ValueError, match="unknown language 'klingon'; valid languages: .*de.*ja"):
        corpus_config("languages", languages=("de", "klingon"))
    with pytest.raises(ValueError, match="unknown number 'yes'; valid numbers: 0, 1"):
        corpus_config("languages", keywords=("1", "yes"))
    english = corpus_config("easy")
    assert "languages" not in json.dumps(english.key()) and english.languages == ()


def test_unknown_voices_and_english_digit_readers_are_refused_by_name():
    from mtlkit.data.espeak import check_languages, engine

    with pytest.raises(ValueError, match="zz: eSpeak NG has no voice file for language 'zz'"):
        check_languages(["zz"])
    with pytest.raises(ValueError, match="en-US: reads '7' as English"):     # an English voice posing as a language
        check_languages(["en-US"])
    check_languages(["de", "ja"])
    assert engine().phonemes("7", "de") != engine().phonemes("7", "ja") != engine().phonemes("7", "en")


def test_only_the_dictionaries_of_the_languages_used_are_copied(language_corpus):
    from mtlkit.data.espeak import _private_data_dir, dictionary_of

    copied = {p.name for p in _private_data_dir().glob("*_dict")}
    assert {f"{dictionary_of(c)}_dict" for c in ("de", "nl", "es", "it", "ja", "sw")} <= copied
    assert "ru_dict" not in copied and "cmn_dict" not in copied
    assert dictionary_of("cmn") == "cmn" and dictionary_of("de") == "de"


def test_utterances_carry_language_family_and_a_numeral_and_survive_a_reload(language_corpus, tmp_path):
    c = language_corpus
    assert "language" in c.tasks() and "accent" not in c.tasks()
    assert set(c.labels("language")) == {"de", "nl", "es", "it", "ja", "sw"}
    assert set(c.labels("keyword")) == set(NUMBERS[:6])
    assert all(u.family == LANGUAGES[u.language][1] for u in c)
    for spk in c.speaker_ids():                             # one language per speaker, its voice is that language
        mine = [u for u in c if u.speaker == spk]
        assert len({u.language for u in mine}) == 1 and c.speakers[spk]["language"] == mine[0].language
        styles = {}
        for u in mine:
            styles.setdefault(u.keyword, set()).add(u.emotion)
        assert all(len(s) == 2 for s in styles.values()), styles      # each repetition in another style
    again = load_corpus(c.save(tmp_path / "langs"))
    assert [(u.language, u.family, u.keyword) for u in again] == [(u.language, u.family, u.keyword) for u in c]
    assert "language: de=24" in again.describe()


def test_the_same_number_sounds_different_across_languages(language_corpus):
    """'7' is spoken as each language's own word: the waveforms of one number differ in length across languages
    far more than within one."""
    c = language_corpus
    spans = {}
    for u in c:
        if u.keyword == "5":
            spans.setdefault(u.language, []).append(u.word_spans[0][1] - u.word_spans[0][0])
    means = {k: np.mean(v) for k, v in spans.items()}
    assert max(means.values()) > 1.5 * min(means.values()), means


def test_language_episodes_hold_out_whole_languages(language_corpus):
    sampler = EpisodeSampler(language_corpus, "language", n_way=3, k_shot=2, queries=1, held_out=["sw", "it"])
    assert sampler.tasks("test") == ["it", "sw"] and "it" not in sampler.tasks("train")
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for _ in range(10):
            e = sampler.sample(split, rng)
            members = np.concatenate([e.support, e.query])
            assert {language_corpus[i].language for i in members} == {e.task}
            assert [language_corpus[i].keyword for i in e.query] == [e.classes[y] for y in e.query_y]
    default = EpisodeSampler(language_corpus, "language", n_way=3, k_shot=2, queries=1)
    assert default.tasks("test") == ["sw"]                 # the default held-out languages present here
    with pytest.raises(ValueError, match="unknown language 'xx'; valid languages: de, es, it, ja, nl, sw"):
        EpisodeSampler(language_corpus, "language", held_out=["xx"])
    with pytest.raises(ValueError, match="has 3 keyword classes with >= k_shot \\+ queries = 5 utterances \\(the best, 'sw', "
                       "has 0; its 6 classes have 4-4 utterances each\\)"):
        EpisodeSampler(language_corpus, "language", n_way=3, k_shot=4, queries=1).sample("test", rng)


def test_every_method_runs_on_language_episodes(language_corpus):
    sampler = EpisodeSampler(language_corpus, "language", n_way=3, k_shot=1, queries=1, held_out=["sw"])
    episodes = [sampler.sample("test", np.random.default_rng(1))]
    batch = sampler.tensors(episodes)
    from mtlkit.meta.methods import METHODS

    for name in METHODS:
        method = make_method(name, sampler, inner_steps=1, seed=0)
        method.meta_train(1 if method.meta_trained else 0, meta_batch=2)
        curve = method.curve(batch, steps=1, episodes=episodes)
        assert curve.shape == (1, 2) and ((0 <= curve) & (curve <= 1)).all(), name


def test_the_meta_command_runs_the_language_family(language_corpus, tmp_path, capsys):
    from mtlkit.cli import main

    folder = language_corpus.save(tmp_path / "langs-cli")
    out = tmp_path / "meta"
    assert main(["meta", "--family", "language", "--data", str(folder), "--held-out", "ja,sw", "--methods",
                 "protonet", "--shots", "1", "--n-way", "3", "--queries", "1", "--meta-steps", "2", "--meta-batch",
                 "2", "--tasks", "4", "--steps", "1", "--out", str(out), "--quiet"]) == 0
    record = json.loads((out / "results.json").read_text())[0]
    assert record["family"] == "language" and record["n_way"] == 3 and 0 <= record["accuracy"][0] <= 1
    assert main(["meta", "--family", "language", "--data", str(folder), "--held-out", "klingon", "--methods",
                 "protonet", "--out", str(out)]) == 2
    assert "unknown language 'klingon'; valid languages: de, es, it, ja, nl, sw" in capsys.readouterr().err


def test_closeness_ratio_by_hand_and_its_permutation_test():
    from mtlkit.embeddings import closeness_ratio, closeness_test

    x = np.array([[0.0], [1.0], [10.0], [12.0]])
    assert closeness_ratio(x, ["A", "A", "B", "B"]) == pytest.approx(1.5 / 10.5)     # pairs (1, 2) vs (10, 12, 9, 11)
    rng = np.random.default_rng(0)
    families = np.repeat(list("ABCDE"), 5)
    clustered = rng.normal(size=(25, 4)) + 3 * rng.normal(size=(5, 4))[np.repeat(np.arange(5), 5)]
    ratio, p = closeness_test(clustered, families, permutations=500)
    assert ratio < 0.7 and p < 0.01
    ratio, p = closeness_test(rng.normal(size=(25, 4)), families, permutations=500)      # the control: no clusters
    assert 0.8 < ratio < 1.2 and p > 0.05
    with pytest.raises(ValueError, match="at least one pair with the same label"):
        closeness_ratio(x, ["A", "B", "C", "D"])


def test_the_adaptation_panel_adapts_to_a_held_out_language(language_corpus):
    from mtlkit.widgets import AdaptationPanel

    sampler = EpisodeSampler(language_corpus, "language", n_way=3, k_shot=1, queries=1, held_out=["sw"])
    method = make_method("protonet", sampler, seed=0)
    panel = AdaptationPanel({"protonet": method}, sampler)
    assert panel.title == "Fast adaptation to a new language" and panel.controls["task"].options == ("sw",)
    panel.run()
    assert panel.last_error is None and panel.result is not None


def test_compare_runs_number_recognition_with_language_identification(language_corpus, tmp_path):
    from mtlkit.cli import main

    folder = language_corpus.save(tmp_path / "langs-compare")
    out = tmp_path / "compare.json"
    assert main(["compare", "--data", str(folder), "--tasks", "keyword,language", "--sharing", "hard",
                 "--weighting", "equal", "--seeds", "0", "--epochs", "1", "--out", str(out), "--quiet"]) == 0
    records = json.loads(out.read_text())
    assert {r["config"]["sharing"] for r in records} == {"separate", "hard"}
    assert all(set(r["test"]) == {"keyword", "language"} for r in records)


def test_voice_variants_are_removed_after_use_so_espeak_never_runs_out_of_voice_slots(language_corpus, tmp_path):
    """eSpeak NG lists at most 349 voices and ships ~250: variant files must not pile up across corpora."""
    import os

    from mtlkit.data.espeak import _private_data_dir, _remove_stale_variants

    assert not list((_private_data_dir() / "voices" / "!v").glob("mk-*"))      # the fixture's 12 are gone
    for name in ("mtlkit-0123456789", "mk-01234567-999999999", f"mk-01234567-{os.getpid()}", "en-custom"):
        (tmp_path / name).write_text("name x\n")
    _remove_stale_variants(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["en-custom", f"mk-01234567-{os.getpid()}"]
