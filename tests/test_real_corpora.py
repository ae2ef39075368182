"""Real-corpus loaders on small fake trees with the exact published layouts, filled with generated speech."""
import numpy as np
import pytest
import soundfile as sf

from mtlkit.cli import main
from mtlkit.data import EMOTIONS, build_corpus, corpus_config, load_corpus
from mtlkit.data.energy_vad import energy_vad, frame_f1
from mtlkit.data.real import LAYOUTS, detect_layout, fake_tree, load_ravdess, load_speech_commands

SOURCE_RATE = {"ravdess": 48000, "crema_d": 16000, "speech_commands": 16000, "librispeech": 16000,
               "fsdd": 8000, "audiomnist": 48000, "voxceleb1": 16000}
"""The sample rate each real corpus is published at (the fake trees use the same)."""


@pytest.fixture(scope="module")
def trees(clean_corpus, tmp_path_factory):
    """One fake tree per layout: {layout: (root, {file: source utterance id})}."""
    out = {}
    for name in LAYOUTS:
        root = tmp_path_factory.mktemp(name)
        out[name] = root, fake_tree(name, root, clean_corpus)
    return out


@pytest.fixture(scope="module")
def loaded(trees):
    return {name: load_corpus(root) for name, (root, _) in trees.items()}


def test_energy_vad_agrees_with_the_exact_labels_of_generated_speech(clean_corpus):
    noisy = build_corpus(corpus_config("easy", speakers=4, utterances_per_speaker=8, noises=("white", "pink"), seed=5))
    for corpus, floor in ((clean_corpus, 0.85), (noisy, 0.85)):
        predicted = np.concatenate([energy_vad(u.wave) for u in corpus])
        true = np.concatenate([u.vad for u in corpus])
        f1 = frame_f1(predicted, true)
        assert f1 > floor, f1                          # measured: 0.93 clean, 0.93 at 20-30 dB SNR
        assert f1 > 2 * true.mean() / (1 + true.mean()) + 0.1     # better than "all speech"
    assert not energy_vad(np.zeros(16000, np.float32)).any()      # digital silence is no speech
    assert len(energy_vad(np.ones(161, np.float32))) == 2


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_every_layout_reads_back_its_fake_tree(name, trees, loaded, clean_corpus):
    root, written = trees[name]
    corpus = loaded[name]
    module = LAYOUTS[name]
    assert detect_layout(root) == (name, root / "LibriSpeech" / "dev-clean" if name == "librispeech" else root)
    assert len(corpus) == len(written) and corpus.tasks() == list(module.TASKS)
    assert corpus.info["name"] == name and corpus.info["vad"] == "energy" and corpus.info["vad_derived"]
    assert corpus.info["layout"].startswith(module.TITLE)
    source = {u.id: u for u in clean_corpus}
    by_path = {u.path: u for u in corpus}
    prefix = "" if name != "librispeech" else "LibriSpeech/dev-clean/"
    for path, uid in list(written.items())[:12]:
        u, v = by_path[path[len(prefix):]], source[uid]
        assert u.wave.dtype == np.float32 and len(u.vad) == -(-len(u.wave) // 160)
        n = min(len(u.wave), len(v.wave), 16000)
        if SOURCE_RATE[name] >= 16000:                 # resampled back to 16 kHz: the same waveform
            assert abs(len(u.wave) - len(v.wave)) <= 3 or name == "speech_commands"
            assert np.corrcoef(u.wave[:n], v.wave[:n])[0, 1] > 0.99
        else:                                          # 8 kHz lost the top half of the band, not the timing
            assert abs(len(u.wave) - len(v.wave)) <= 3 and np.corrcoef(u.wave[:n], v.wave[:n])[0, 1] > 0.8
        for task in ("emotion", "keyword", "accent"):
            if task in corpus.tasks() and task != "accent":
                assert getattr(u, task) == getattr(v, task)
        assert sf.info(str(corpus.root / u.path)).samplerate == SOURCE_RATE[name]


def test_detection_from_a_parent_folder_and_the_layouts_it_knows(trees, tmp_path):
    import shutil

    nested = tmp_path / "downloads" / "Audio_Speech_Actors_01-24"
    shutil.copytree(trees["ravdess"][0], nested)
    assert detect_layout(tmp_path) == ("ravdess", nested)                    # two folders down
    assert detect_layout(nested / "Actor_01" / "..")[0] == "ravdess"
    shutil.copytree(trees["crema_d"][0], tmp_path / "downloads" / "CREMA-D")
    with pytest.raises(ValueError, match="several corpora under .*downloads: ravdess at .*, crema_d at .*CREMA-D; "):
        detect_layout(tmp_path / "downloads")
    empty = tmp_path / "empty"
    (empty / "holiday photos").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="metadata.csv not found") as err:
        load_corpus(empty)
    for module in LAYOUTS.values():
        assert module.PATTERN in str(err.value) and str(empty) in str(err.value)
    with pytest.raises(FileNotFoundError, match="nowhere does not exist"):
        load_corpus(tmp_path / "nowhere")
    (tmp_path / "Audio_Speech_Actors_01-24.zip").write_bytes(b"PK")
    with pytest.raises(FileNotFoundError, match="01-24.zip is a file, not a corpus folder: extract"):
        load_corpus(tmp_path / "Audio_Speech_Actors_01-24.zip")


