"""Projections and probes against closed forms and planted structure; embeddings from a trained run."""
import numpy as np
import pytest

from mtlkit.embeddings import embed, linear_probe, pca, project, tsne


def clusters(k=3, n=30, d=10, spread=10.0, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, spread, (k, d))
    labels = np.repeat(np.arange(k), n)
    return centres[labels] + rng.normal(0, 1, (k * n, d)), labels


def nearest_neighbour_accuracy(y2, labels):
    d = ((y2[:, None] - y2[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    return float((labels[d.argmin(1)] == labels).mean())


def test_pca_recovers_the_direction_of_largest_variance():
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (500, 3)) * np.array([5.0, 2.0, 0.1])
    y = pca(x)
    assert y.shape == (500, 2)
    assert np.allclose(np.abs(y[:, 0]), np.abs(x[:, 0] - x[:, 0].mean()), atol=0.2)
    assert abs(np.var(y[:, 0]) / np.var(y[:, 1]) - 6.25) < 1.5
    assert np.allclose(np.cov(y.T)[0, 1], 0, atol=1e-8)


def test_tsne_keeps_planted_clusters_apart_and_is_seeded():
    x, labels = clusters()
    y = tsne(x, seed=1)
    assert y.shape == (90, 2) and np.isfinite(y).all()
    assert nearest_neighbour_accuracy(y, labels) == 1.0
    assert np.array_equal(y, tsne(x, seed=1))
    within = np.mean([np.linalg.norm(y[labels == c] - y[labels == c].mean(0), axis=1).mean() for c in range(3)])
    between = np.linalg.norm(y[labels == 0].mean(0) - y[labels == 1].mean(0))
    assert between > 3 * within


def _separation(y2, k=3, seed=0):
    """Between- over within-group spread of the best k-means split of a 2-D map (Lloyd's algorithm, 10 starts)."""
    rng, best = np.random.default_rng(seed), 0.0
    for _ in range(10):
        centres = y2[rng.choice(len(y2), k, replace=False)]
        for _ in range(50):
            group = ((y2[:, None] - centres[None]) ** 2).sum(-1).argmin(1)
            centres = np.stack([y2[group == c].mean(0) if (group == c).any() else centres[c] for c in range(k)])
        within = np.mean([np.linalg.norm(y2[group == c] - centres[c], axis=1).mean() for c in range(k)
                          if (group == c).sum() > 1])
        between = np.mean([np.linalg.norm(a - b) for i, a in enumerate(centres) for b in centres[i + 1:]])
        best = max(best, between / within)
    return best


def _kept_neighbours(x, y2, k=10):
    """Mean share of each point's k nearest neighbours in x that are also among its k nearest in the map."""
    def nearest(z):
        d = ((z[:, None] - z[None]) ** 2).sum(-1)
        np.fill_diagonal(d, np.inf)
        return np.argsort(d, 1)[:, :k]
    a, b = nearest(x), nearest(y2)
    return float(np.mean([len(set(a[i]) & set(b[i])) / k for i in range(len(x))]))


def test_tsne_of_unstructured_points_shows_no_clusters():
    """One Gaussian blob: the map must keep neighbours (far above a random layout's 10/89) and must not split it
    into separated groups (far below the planted clusters' separation). A t-SNE that invents clusters fails the
    second; a map that scrambles the points (random labels could not tell) fails the first."""
    x = np.random.default_rng(0).normal(0, 1, (90, 10))
    y = tsne(x)
    blob = np.random.default_rng(1).normal(0, 1, (90, 2))      # what "no groups" looks like in 2-D: about 2.4
    assert _kept_neighbours(x, y) > 3 * 10 / 89                 # measured 0.44; a random layout 0.09
    assert _separation(y) < 2 * _separation(blob)               # measured 2.6; three invented groups give ~20


def test_linear_probe_reads_separable_labels_and_not_random_ones():
    x, labels = clusters(k=4, spread=3.0)
    assert linear_probe(x, labels) > 0.95
    shuffled = np.random.default_rng(0).permutation(labels)
    assert linear_probe(x, shuffled) < 0.45           # chance is 0.25
    with pytest.raises(ValueError, match="at least 2 distinct labels"):
        linear_probe(x, np.zeros(len(x)))


def test_bad_projection_and_layer_are_named(clean_corpus):
    with pytest.raises(ValueError, match="unknown projection 'umap'.*pca, tsne"):
        project(np.zeros((5, 2)), "umap")
    from mtlkit.train import fit

    history = fit(clean_corpus, ["speaker"], epochs=1, progress=False)
    with pytest.raises(ValueError, match="unknown layer 'lstm9'.*cnn, lstm1, lstm2, head"):
        embed(history, clean_corpus.split("test"), layer="lstm9")


@pytest.mark.parametrize("sharing", ["hard", "cross_stitch"])
def test_embeddings_are_what_the_tasks_own_modules_compute(clean_corpus, sharing):
    """embed(task=t) against hooks on the model's modules in an ordinary forward pass: the hidden layer of t's
    head, and each layer's output averaged over the valid frames as t reads it (cross-stitch: sum_j A[t, j] h_j
    of the towers' outputs before they are mixed)."""
    import torch

    from mtlkit.train import batches, features_for, fit

    history = fit(clean_corpus, ["speaker", "emotion"], sharing=sharing, epochs=1, progress=False)
    test = clean_corpus.split("test")
    model, tasks = history.model.eval(), ["speaker", "emotion"]
    towers = model.towers if sharing == "cross_stitch" else {t: model.encoder for t in tasks}
    seen, handles = {}, []
    for t in tasks:
        modules = {"head": model.heads[t].mlp, 0: towers[t].stages[0][-1]}
        modules.update(enumerate(towers[t].stages[1:], start=1))
        for name, module in modules.items():
            handles.append(module.register_forward_hook(lambda m, i, out, key=(name, t): seen.update({key: out})))
    batch = next(batches(features_for(history, test), len(test), None))
    with torch.no_grad():
        model(batch["feats"], batch["lengths"])
    for handle in handles:
        handle.remove()
    n = -(-batch["lengths"] // model.frame_pool)                       # frames the layers run at
    for i, t in enumerate(tasks):
        assert np.allclose(embed(history, test, layer="head", task=t), seen["head", t].numpy(), atol=1e-5), t
        for k, layer in enumerate(model.layer_names):
            if sharing == "cross_stitch":
                out = sum(model.stitch[k][i, j] * seen[k, u] for j, u in enumerate(tasks))
            else:
                out = seen[k, t]
            valid = (torch.arange(out.shape[1])[None, :] < n[:, None]).unsqueeze(-1)
            expected = ((out * valid).sum(1) / n[:, None]).detach().numpy()
            assert np.allclose(embed(history, test, layer=layer, task=t), expected, atol=1e-5), (t, layer)
    if sharing == "cross_stitch":                                     # the towers differ, so the check has teeth
        assert not np.allclose(seen[0, "speaker"].numpy(), seen[0, "emotion"].numpy(), atol=1e-2)


def test_linear_r2_is_one_for_a_linear_function_and_near_zero_for_noise():
    from mtlkit.embeddings import linear_r2

    x = np.random.default_rng(0).normal(size=(200, 5))
    assert linear_r2(x, 3 * x[:, 0] - 2 * x[:, 3] + 100, l2=1e-6) > 0.999
    noise = np.random.default_rng(1).normal(size=200)
    assert linear_r2(x, noise) < 0.05
    big = np.random.default_rng(2).normal(size=(4000, 5))
    half = big[:, 0] + np.random.default_rng(3).normal(size=4000)     # var 1 signal + var 1 noise: R^2 = 0.5
    assert 0.46 < linear_r2(big, half) < 0.54
    with pytest.raises(ValueError, match="one value per embedding"):
        linear_r2(x, noise[:10])


def test_linear_cka_closed_form_invariances_and_its_shuffled_control():
    """CKA is 1 for a rotated, scaled, shifted copy, matches the formula (Kornblith et al. 2019, eq. 5 with a
    linear kernel) written with centring matrices, and shuffling the rows breaks it."""
    from mtlkit.embeddings import cka_test, linear_cka

    x, _ = clusters(k=4, n=15, d=6)
    q, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(6, 6)))
    assert abs(linear_cka(x, 3 * x @ q + 5) - 1) < 1e-12
    y = np.random.default_rng(2).normal(size=(60, 3))
    h = np.eye(60) - 1 / 60
    k, l_ = h @ x @ x.T @ h, h @ y @ y.T @ h
    hsic = lambda a, b: np.trace(a @ b)                                      # noqa: E731
    assert abs(linear_cka(x, y) - hsic(k, l_) / np.sqrt(hsic(k, k) * hsic(l_, l_))) < 1e-12
    observed, shuffled = cka_test(x, x @ q[:, :3] + 0.1 * y, permutations=200)       # half of x's directions
    assert shuffled.shape == (200,) and observed > 0.4 > 0.2 > np.quantile(shuffled, 0.95)
    observed, shuffled = cka_test(x, y, permutations=200)                              # unrelated
    assert observed < np.quantile(shuffled, 0.95)
    with pytest.raises(ValueError, match="same items: got 60 and 59 rows"):
        linear_cka(x, y[:59])
