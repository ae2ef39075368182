"""The multi-task lesson at a small budget: a related auxiliary task helps a task with few labels.

Accent is a property of each speaker, so learning to tell the speakers apart (every utterance labelled)
organises the shared encoder by speaker, and an accent head with 15% of the labels only has to name the
groups. Alone, the accent model must learn its features from those few labels. (Full-budget numbers are
in the notebook 02 lesson; this is the same effect with a small model, corpus and budget.)
"""
import numpy as np
import pytest

from mtlkit.data import make_corpus
from mtlkit.train import fit


@pytest.fixture(scope="module")
def corpus():
    return make_corpus("easy", speakers=8, utterances_per_speaker=30, held_out_speakers=1, seed=0)


def test_speaker_identification_helps_accent_with_few_labels(corpus):
    options = dict(label_fraction={"accent": 0.15}, epochs=12, progress=False,
                   model_options=dict(width=32, pooling="mean"))
    alone, joint = [], []
    for seed in (0, 1, 2):
        alone.append(fit(corpus, tasks=["accent"], seed=seed, **options).test["accent"]["accuracy"])
        joint.append(fit(corpus, tasks=["accent", "speaker"], seed=seed, **options).test["accent"]["accuracy"])
    gains = np.array(joint) - np.array(alone)
    assert gains.mean() >= 0.08, (alone, joint)
    assert (gains >= 0).all(), (alone, joint)
    assert np.mean(joint) > 0.25 + 0.2                     # chance is 1 in 4 accents