def test_ravdess_labels_speakers_and_limits(trees, loaded):
    corpus = loaded["ravdess"]
    assert set(corpus.classes("emotion")) <= set(EMOTIONS) and len(corpus.classes("emotion")) == 5
    assert corpus.speaker_ids()[:2] == ["01", "02"]
    assert corpus.speakers["01"]["gender"] == "male" and corpus.speakers["02"]["gender"] == "female"
    assert corpus.counts("split")["heldout"] > 0
    with pytest.raises(ValueError, match="no keyword labels.*its tasks: vad, speaker, emotion"):
        corpus.require("keyword")
    root = trees["ravdess"][0]
    two = load_ravdess(root, emotions=("angry", "sad"), speakers=["01", "03"], max_per_speaker=5, seed=1)
    assert two.speaker_ids() == ["01", "03"] and set(two.classes("emotion")) == {"angry", "sad"}
    assert max(two.counts("speaker").values()) == 5
    again = load_ravdess(root, emotions=("angry", "sad"), speakers=["01", "03"], max_per_speaker=5, seed=1)
    assert [u.path for u in two] == [u.path for u in again]
    assert len(load_ravdess(root, max_utterances=7, speakers=3)) == 7
    with pytest.raises(ValueError, match="unknown emotion 'bored'; RAVDESS emotions: neutral, calm"):
        load_ravdess(root, emotions=("bored",))
    with pytest.raises(ValueError, match="unknown speaker\\(s\\) 99"):
        load_ravdess(root, speakers=["99"])


