"""Features: frame alignment with the VAD labels, normalisation, masking, padding, pitch."""
import numpy as np
import pytest
import torch

from mtlkit.config import HOP
from mtlkit.features import IGNORE, FeatureDataset, Features, SpecAugment, collate, normalize, num_frames, pitch_track


@pytest.mark.parametrize("n", [1, 159, 160, 161, 12985, 16000])
def test_one_feature_frame_per_label_frame(n):
    assert Features()(torch.zeros(n)).shape == (num_frames(n), 40) == (-(-n // HOP), 40)
    assert Features("mfcc")(torch.zeros(2, n)).shape == (2, num_frames(n), 20)


@pytest.mark.parametrize("sample", [0, 79, 80, 1000, 4321, 7999])
def test_a_click_lands_in_the_label_frame_that_holds_it(sample):
    wave = torch.zeros(8000)
    wave[sample] = 1.0
    energy = Features(normalize=False)(wave).exp().sum(-1)
    assert int(energy.argmax()) == sample // HOP


def test_normalize_matches_a_hand_computation():
    feats = torch.randn(2, 7, 3) * 4 + 2
    mask = torch.tensor([[1] * 7, [1] * 4 + [0] * 3]).bool()
    out = normalize(feats, mask)
    for b, n in ((0, 7), (1, 4)):
        x = feats[b, :n].numpy()
        expected = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5)
        assert np.allclose(out[b, :n].numpy(), expected, atol=1e-5)
    assert torch.all(out[1, 4:] == 0)


def test_collate_pads_masks_and_ignores_padded_vad_frames():
    items = [dict(feats=torch.ones(5, 3), vad=torch.tensor([0, 1, 1, 0, 1]), emotion=2),
             dict(feats=torch.ones(2, 3), vad=torch.tensor([1, 0]), emotion=0)]
    batch = collate(items)
    assert batch["feats"].shape == (2, 5, 3) and batch["lengths"].tolist() == [5, 2]
    assert batch["mask"].tolist() == [[True] * 5, [True, True, False, False, False]]
    assert batch["vad"][1].tolist() == [1, 0, IGNORE, IGNORE, IGNORE]
    assert batch["emotion"].tolist() == [2, 0] and torch.all(batch["feats"][1, 2:] == 0)


def _runs(flags: torch.Tensor) -> list:
    """Lengths of the runs of True in a 1-D bool tensor."""
    edges = torch.diff(torch.cat([torch.zeros(1), flags.float(), torch.zeros(1)]))
    return (torch.nonzero(edges == -1).flatten() - torch.nonzero(edges == 1).flatten()).tolist()


def test_spec_augment_masks_in_training_only():
    """Zeros only in whole bands: frames (all channels) and channels (all frames), at most n_masks runs of each,
    each mask narrower than its bound (torchaudio draws widths in [0, bound)); every other value untouched."""
    torch.manual_seed(0)
    aug = SpecAugment(freq_mask=8, time_mask=10, n_masks=2)
    feats = torch.randn(64, 50, 40)
    masked = aug.train()(feats)
    assert masked.shape == feats.shape
    widest = {"time": 0, "freq": 0}
    for x, y in zip(feats, masked):
        zero = y == 0
        frames, channels = zero.all(1), zero.all(0)
        assert torch.equal(zero, frames[:, None] | channels[None, :])
        assert torch.equal(y[~zero], x[~zero])
        for axis, flags, bound in (("time", frames, 10), ("freq", channels, 8)):
            runs = _runs(flags)
            assert len(runs) <= 2 and sum(runs) <= 2 * (bound - 1), (axis, runs)
            widest[axis] = max([widest[axis]] + runs)
    assert widest["time"] >= 6 and widest["freq"] >= 5, widest
    assert len({tuple(torch.nonzero((y == 0).all(0)).flatten().tolist()) for y in masked}) > 10   # drawn per utterance
    assert torch.equal(aug.eval()(feats), feats)


def test_pitch_track_finds_a_known_f0():
    t = np.arange(16000) / 16000
    wave = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in (1, 2, 3)).astype(np.float32)
    f0 = pitch_track(np.concatenate([np.zeros(3200, np.float32), wave]))
    assert len(f0) == num_frames(19200)
    assert abs(np.median(f0[30:]) - 150) < 2 and np.all(f0[:15] == 0)


def test_feature_dataset_labels_and_errors(clean_corpus):
    ds = FeatureDataset(clean_corpus, tasks=("vad", "emotion", "keyword"))
    item = ds[0]
    assert len(item["vad"]) == len(item["feats"]) and item["feats"].shape[1] == 40
    assert ds.classes["emotion"] == ["neutral", "happy", "sad", "angry", "fearful"]
    assert clean_corpus[0].emotion == ds.classes["emotion"][item["emotion"]]
    with pytest.raises(ValueError, match="unknown feature kind 'spectrogram'.*logmel, mfcc"):
        Features("spectrogram")
    sub = clean_corpus.subset(lambda u: u.emotion != "sad")
    with pytest.raises(ValueError, match="'sad'.*not among the classes"):
        FeatureDataset(clean_corpus, tasks=("emotion",), classes={"emotion": sub.classes("emotion")})
