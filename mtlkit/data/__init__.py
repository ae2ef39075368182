"""Speech data: the offline eSpeak NG corpus generator, the corpus type and its folder format."""
from .corpus import REQUIRED_COLUMNS, SPLITS, TASKS, Corpus, Utterance, assign_splits, load_corpus, vad_frames
from .generate import PRESETS, CorpusConfig, build_corpus, corpus_config, make_corpus
from .labels import ACCENTS, EMOTIONS, KEYWORDS, NOISES
from .speakers import Speaker, sample_speakers

__all__ = ["ACCENTS", "EMOTIONS", "KEYWORDS", "NOISES", "PRESETS", "REQUIRED_COLUMNS", "SPLITS", "TASKS", "Corpus",
           "CorpusConfig", "Speaker", "Utterance", "assign_splits", "build_corpus", "corpus_config", "load_corpus",
           "make_corpus", "sample_speakers", "vad_frames"]