def test_each_corpus_maps_its_own_labels(trees, loaded, clean_corpus):
    crema = loaded["crema_d"]
    assert {"age", "sex", "race", "ethnicity"} <= set(next(iter(crema.speakers.values())))
    assert crema.speaker_ids()[0] == "1001"
    assert set(load_corpus(crema.root, emotions=("sad", "angry")).classes("emotion")) == {"sad", "angry"}
    sc = loaded["speech_commands"]
    assert set(sc.counts("split")) == {"train", "val", "test"}        # the official list files
    assert all(len(s) == 8 for s in sc.speaker_ids())
    assert sc.info["noise_sources"] == ["_background_noise_/pink_noise.wav", "_background_noise_/white_noise.wav"]
    assert all(len(u.wave) == 16000 for u in sc)
    libri = loaded["librispeech"]
    assert all(u.words and u.words[0] == u.words[0].lower() for u in libri)
    assert {s["sex"] for s in libri.speakers.values()} <= {"female", "male"}
    source = {u.id: u for u in clean_corpus}
    for name in ("fsdd", "audiomnist"):           # every file; test_file_names_mean_what_their_corpora_publish and
        by_path = {u.path: u for u in loaded[name]}       # test_audiomnist_reads_accents_from_its_published_meta_file
        for path, uid in trees[name][1].items():          # check the names and the meta file against published facts
            assert by_path[path].words == source[uid].words, (name, path)
            if name == "audiomnist":
                assert by_path[path].accent == source[uid].accent, path
    digits = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}
    assert set(loaded["fsdd"].classes("keyword")) == {u.keyword for u in clean_corpus} & digits
    assert loaded["fsdd"].speaker_ids()[0] == "george"
    mnist = loaded["audiomnist"]
    assert set(mnist.classes("accent")) == {"en-us", "en-gb", "en-gb-scotland", "en-029"}
    vox = loaded["voxceleb1"]
    assert vox.speaker_ids()[0] == "id10001" and set(vox.counts("split")) <= {"train", "val", "test"}
    assert vox.speakers["id10001"]["nationality"] == "Generated"


def test_speech_commands_can_split_by_speaker_instead(trees):
    root, written = trees["speech_commands"]
    corpus = load_speech_commands(root, splits="speakers", words=["yes", "no", "up"])
    assert "heldout" in corpus.counts("split") and set(corpus.classes("keyword")) == {"yes", "no", "up"}
    assert sorted(u.path for u in corpus) == sorted(p for p in written if p.split("/")[0] in ("yes", "no", "up"))
    assert all(u.keyword == u.path.split("/")[0] for u in corpus)
    with pytest.raises(ValueError, match="unknown splits 'random'; valid splits: official, speakers"):
        load_speech_commands(trees["speech_commands"][0], splits="random")


def test_corpus_info_names_the_layout_and_the_derived_vad(trees, capsys):
    assert main(["corpus", "info", str(trees["crema_d"][0])]) == 0
    out = capsys.readouterr().out
    assert "layout: CREMA-D (AudioWAV/<actor>_<sentence>_<emotion>_<level>.wav)" in out
    assert "tasks: vad, speaker, emotion" in out and "derived from energy" in out


def test_a_real_corpus_saves_as_a_kit_folder(loaded, tmp_path):
    corpus = loaded["librispeech"].subset(lambda u: u.speaker in ("100", "117"))
    back = load_corpus(corpus.save(tmp_path / "mine"))        # training on it: notebook 09 and its nbval run
    assert back.tasks() == corpus.tasks() and back.info["vad"] == "energy" and back.info["name"] == "librispeech"
    assert all(np.array_equal(u.vad, v.vad) and u.words == v.words and u.split == v.split for u, v in zip(corpus, back))
    assert (tmp_path / "mine" / corpus[0].path).suffix == ".flac"
    with pytest.raises(ValueError, match="options max_per_speaker apply to real corpora only; .*mine is an mtlkit"):
        load_corpus(tmp_path / "mine", max_per_speaker=3)


def _copy(tree, tmp_path):
    import shutil

    return shutil.copytree(tree, tmp_path / "copy")


def test_an_unexpected_file_name_is_named_with_the_pattern(trees, tmp_path):
    root = _copy(trees["ravdess"][0], tmp_path)
    (root / "Actor_01" / "my take 3.wav").write_bytes(b"x")
    with pytest.raises(ValueError, match="unexpected file name .*my take 3.wav: this layout expects "
                                         "Actor_XX/03-01-EE-II-SS-RR-AA.wav"):
        load_corpus(root)
    assert (root / "Actor_01" / "my take 3.wav").read_bytes() == b"x"              # nothing of yours is deleted
    (root / "Actor_01" / "my take 3.wav").unlink()
    (root / "Actor_01" / "README.txt").write_text("notes")                       # not audio: skipped
    assert len(load_corpus(root)) == len(trees["ravdess"][1])


def test_a_half_extracted_tree_is_named(trees, tmp_path):
    root = _copy(trees["ravdess"][0], tmp_path)
    victim = sorted((root / "Actor_02").iterdir())[0]
    victim.write_bytes(victim.read_bytes()[:30])                                # a truncated wav
    with pytest.raises(ValueError, match=f"cannot read audio file {victim}"):
        load_corpus(root)
    victim.unlink()
    for f in (root / "Actor_03").iterdir():
        f.unlink()
    with pytest.raises(ValueError, match="Actor_03 holds no audio files .*half-extracted"):
        load_corpus(root)
    sc = _copy(trees["speech_commands"][0], tmp_path / "sc")
    listed = (sc / "testing_list.txt").read_text().split()[0]
    (sc / listed).unlink()
    with pytest.raises(FileNotFoundError, match=f"testing_list.txt lists 1 file\\(s\\) not on disk, e.g. .*{listed}"):
        load_corpus(sc)


def test_crema_d_and_voxceleb1_say_how_to_get_them(tmp_path):
    from mtlkit.data.real import load_crema_d, load_voxceleb1

    with pytest.raises(FileNotFoundError, match="GIT_LFS_SKIP_SMUDGE=1 git clone https://gitlab.com/cs-cooper-lab/"
                                                "crema-d-mirror.git && cd crema-d-mirror && git lfs pull --include "
                                                "\"AudioWAV/\\*\""):
        load_crema_d(tmp_path / "crema", download=True)
    with pytest.raises(FileNotFoundError, match="both vox1_dev_wav.zip .* and vox1_test_wav.zip .* same wav/"):
        load_voxceleb1(tmp_path / "vox", download=True)
    assert not (tmp_path / "crema").exists() and not (tmp_path / "vox").exists()


def test_the_command_line_limits_a_real_corpus_and_explains_downloads(trees, tmp_path, capsys):
    assert main(["corpus", "info", str(trees["ravdess"][0]), "--max-per-speaker", "3"]) == 0
    assert "utterances: 24   speakers: 8" in capsys.readouterr().out
    assert main(["corpus", "download", "crema_d", "--out", str(tmp_path)]) == 2
    assert "crema_d cannot be downloaded by the kit: CREMA-D has no single archive" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["corpus", "download", "timit", "--out", str(tmp_path)])
    assert "invalid choice: 'timit'" in capsys.readouterr().err and list(tmp_path.iterdir()) == []


def test_a_git_lfs_clone_without_its_audio_is_named(trees, tmp_path):
    root = _copy(trees["crema_d"][0], tmp_path)
    pointer = sorted((root / "AudioWAV").iterdir())[0]
    pointer.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:4d7a\nsize 41290\n")
    with pytest.raises(ValueError, match=f"{pointer} is a git-lfs pointer, not audio: run 'git lfs pull'"):
        load_corpus(root)


def test_mtlkit_compare_runs_on_a_real_layout_and_names_missing_tasks(trees, tmp_path, capsys):
    import json

    out = tmp_path / "compare.json"
    args = ["compare", "--data", str(trees["ravdess"][0]), "--max-per-speaker", "8", "--sharing", "hard",
            "--weighting", "equal", "--epochs", "1", "--out", str(out), "--quiet"]
    assert main(args + ["--tasks", "vad,emotion"]) == 0
    records = json.loads(out.read_text())
    assert sorted(r["config"]["sharing"] for r in records) == ["hard", "separate"]
    assert all(set(r["test"]) == {"vad", "emotion"} for r in records)
    capsys.readouterr()
    assert main(args + ["--tasks", "vad,keyword"]) == 2
    assert "no keyword labels for every utterance; its tasks: vad, speaker, emotion" in capsys.readouterr().err
    args[4] = "4"                                     # 4 per speaker: round(0.7 * 4) train, 1 val, none left to test
    assert main(args + ["--tasks", "vad,emotion"]) == 2
    assert "the test split of this corpus is empty (utterances per split: {'heldout'" in capsys.readouterr().err


def test_voxceleb1_names_the_files_iden_split_lists_but_the_disk_lacks(trees, tmp_path):
    """Only vox1_dev_wav.zip extracted: the test archive's speakers are missing, and the loader says so."""
    import shutil

    from mtlkit.data.real import load_voxceleb1

    root, written = trees["voxceleb1"]
    root = _copy(root, tmp_path)
    gone = sorted((root / "wav").iterdir())[-1]                    # as if this speaker were in vox1_test_wav.zip
    lost = sum(1 for f in written if f.startswith(f"wav/{gone.name}/"))
    shutil.rmtree(gone)
    with pytest.raises(FileNotFoundError, match=f"iden_split.txt lists {lost} file\\(s\\) of 1 speaker\\(s\\) not on "
                                                f"disk \\({gone.name}\\).*vox1_test_wav.zip.*splits='speakers'"):
        load_voxceleb1(root)
    corpus = load_voxceleb1(root, splits="speakers")               # what is on disk, split by the kit
    assert len(corpus) == len(written) - lost and gone.name not in corpus.speaker_ids()


def test_librispeech_speakers_txt_keeps_a_name_that_holds_pipes(trees, tmp_path):
    from mtlkit.data.real import librispeech

    root = _copy(trees["librispeech"][0], tmp_path)
    table = root / "LibriSpeech" / "SPEAKERS.TXT"
    table.write_text(table.read_text() + "60   | M | train-clean-100  | 20.18 | |CBW|Simon\n"
                                         "61   | M | test-clean       | 25.20 | Paul-Gabriel Wiener\n")
    people = librispeech._speakers_table(root / "LibriSpeech" / "dev-clean")
    assert people["60"] == dict(sex="male", subset="train-clean-100", name="|CBW|Simon")   # the published name
    assert people["61"]["name"] == "Paul-Gabriel Wiener"


def test_librispeech_loads_from_the_folder_download_creates(trees, tmp_path):
    import shutil

    root = tmp_path / "data" / "LibriSpeech-dev-clean"              # what download('librispeech-dev-clean') makes
    shutil.copytree(trees["librispeech"][0] / "LibriSpeech", root)
    corpus = load_corpus(tmp_path / "data" / "LibriSpeech-dev-clean")
    assert corpus.info["name"] == "librispeech" and len(corpus) == len(trees["librispeech"][1])
    assert corpus.speakers and all("sex" in s for s in corpus.speakers.values())   # SPEAKERS.TXT found beside


def test_fsdd_official_split_is_recordings_0_to_4_for_test(tmp_path):
    """FSDD's README: recordings 0-4 of each digit and speaker are the test set, 5-49 training."""
    from mtlkit.data.real import common, load_fsdd

    wave = (0.1 * np.sin(np.arange(1600) * 0.3)).astype(np.float32)
    for speaker in ("george", "theo"):
        for digit in (3, 7):
            for index in range(50):
                common.write_audio(tmp_path / "recordings" / f"{digit}_{speaker}_{index}.wav", wave, 8000)
    official = load_fsdd(tmp_path, splits="official")
    assert official.counts("split") == {"train": 160, "val": 20, "test": 20}        # 2 x 2 x (40, 5, 5)
    tests = sorted(int(u.path.rsplit("_", 1)[1][:-4]) for u in official if u.split == "test")
    assert set(tests) == {0, 1, 2, 3, 4} and set(official.split("test").speaker_ids()) == {"george", "theo"}
    assert {int(u.path.rsplit("_", 1)[1][:-4]) for u in official if u.split == "val"} == {5, 6, 7, 8, 9}
    default = load_fsdd(tmp_path)                                                  # the kit's split, as before
    assert {int(u.path.rsplit("_", 1)[1][:-4]) for u in default if u.split == "test"} - set(range(5))
    with pytest.raises(ValueError, match="unknown splits 'offical'; valid splits: official, speakers"):
        load_fsdd(tmp_path, splits="offical")


def test_audiomnist_official_folds_are_the_authors_speaker_disjoint_digit_folds(tmp_path):
    """audiomnist/train/splits.py: fold 0 tests on speakers 26, 52, 60, ... and validates on 12, 47, 59, ..."""
    from mtlkit.data.real import audiomnist, common, load_audiomnist

    wave = (0.1 * np.sin(np.arange(4800) * 0.05)).astype(np.float32)
    for n in range(1, 61):
        common.write_audio(tmp_path / "data" / f"{n:02d}" / f"{n % 10}_{n:02d}_0.wav", wave, 48000)
    tests = []
    for fold in range(5):
        corpus = load_audiomnist(tmp_path, splits="official", fold=fold)
        by_split = {s: {int(x) for x in corpus.split(s).speaker_ids()} for s in ("train", "val", "test")}
        assert [len(by_split[s]) for s in ("train", "val", "test")] == [36, 12, 12]
        assert not (by_split["train"] & by_split["test"]) and not (by_split["val"] & by_split["test"])
        tests.append(by_split["test"])
        if fold == 0:                                              # the authors' lists, copied by hand
            assert by_split["test"] == {26, 52, 60, 18, 32, 42, 5, 13, 22, 33, 45, 51}
            assert by_split["val"] == {12, 47, 59, 15, 27, 41, 4, 11, 21, 31, 44, 50}
        if fold == 1:
            assert by_split["test"] == {28, 56, 7, 19, 35, 1, 6, 16, 23, 34, 46, 53}
    assert sorted(x for t in tests for x in t) == list(range(1, 61))   # every speaker is tested exactly once
    assert sorted(x for g in audiomnist.FOLD_GROUPS for x in g) == list(range(1, 61))
    with pytest.raises(ValueError, match="unknown fold 5; valid folds: 0, 1, 2, 3, 4"):
        load_audiomnist(tmp_path, splits="official", fold=5)


def test_audiomnist_reads_accents_from_its_published_meta_file(tmp_path):
    """Accent, age, gender, native speaker and origin of six speakers of data/audioMNIST_meta.txt as published
    (soerenab/AudioMNIST), copied by hand: the accent is its free text lower-cased, each speaker's under its own
    two-digit folder."""
    import json

    from mtlkit.data.real import common, load_audiomnist

    def person(accent, age, gender, native, origin):
        return {"accent": accent, "age": age, "gender": gender, "native speaker": native, "origin": origin,
                "recordingdate": "17-06-22-11-04-28", "recordingroom": "Kino"}

    meta = {"01": person("german", 30, "male", "no", "Europe, Germany, Wuerzburg"),
            "07": person("German/Spanish", "27", "male", "no", "Europe, Spanien, Mallorca"),
            "15": person("Madras", "28", "male", "no", "Europe, India, Chennai"),
            "26": person("Chinese", "22", "female", "no", "Asia, China, Beijing"),
            "41": person("South African", "30", "male", "yes", "Africa, South Africa, Vryburg"),
            "60": person("Tamil", "27", "female", "yes", "Asia, India, Chennai")}
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "audioMNIST_meta.txt").write_text(json.dumps(meta, indent=4))
    for n in meta:
        common.write_audio(tmp_path / "data" / n / f"3_{n}_0.wav", _tone(rate=16000), 48000)
    corpus = load_audiomnist(tmp_path, held_out=0)
    assert {u.speaker: u.accent for u in corpus} == {"01": "german", "07": "german/spanish", "15": "madras",
                                                     "26": "chinese", "41": "south african", "60": "tamil"}
    assert corpus.speakers["41"]["native speaker"] == "yes" and corpus.speakers["26"]["gender"] == "female"
    assert corpus.speakers["15"]["origin"] == "Europe, India, Chennai"
    assert {u.words for u in corpus} == {("three",)}


def _tone(seconds=0.3, rate=16000):
    t = np.arange(int(seconds * rate)) / rate
    return (0.2 * np.sin(2 * np.pi * 220 * t) * (t > 0.05) * (t < seconds - 0.05)).astype(np.float32)


def test_file_names_mean_what_their_corpora_publish(tmp_path):
    """Labels against the published naming conventions, written out here by hand (not read from the loaders'
    own tables): the bug this catches is a shifted or swapped code in a loader's map, which round-tripping a fake
    tree through the same map cannot see."""
    from mtlkit.data.real import common, load_audiomnist, load_crema_d, load_fsdd, load_ravdess, load_speech_commands

    def write(root, names, rate):
        for name in names:
            common.write_audio(root / name, _tone(rate=16000), rate)
        return root

    # RAVDESS (Zenodo description): modality 03 audio-only, channel 01 speech, emotion 05 angry / 08 surprised /
    # 02 calm, intensity 02 strong, statement 02 "Dogs", repetition, actor 12 (even: female) and 01 (odd: male).
    ravdess = load_ravdess(write(tmp_path / "ravdess", ["Actor_12/03-01-05-02-02-01-12.wav",
                                                        "Actor_01/03-01-08-01-01-02-01.wav",
                                                        "Actor_01/03-01-02-02-02-02-01.wav"], 48000), held_out=0)
    got = {(u.speaker, u.emotion) for u in ravdess}
    assert got == {("12", "angry"), ("01", "surprised"), ("01", "calm")}, got
    assert ravdess.speakers["12"]["gender"] == "female" and ravdess.speakers["01"]["gender"] == "male"
    # CREMA-D (its README): actor 1001-1091, sentence, ANG anger / DIS disgust / FEA fear / HAP happy / NEU / SAD
    crema = load_crema_d(write(tmp_path / "crema", ["AudioWAV/1001_DFA_ANG_XX.wav", "AudioWAV/1091_IEO_DIS_HI.wav",
                                                     "AudioWAV/1002_IEO_FEA_LO.wav"], 16000), held_out=0)
    assert {(u.speaker, u.emotion) for u in crema} == {("1001", "angry"), ("1091", "disgust"), ("1002", "fearful")}
    # FSDD (its README): {digitLabel}_{speakerName}_{index}.wav, e.g. 7_jackson_32.wav
    fsdd = load_fsdd(write(tmp_path / "fsdd", ["recordings/7_jackson_32.wav", "recordings/0_theo_0.wav"], 8000),
                     held_out=0)
    assert {(u.speaker, u.words) for u in fsdd} == {("jackson", ("seven",)), ("theo", ("zero",))}
    # AudioMNIST (its README): data/<speaker>/<digit>_<speaker>_<repetition>.wav, e.g. data/17/0_17_0.wav
    mnist = load_audiomnist(write(tmp_path / "mnist", ["data/17/0_17_0.wav", "data/17/9_17_49.wav"], 48000),
                            held_out=0)
    assert {(u.speaker, u.words) for u in mnist} == {("17", ("zero",)), ("17", ("nine",))}
    # Speech Commands (torchaudio): <word>/<speaker hash>_nohash_<k>.wav
    sc = load_speech_commands(write(tmp_path / "sc", ["backward/0165e0e8_nohash_0.wav", "yes/0a7c2a8d_nohash_1.wav"],
                                    16000), splits="speakers", held_out=0)
    assert {(u.speaker, u.words) for u in sc} == {("0165e0e8", ("backward",)), ("0a7c2a8d", ("yes",))}
