"""Loss weighting: each method against a hand computation or the property that defines it, and the registry."""
import itertools
import math

import pytest
import torch

from mtlkit.weighting import WEIGHTINGS, Combination, Weighting, make_weighting

TASKS = ["vad", "speaker", "emotion"]


def _grads(seed, T=3, D=6):
    return torch.randn(T, D, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _losses(T=3):
    return torch.rand(T, generator=torch.Generator().manual_seed(0)) + 0.5


# ----------------------------------------------------------------------------------------------- weight-based

def test_equal_and_fixed_are_plain_weighted_sums():
    losses = torch.tensor([1.0, 2.0, 3.0])
    assert make_weighting("equal", TASKS)(losses).loss.item() == pytest.approx(6.0)
    out = make_weighting("fixed", TASKS, weights={"speaker": 0.5, "emotion": 2.0})(losses)
    assert out.weights.tolist() == [1.0, 0.5, 2.0]
    assert out.loss.item() == pytest.approx(1 * 1 + 0.5 * 2 + 2 * 3)


def test_uncertainty_loss_and_its_gradient_match_the_hand_formula():
    weighting = make_weighting("uncertainty", TASKS)
    assert weighting.log_var.tolist() == [0.0, 0.0, 0.0]
    s = [0.3, -0.7, 1.2]
    with torch.no_grad():
        weighting.log_var.copy_(torch.tensor(s))
    L = [0.9, 2.5, 0.4]
    out = weighting(torch.tensor(L, requires_grad=True))
    assert out.loss.item() == pytest.approx(sum(math.exp(-si) * li + si for si, li in zip(s, L)), rel=1e-6)
    assert out.weights.tolist() == pytest.approx([math.exp(-si) for si in s], rel=1e-6)
    out.loss.backward()
    expected = [-math.exp(-si) * li + 1 for si, li in zip(s, L)]
    assert weighting.log_var.grad.tolist() == pytest.approx(expected, rel=1e-5)
    assert list(weighting.parameters()) == [weighting.log_var]


def test_uncertainty_weights_settle_at_one_over_the_loss_for_fixed_losses():
    weighting = make_weighting("uncertainty", TASKS, lr=0.05)
    optimizer = torch.optim.Adam(weighting.parameters(), lr=weighting.lr)
    L = torch.tensor([0.2, 1.0, 6.0])                          # d/ds (exp(-s) L + s) = 0  <=>  exp(-s) = 1 / L
    for _ in range(1500):
        optimizer.zero_grad()
        weighting(L).loss.backward()
        optimizer.step()
    assert weighting(L).weights.tolist() == pytest.approx((1 / L).tolist(), rel=0.02)


def test_dwa_is_equal_for_two_epochs_then_follows_the_loss_ratios():
    weighting = make_weighting("dwa", TASKS, temp=2.0)
    losses = torch.ones(3)
    assert weighting(losses).weights.tolist() == [1.0, 1.0, 1.0]
    weighting.epoch_end(torch.tensor([2.0, 1.0, 4.0]))
    assert weighting(losses).weights.tolist() == [1.0, 1.0, 1.0]
    weighting.epoch_end(torch.tensor([1.0, 0.9, 4.0]))
    ratios = [1.0 / 2.0, 0.9 / 1.0, 4.0 / 4.0]
    exps = [math.exp(r / 2.0) for r in ratios]
    expected = [3 * e / sum(exps) for e in exps]
    assert weighting(losses).weights.tolist() == pytest.approx(expected, rel=1e-6)
    weighting.epoch_end(torch.tensor([0.5, 0.9, 2.0]))        # only the last two epochs count
    exps = [math.exp(r / 2.0) for r in (0.5 / 1.0, 0.9 / 0.9, 2.0 / 4.0)]
    assert weighting(losses).weights.tolist() == pytest.approx([3 * e / sum(exps) for e in exps], rel=1e-6)


def test_rlw_weights_are_positive_sum_to_T_and_reproducible_with_a_seed():
    losses = torch.ones(3)
    first, again, other = (make_weighting("rlw", TASKS, seed=seed) for seed in (7, 7, 8))
    seq = [first(losses).weights for _ in range(5)]
    assert all(torch.equal(w, again(losses).weights) for w in seq)
    assert not torch.equal(seq[0], other(losses).weights)
    assert not torch.equal(seq[0], seq[1])                     # fresh weights every step
    for w in seq:
        assert (w > 0).all() and w.sum().item() == pytest.approx(3.0)


def test_gradnorm_keeps_weights_positive_summing_to_T():
    weighting = make_weighting("gradnorm", TASKS)
    assert weighting.needs_grads and list(weighting.parameters()) == []
    gen = torch.Generator().manual_seed(1)
    for _ in range(30):
        grads = torch.randn(3, 8, generator=gen) * torch.tensor([[0.1], [1.0], [5.0]])
        losses = torch.rand(3, generator=gen, requires_grad=True)
        out = weighting(losses, grads)
        assert out.direction is None
        assert out.loss.item() == pytest.approx((out.weights * losses.detach()).sum().item(), rel=1e-6)
        assert (weighting.weights > 0).all() and weighting.weights.sum().item() == pytest.approx(3.0)


def test_gradnorm_first_step_by_hand_does_not_depend_on_the_gradients_scale():
    """||g|| = (1, 3) and equal losses (r = 1): G = (1, 3), the target is Gbar = 2, the step on w is
    lr sign(G_i - 2) ||g_i|| / Gbar = 0.025 (-1/2, 3/2): w = (1.0125, 0.9625), rescaled to sum to 2."""
    for scale in (1.0, 1000.0):
        weighting = make_weighting("gradnorm", ["a", "b"])
        out = weighting(torch.tensor([2.0, 2.0]), scale * torch.tensor([[1.0, 0.0], [0.0, 3.0]]))
        assert out.weights.tolist() == [1.0, 1.0]                  # the loss uses the weights before the step
        assert weighting.weights.tolist() == pytest.approx([2 * 1.0125 / 1.975, 2 * 0.9625 / 1.975], rel=1e-6)


def test_gradnorm_raises_the_weight_of_the_task_with_the_smaller_gradient():
    weighting = make_weighting("gradnorm", ["a", "b"])
    grads = torch.tensor([[1.0, 0.0], [0.0, 3.0]])                # ||g_a|| = 1 < ||g_b|| = 3
    previous = 1.0
    for _ in range(5):
        weighting(torch.tensor([2.0, 2.0]), grads)               # equal training rates: r_a = r_b = 1
        assert weighting.weights[0].item() > previous
        previous = weighting.weights[0].item()
    assert weighting.weights.sum().item() == pytest.approx(2.0)


# ---------------------------------------------------------------------------------------------- gradient-based

@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_pcgrad_projects_two_conflicting_gradients_by_hand(seed):
    g1, g2 = torch.tensor([1.0, 0.0]), torch.tensor([-1.0, 1.0])
    # g1.g2 = -1 < 0: g1' = g1 - (-1 / ||g2||^2) g2 = (0.5, 0.5), g2' = g2 - (-1 / ||g1||^2) g1 = (0, 1)
    out = make_weighting("pcgrad", ["a", "b"], seed=seed)(torch.ones(2), torch.stack([g1, g2]))
    assert out.direction.tolist() == pytest.approx([0.5, 1.5])
    assert out.weights.tolist() == pytest.approx([2.0, 1.5])    # (1 + 1) g1 + (1 + 0.5) g2
    assert out.loss is None


def test_pcgrad_leaves_agreeing_gradients_unchanged():
    grads = torch.tensor([[1.0, 0.0, 2.0], [1.0, 1.0, 0.0], [0.0, 3.0, 1.0]])
    out = make_weighting("pcgrad", TASKS, seed=0)(torch.ones(3), grads)
    assert out.weights.tolist() == [1.0, 1.0, 1.0]
    assert torch.allclose(out.direction, grads.sum(0))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pcgrad_only_touches_the_conflicting_pair(seed):
    grads = torch.tensor([[1.0, 0.0, 0.0], [-1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])   # g3 is orthogonal to both
    out = make_weighting("pcgrad", TASKS, seed=seed)(torch.ones(3), grads)
    assert out.direction.tolist() == pytest.approx([0.5, 1.5, 1.0])
    assert out.weights.tolist() == pytest.approx([2.0, 1.5, 1.0])


def test_pcgrad_random_order_is_reproducible_with_a_seed_and_changes_with_it():
    grads = torch.tensor([[1.0, 0.0], [-0.5, 1.0], [-0.5, -1.0]])             # every pair conflicts
    runs = [make_weighting("pcgrad", TASKS, seed=5)(torch.ones(3), grads).weights for _ in range(2)]
    assert torch.equal(*runs)

    def projected(i, order):                                   # g_i projected off each g_j it conflicts with, in order
        g = grads[i]
        for j in order:
            g = g - min(g @ grads[j], 0) / (grads[j] @ grads[j]) * grads[j]
        return g

    others = [itertools.permutations([j for j in range(3) if j != i]) for i in range(3)]
    possible = {tuple(round(x, 4) for x in sum(projected(i, o) for i, o in enumerate(orders)).tolist())
                for orders in itertools.product(*others)}
    directions = [make_weighting("pcgrad", TASKS, seed=seed)(torch.ones(3), grads).direction for seed in range(8)]
    seen = {tuple(round(x, 4) for x in d.tolist()) for d in directions}
    assert len(possible) == 8 and seen <= possible
    assert len(seen) >= 4, seen                               # measured: 6 of the 8 orders' directions


@pytest.mark.parametrize("seed", range(6))
def test_mgda_two_tasks_matches_the_closed_form(seed):
    g = _grads(seed, T=2, D=4)
    if seed % 2:
        g[1] = -0.3 * g[0] + 0.1 * g[1]                          # strongly conflicting, often clipped
    g1, g2 = g
    gamma = float(((g2 - g1) @ g2 / (g1 - g2).pow(2).sum()).clamp(0, 1))
    out = make_weighting("mgda", ["a", "b"])(torch.ones(2), g)
    assert out.weights.tolist() == pytest.approx([2 * gamma, 2 * (1 - gamma)], abs=1e-9)
    assert torch.allclose(out.direction, 2 * (gamma * g1 + (1 - gamma) * g2), atol=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_mgda_three_tasks_is_no_longer_than_any_convex_combination_on_a_grid(seed):
    g = _grads(10 + seed, T=3, D=5)
    out = make_weighting("mgda", TASKS)(torch.ones(3), g)
    assert out.weights.sum().item() == pytest.approx(3.0) and (out.weights >= 0).all()
    best = (out.direction / 3).norm().item()
    n = 40
    grid = torch.tensor([[i / n, j / n, 1 - (i + j) / n] for i in range(n + 1) for j in range(n + 1 - i)],
                        dtype=torch.float64)
    assert best <= (grid @ g).norm(dim=1).min().item() + 1e-9
    d = out.direction / 3                                        # min-norm point: g_i . d >= ||d||^2 for every i
    assert ((g @ d) >= d @ d - 1e-9).all()


def test_mgda_l2_normalisation_is_the_min_norm_point_of_the_unit_gradients():
    g = _grads(3, T=3, D=5)
    norms = torch.tensor([[5.0], [0.1], [2.0]], dtype=torch.float64)
    units = g / g.norm(dim=1, keepdim=True)
    scaled = make_weighting("mgda", TASKS, normalize="l2")(torch.ones(3), units * norms)
    plain = make_weighting("mgda", TASKS)(torch.ones(3), units)
    assert torch.allclose(scaled.direction, plain.direction, atol=1e-12)     # the scales of the g_i do not matter
    assert torch.allclose(scaled.weights, plain.weights / norms[:, 0], atol=1e-12)
    assert torch.allclose(scaled.direction, scaled.weights @ (units * norms), atol=1e-12)


def test_mgda_every_normalisation_by_hand_on_two_orthogonal_gradients():
    """Orthogonal h_i = g_i / s_i: the min-norm point is gamma h1 + (1 - gamma) h2, gamma = |h2|^2 / (|h1|^2 + |h2|^2).

    The direction is 2 (gamma h1 + (1 - gamma) h2) and the weights 2 (gamma, 1 - gamma) / s.
    """
    g = torch.tensor([[3.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    losses = torch.tensor([2.0, 0.5])
    by_hand = {  # normalize: s, gamma
        "none": ((1, 1), 1 / 10),                      # h = (3, 0), (0, 1)
        "l2": ((3, 1), 1 / 2),                         # h = (1, 0), (0, 1)
        "loss": ((2, 0.5), 4 / 6.25),                  # h = (1.5, 0), (0, 2)
        "loss+": ((6, 0.5), 4 / 4.25),                 # h = (0.5, 0), (0, 2)
    }
    for normalize, (s, gamma) in by_hand.items():
        out = make_weighting("mgda", ["a", "b"], normalize=normalize)(losses, g)
        weights = [2 * gamma / s[0], 2 * (1 - gamma) / s[1]]
        assert out.weights.tolist() == pytest.approx(weights, rel=1e-12), normalize
        assert out.direction.tolist() == pytest.approx([3 * weights[0], weights[1]], rel=1e-12), normalize


# The min-norm point and CAGrad on hard inputs: T = 2..6, gradients in R^8 (float64).
KINDS = ("random", "conflicting", "nearly_opposed", "extreme_norms", "duplicated")


def _hard_grads(kind, T, seed=0):
    gen = torch.Generator().manual_seed(100 * T + KINDS.index(kind) + seed)
    g = torch.randn(T, 8, generator=gen, dtype=torch.float64)
    if kind == "conflicting":                          # pulled apart: many pairs with negative cosine
        g = g - 1.2 * g.mean(0)
    if kind == "nearly_opposed":                       # 0 is almost in the hull: the last one nearly cancels the rest
        g[-1] = -3 * torch.rand(T - 1, generator=gen, dtype=torch.float64) @ g[:-1] + 1e-7 * g[-1]
    if kind == "extreme_norms":                        # norms spanning 1e-4 .. 1e4
        g = g / g.norm(dim=1, keepdim=True) * torch.logspace(-4, 4, T, dtype=torch.float64)[:, None]
    if kind == "duplicated":                           # two identical tasks and a zero gradient
        g[1] = g[0]
        g[-1] = 0 if T > 2 else g[-1]
    return g


def _min_norm_reference(g, steps=20000):
    """An independent reference: accelerated projected gradient on the simplex, float64, run to convergence."""
    M = g @ g.T
    step = 1 / (2 * torch.linalg.eigvalsh(M).max())
    w = y = torch.full((len(g),), 1 / len(g), dtype=torch.float64)
    for k in range(steps):
        z = y - step * 2 * M @ y
        u, _ = torch.sort(z, descending=True)              # Euclidean projection onto the simplex
        css = u.cumsum(0) - 1
        rho = int((u - css / torch.arange(1, len(u) + 1) > 0).nonzero().max())
        w_next = (z - css[rho] / (rho + 1)).clamp_min(0)
        y = w_next + k / (k + 3) * (w_next - w)
        w = w_next
    return w


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("T", range(2, 7))
def test_mgda_satisfies_the_kkt_conditions_of_the_min_norm_point(kind, T):
    g = _hard_grads(kind, T)
    out = make_weighting("mgda", [f"t{i}" for i in range(T)])(torch.ones(T), g)
    w = out.weights / T
    assert (w >= 0).all() and w.sum().item() == pytest.approx(1.0, abs=1e-12)
    d = w @ g
    slack = g @ d - d @ d                                    # >= 0 for every task, = 0 where w_i > 0
    tol = 1e-7 * g.norm(dim=1) * d.norm() + 1e-300
    assert (slack >= -tol).all(), (slack / tol).tolist()
    assert (slack[w > 1e-6].abs() <= tol[w > 1e-6]).all(), (slack / tol).tolist()


@pytest.mark.parametrize("kind", ["random", "conflicting"])
@pytest.mark.parametrize("T", range(2, 7))
def test_mgda_agrees_with_a_projected_gradient_reference(kind, T):
    g = _hard_grads(kind, T, seed=1)
    d = make_weighting("mgda", [f"t{i}" for i in range(T)])(torch.ones(T), g).direction / T
    reference = _min_norm_reference(g) @ g
    assert d.norm() <= reference.norm() * (1 + 1e-9)         # never longer than the reference
    assert (d - reference).norm() <= 1e-5 * g.norm(dim=1).max()


@pytest.mark.parametrize("normalize", ["none", "l2", "loss", "loss+"])
@pytest.mark.parametrize("kind", KINDS[:4])
@pytest.mark.parametrize("T", range(2, 7))
def test_mgda_with_every_normalisation_lowers_every_loss_to_first_order(normalize, kind, T):
    g = _hard_grads(kind, T, seed=2)
    losses = torch.logspace(-2, 1, T)                        # the 'loss' normalisations divide by these
    out = make_weighting("mgda", [f"t{i}" for i in range(T)], normalize=normalize)(losses, g)
    gains = g @ out.direction                                # first-order decrease of each loss along -direction
    rounding = 1e-12 * g.norm(dim=1) * (out.weights.abs() @ g.norm(dim=1))     # d is a sum with cancellation
    assert (gains >= -rounding).all(), gains.tolist()


def test_cagrad_with_c_zero_is_the_mean_gradient():
    g = _grads(4)
    out = make_weighting("cagrad", TASKS, c=0.0)(torch.ones(3), g)
    assert torch.allclose(out.direction, g.mean(0), atol=1e-12)
    assert out.weights.tolist() == pytest.approx([1 / 3] * 3)


def test_cagrad_improves_the_worst_task_over_the_mean_and_is_optimal_in_its_ball():
    g = torch.tensor([[1.0, 0.1], [-0.6, 1.0]], dtype=torch.float64)   # conflicting: g1 . g2 < 0
    c = 0.5
    out = make_weighting("cagrad", ["a", "b"], c=c)(torch.ones(2), g)
    g0 = g.mean(0)
    assert (g @ out.direction).min() > (g @ g0).min() + 1e-3
    radius = c * g0.norm()
    assert (out.direction - g0).norm().item() == pytest.approx(radius.item(), rel=1e-9)
    angles = torch.linspace(0, 2 * math.pi, 20001, dtype=torch.float64)
    ball = g0 + radius * torch.stack([angles.cos(), angles.sin()], 1)  # the worst-case optimum lies on the sphere
    best_on_grid = (ball @ g.T).min(1).values.max().item()           # within ~1e-4 of the true optimum
    assert best_on_grid - 1e-12 <= (g @ out.direction).min().item() <= best_on_grid + 1e-4


@pytest.mark.parametrize("c", [0.5, 1.0, 2.0])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("T", range(2, 7))
def test_cagrad_worst_task_gain_is_never_below_the_mean_gradients(c, kind, T):
    g = _hard_grads(kind, T, seed=3)
    out = make_weighting("cagrad", [f"t{i}" for i in range(T)], c=c)(torch.ones(T), g)
    g0 = g.mean(0)
    scale = 1e-9 * g.norm(dim=1).max() * g0.norm()
    assert (out.direction - g0).norm() <= c * g0.norm() * (1 + 1e-9)          # inside CAGrad's ball
    assert (g @ out.direction).min() >= (g @ g0).min() - scale
    assert torch.allclose(out.direction, out.weights @ g, rtol=1e-9, atol=1e-12 * g.norm(dim=1).max())


@pytest.mark.parametrize("kind", ["random", "conflicting", "nearly_opposed", "extreme_norms"])
@pytest.mark.parametrize("T", [2, 3, 4, 5])
def test_cagrad_beats_every_point_of_its_ball_tried_at_random(kind, T):
    g = _hard_grads(kind, T, seed=4)
    c = 0.5
    out = make_weighting("cagrad", [f"t{i}" for i in range(T)], c=c)(torch.ones(T), g)
    g0 = g.mean(0)
    basis = torch.linalg.qr(g.T)[0]                          # the optimum lies in the span of the g_i
    u = torch.randn(20000, T, generator=torch.Generator().manual_seed(T), dtype=torch.float64)
    sphere = g0 + c * g0.norm() * (u / u.norm(dim=1, keepdim=True)) @ basis.T
    best_tried = (sphere @ g.T).min(1).values.max()
    assert (g @ out.direction).min() >= best_tried - 1e-9 * g.norm(dim=1).max() * g0.norm()


def test_cagrad_when_zero_is_in_the_hull_keeps_the_point_nearest_the_mean_where_no_task_loses():
    # g_w = 0 at the dual optimum (2/3 g1 + 1/3 g2 = 0): the best worst-task gain is 0, and g0 = (-1/3, 1/3) makes
    # task 1 lose (g1 . g0 = -1/3); the nearest point of the ball with g_i . d >= 0 for every i is (0, 1/3)
    g = torch.tensor([[1.0, 0.0], [-2.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    out = make_weighting("cagrad", TASKS, c=1.0)(torch.ones(3), g)
    assert out.direction.tolist() == pytest.approx([0.0, 1 / 3], abs=1e-12)
    assert (g @ out.direction).min().item() == pytest.approx(0.0, abs=1e-12)
    out = make_weighting("cagrad", ["a", "b"])(torch.ones(2), torch.tensor([[1.0, 0.0], [-1.0, 0.0]]))
    assert out.direction.tolist() == [0.0, 0.0] and out.weights.tolist() == pytest.approx([0.5, 0.5])


@pytest.mark.parametrize("T", [2, 3, 4])
def test_imtl_g_gives_equal_projections_on_every_unit_gradient(T):
    g = _grads(20 + T, T=T, D=7)
    out = make_weighting("imtl_g", TASKS + ["keyword"] if T == 4 else TASKS[:T])(torch.ones(T), g)
    projections = (g / g.norm(dim=1, keepdim=True)) @ out.direction
    assert torch.allclose(projections, projections[0].expand(T), rtol=1e-8)
    assert out.weights.sum().item() == pytest.approx(T)
    assert torch.allclose(out.direction, out.weights @ g)


@pytest.mark.parametrize("seed", range(5))
def test_nash_mtl_solves_its_equation_with_positive_weights(seed):
    g = _grads(30 + seed, T=3, D=8)
    out = make_weighting("nash_mtl", TASKS)(torch.ones(3), g)
    alpha = out.weights
    assert (alpha > 0).all()
    residual = (g @ g.T) @ alpha - 1 / alpha
    assert residual.norm() <= 1e-4 * (1 / alpha).norm()
    assert torch.allclose(g @ out.direction, 1 / alpha, rtol=1e-4)       # g_i . d = 1 / alpha_i


def test_nash_mtl_on_orthogonal_gradients_is_one_over_the_norms():
    g = torch.tensor([[3.0, 0.0, 0.0], [0.0, 0.5, 0.0], [0.0, 0.0, 2.0]])
    out = make_weighting("nash_mtl", TASKS)(torch.ones(3), g)
    assert out.weights.tolist() == pytest.approx([1 / 3.0, 1 / 0.5, 1 / 2.0], rel=1e-6)


# ------------------------------------------------------------------------------------- registry and edge cases

@pytest.mark.parametrize("name", list(WEIGHTINGS))
def test_every_weighting_builds_and_runs_one_step(name):
    weighting = make_weighting(name, TASKS)
    assert isinstance(weighting, Weighting)
    features = torch.randn(4, 5, requires_grad=True)              # a toy shared representation
    heads = torch.randn(3, 5)
    losses = (features @ heads.T).pow(2).mean(0)                 # (T,) with graph
    grads = torch.stack([torch.autograd.grad(loss, features, retain_graph=True)[0].flatten() for loss in losses])
    out = weighting(losses, grads if weighting.needs_grads else None)
    assert isinstance(out, Combination)
    assert out.weights.shape == (3,) and torch.isfinite(out.weights).all() and not out.weights.requires_grad
    if out.direction is None:
        out.loss.backward()
        assert torch.isfinite(features.grad).all()
    else:
        assert out.direction.shape == (20,) and torch.isfinite(out.direction).all()
        assert torch.allclose(out.direction, out.weights @ grads, atol=1e-6)
    weighting.epoch_end(losses.detach())


@pytest.mark.parametrize("name", list(WEIGHTINGS))
def test_zero_gradients_and_a_single_task_give_no_nans(name):
    out = make_weighting(name, TASKS)(torch.ones(3, requires_grad=True), torch.zeros(3, 4))
    assert torch.isfinite(out.weights).all()
    assert out.direction is None or torch.isfinite(out.direction).all()
    grads = torch.tensor([[1.0, -2.0]])
    out = make_weighting(name, ["vad"])(torch.ones(1, requires_grad=True), grads)
    assert torch.isfinite(out.weights).all() and out.weights.shape == (1,)
    if out.direction is not None:
        assert torch.isfinite(out.direction).all()
        assert torch.allclose(out.direction / out.weights, grads[0])   # one task: d is along its gradient


def test_opposite_gradients_stay_finite_and_cancel_as_their_closed_forms_say():
    """g2 = -g1, equal losses. Weight-based methods: 1 each (nothing to balance). Along the one line, every d that
    conflicts with no task is 0, so the gradient-based methods return d = 0 with these weights by hand:
    pcgrad: each g_i projected off the other is 0, g_i + g_j; mgda: gamma = 1/2; cagrad: g0 = 0, a ball of radius 0;
    imtl_g: d . u1 = d . u2 = -d . u1, alpha = 1/2 each; upgrad: both project to 0 on the cone x1 = 0;
    dualproj: g0 = 0 is in the cone; aligned_mtl: B 1 = 0 (1 is orthogonal to G's range);
    config: no direction makes the same positive angle with g and -g, weights 0."""
    grads = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])
    by_hand = {"equal": [1, 1], "fixed": [1, 1], "uncertainty": [1, 1], "dwa": [1, 1], "gradnorm": [1, 1],
               "famo": [1, 1], "pcgrad": [2, 2], "mgda": [1, 1], "cagrad": [0.5, 0.5], "imtl_g": [1, 1],
               "upgrad": [2, 2], "dualproj": [1, 1], "aligned_mtl": [0, 0], "config": [0, 0]}
    assert set(WEIGHTINGS) - set(by_hand) == {"rlw", "nash_mtl"}
    for name in WEIGHTINGS:
        out = make_weighting(name, ["a", "b"])(torch.ones(2, requires_grad=True), grads)
        assert torch.isfinite(out.weights).all(), name
        if name in by_hand:
            assert out.weights.tolist() == pytest.approx(by_hand[name], abs=1e-6), name
        if out.direction is not None:
            assert out.direction.abs().max() <= 1e-6 * (1 + out.weights.abs().max()), name
    alpha = make_weighting("nash_mtl", ["a", "b"])(torch.ones(2), grads).weights    # no solution: a ridge keeps it
    assert (alpha > 0).all() and alpha[0] == pytest.approx(alpha[1].item(), rel=1e-6)


def test_opposite_gradients_of_different_lengths_by_hand():
    """g2 = -2 g1: the weights that cancel are 2/3 and 1/3 (mgda's gamma, imtl_g's alpha); pcgrad projects
    g1' = g1 + g2/2 = 0 and g2' = g2 + 2 g1 = 0. CAGrad: g0 = -g1/2, its ball has radius c |g1|/2, and every d in
    it has g1 . d <= (c - 1) |g1|^2 / 2: for c < 1 the worst task (task 1) gains most at d = (c - 1) g1 / 2; for
    c >= 1 the best worst gain is 0, at the nearest such d to g0, which is 0."""
    g1 = torch.tensor([1.0, 2.0, 0.0], dtype=torch.float64)
    grads = torch.stack([g1, -2 * g1])

    def run(name, **options):
        return make_weighting(name, ["a", "b"], **options)(torch.ones(2), grads)

    for name, weights in (("mgda", [4 / 3, 2 / 3]), ("imtl_g", [4 / 3, 2 / 3]), ("pcgrad", [3, 1.5])):
        out = run(name)
        assert out.weights.tolist() == pytest.approx(weights, rel=1e-9), name
        assert out.direction.abs().max() <= 1e-12, name
    for name in ("upgrad", "dualproj"):
        assert run(name).direction.abs().max() <= 1e-12, name
    assert run("cagrad", c=0.5).direction.tolist() == pytest.approx((-0.25 * g1).tolist(), abs=1e-12)
    assert run("cagrad", c=1.5).direction.tolist() == pytest.approx([0.0, 0.0, 0.0], abs=1e-12)


def test_unknown_names_options_and_tasks_are_clear_errors():
    with pytest.raises(ValueError, match="unknown weighting 'magic'.*equal.*pcgrad.*nash_mtl"):
        make_weighting("magic", TASKS)
    with pytest.raises(ValueError, match="unknown dwa option 'temperature'.*temp"):
        make_weighting("dwa", TASKS, temperature=2.0)
    with pytest.raises(ValueError, match="'equal' takes no options"):
        make_weighting("equal", TASKS, temp=2.0)
    with pytest.raises(ValueError, match="unknown task 'speech'.*vad, speaker, emotion"):
        make_weighting("fixed", TASKS, weights={"speech": 2.0})
    with pytest.raises(ValueError, match="unknown normalization 'max'.*loss\\+"):
        make_weighting("mgda", TASKS, normalize="max")
    with pytest.raises(ValueError, match="needs grads"):
        make_weighting("pcgrad", TASKS)(torch.ones(3))


# ------------------------------------------------------------------------- granularity: representation or parameters

def _model_and_batch(sharing, seed=0):
    from mtlkit.models import MultiTaskModel

    torch.manual_seed(seed)
    model = MultiTaskModel({"vad": 2, "speaker": 3, "emotion": 4}, sharing=sharing, n_features=8, width=8, dropout=0.0)
    gen = torch.Generator().manual_seed(seed)
    batch = dict(feats=torch.randn(6, 12, 8, generator=gen), lengths=torch.tensor([12, 12, 10, 9, 12, 7]),
                 vad=torch.randint(0, 2, (6, 12), generator=gen), speaker=torch.randint(0, 3, (6,), generator=gen),
                 emotion=torch.randint(0, 4, (6,), generator=gen))
    return model, batch


def _step(model, name, batch, grad_on, diagnose=False, **options):
    """One train_step with a zero learning rate: the gradients are left in .grad and the parameters unchanged."""
    from mtlkit.train import train_step

    weigher = make_weighting(name, TASKS, **options)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    torch.manual_seed(7)                                       # the same dropout masks in every forward
    return train_step(model, weigher, optimizer, batch, TASKS, diagnose=diagnose, grad_on=grad_on)


def _independent_task_grads(model, batch):
    """(T, P): each task loss's gradient on the shared encoder's parameters, by torch.autograd.grad on a fresh forward."""
    from mtlkit.train import task_loss

    torch.manual_seed(7)
    out = model.train()(batch["feats"], batch["lengths"])
    rows = []
    for t in TASKS:
        loss = task_loss(t, out.logits[t], batch[t])
        grads = torch.autograd.grad(loss, model.shared_parameters(), retain_graph=True, allow_unused=True)
        rows.append(torch.cat([(g if g is not None else torch.zeros_like(p)).flatten()
                               for g, p in zip(grads, model.shared_parameters())]))
    return torch.stack(rows)


def _encoder_grad(model):
    return torch.cat([p.grad.flatten() for p in model.shared_parameters()])


def test_hierarchical_tasks_conflict_on_parameters_but_look_orthogonal_on_the_representation():
    model, batch = _model_and_batch("hierarchical")          # vad reads the cnn, speaker and emotion lstm2
    cos_rep = _step(model, "equal", batch, "representation", diagnose=True)[2]
    cos_par = _step(model, "equal", batch, "parameters", diagnose=True)[2]
    assert cos_rep[0, 1] == 0 and cos_rep[0, 2] == 0         # disjoint supports: exactly 0, whatever the tasks do
    assert (cos_par[~torch.eye(3, dtype=torch.bool)].abs() > 1e-3).all()   # every pair: a real, nonzero cosine
    G = _independent_task_grads(model, batch)
    unit = G / G.norm(dim=1, keepdim=True)
    assert torch.allclose(cos_par, unit @ unit.T, atol=1e-5)


def test_mgda_on_parameters_writes_w_times_the_task_gradients_into_the_encoder():
    model, batch = _model_and_batch("hierarchical", seed=1)
    _, combo, _ = _step(model, "mgda", batch, "parameters")
    G = _independent_task_grads(model, batch)
    expected = combo.weights.float() @ G
    assert torch.allclose(_encoder_grad(model), expected, rtol=1e-4, atol=1e-6 * expected.abs().max())
    w = combo.weights.double() / 3                             # and w is the min-norm point of these G (KKT)
    d = w @ G.double()
    assert ((G.double() @ d) >= (d @ d) * (1 - 1e-4)).all() and w.sum().item() == pytest.approx(1.0)


def test_pcgrad_on_parameters_without_conflict_is_exactly_the_equal_weighting_step():
    for seed in range(20):                                     # find a batch whose task gradients do not conflict
        model, batch = _model_and_batch("hard", seed=seed)
        G = _independent_task_grads(model, batch)
        if ((G @ G.T) > 0).all():
            break
    else:
        pytest.fail("no batch without conflict among 20 seeds")
    _step(model, "equal", batch, "parameters")
    equal = {name: p.grad.clone() for name, p in model.named_parameters()}
    _, combo, _ = _step(model, "pcgrad", batch, "parameters", seed=0)
    assert combo.weights.tolist() == [1.0, 1.0, 1.0]
    for name, p in model.named_parameters():                   # the encoder and every head
        assert torch.allclose(p.grad, equal[name], rtol=1e-5, atol=1e-7), name


def test_pcgrad_on_parameters_projects_the_conflicting_task_gradients():
    model, batch = _model_and_batch("hierarchical", seed=2)
    _, combo, _ = _step(model, "pcgrad", batch, "parameters", seed=0)
    G = _independent_task_grads(model, batch).double()
    assert torch.allclose(_encoder_grad(model).double(), combo.weights.double() @ G, rtol=1e-4, atol=1e-7)
    assert torch.allclose(combo.weights.double(), make_weighting("pcgrad", TASKS, seed=0)(torch.ones(3), G).weights,
                          atol=1e-4)


# ------------------------------------------------------------------- issue 17: UPGrad, DualProj, Aligned-MTL, ConFIG, FAMO

def _direction(name, grads, losses=None, **options):
    out = make_weighting(name, [f"t{i}" for i in range(len(grads))], **options)(
        torch.ones(len(grads)) if losses is None else losses, grads)
    return out.direction if out.direction is not None else out.weights.to(grads) @ grads


def test_upgrad_and_dualproj_by_hand_on_two_obtuse_gradients():
    """g1 = (1, 0), g2 = (-1, 1): the dual cone is {x1 >= 0, x2 >= x1}; projections drawn on paper."""
    g = torch.tensor([[1.0, 0.0], [-1.0, 1.0]], dtype=torch.float64)
    # pi(g1) = (0.5, 0.5) (onto x2 = x1), pi(g2) = (0, 1) (onto x1 = 0): their sum
    assert _direction("upgrad", g).tolist() == pytest.approx([0.5, 1.5])
    # g0 = (0, 0.5) is already in the cone: DualProj leaves it, times T
    assert _direction("dualproj", g).tolist() == pytest.approx([0.0, 1.0])
    h = torch.tensor([[1.0, 0.0], [-2.0, 0.5]], dtype=torch.float64)   # g0 = (-0.5, 0.25): g1 . g0 < 0
    # the nearest point of the cone {x1 >= 0, x2 >= 4 x1} to g0 is (0, 0.25); times T = 2
    assert _direction("dualproj", h).tolist() == pytest.approx([0.0, 0.5])


def test_aligned_mtl_and_config_by_hand():
    g = torch.tensor([[2.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    # G = diag(4, 1), lambda_min = 1, B = diag(1/2, 1): w = (0.5, 1), d = g1/2 + g2 = (1, 1)
    assert _direction("aligned_mtl", g).tolist() == pytest.approx([1.0, 1.0])
    # scale='mean': s = 2.5, B = sqrt(2.5) diag(1/2, 1): d = sqrt(2.5) (1, 1)
    assert _direction("aligned_mtl", g, scale="mean").tolist() == pytest.approx([2.5 ** 0.5] * 2)
    h = torch.tensor([[1.0, 0.0], [0.0, 2.0]], dtype=torch.float64)
    # u = (1, 1)/sqrt(2), length = 1/sqrt(2) + 2/sqrt(2): d = (1.5, 1.5)
    assert _direction("config", h).tolist() == pytest.approx([1.5, 1.5])


def _torchjd(name):
    aggregation = pytest.importorskip("torchjd.aggregation")
    from torchjd._linalg import QuadprogProjector

    exact = QuadprogProjector(norm_eps=0.0, reg_eps=0.0)
    return {"upgrad": lambda: aggregation.UPGrad(projector=exact), "dualproj": lambda: aggregation.DualProj(
        projector=exact), "aligned_mtl": aggregation.AlignedMTL, "config": aggregation.ConFIG}[name]()


@pytest.mark.parametrize("name,scale", [("upgrad", "T"), ("dualproj", "T"), ("aligned_mtl", "T"), ("config", "1")])
@pytest.mark.parametrize("T", range(2, 7))
def test_new_aggregators_agree_with_torchjds(name, scale, T):
    """TorchJD (an independent implementation, quadprog for the QPs) on random and conflicting gradients."""
    theirs = _torchjd(name)
    for kind in ("random", "conflicting", "extreme_norms"):
        for seed in range(3):
            g = _hard_grads(kind, T, seed)
            ours = _direction(name, g) / (T if scale == "T" else 1)
            reference = theirs(g)
            assert torch.allclose(ours, reference.to(ours), rtol=1e-5, atol=1e-7 * g.norm()), (kind, seed)


@pytest.mark.parametrize("name", ["upgrad", "dualproj"])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("T", range(2, 7))
def test_dual_cone_methods_conflict_with_no_task(name, kind, T):
    g = _hard_grads(kind, T)
    d = _direction(name, g)
    assert (g @ d >= -1e-10 * g.norm(dim=1) * g.norm(dim=1).max() * T).all()   # float64 round-off of d's sum


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("T", range(2, 7))
def test_dualproj_is_the_nearest_non_conflicting_direction_to_the_mean(kind, T):
    """KKT of min ||x - g0||^2 s.t. G x >= 0: x - g0 = sum_i mu_i g_i, mu >= 0, mu_i (g_i . x) = 0."""
    from mtlkit.weighting.dual_cone import project_weights

    g = _hard_grads(kind, T)
    v = project_weights(g @ g.T, torch.full((T,), 1 / T, dtype=torch.float64))
    mu, x = v - 1 / T, v @ g
    scale = g.norm(dim=1).max() ** 2
    assert (mu >= -1e-12).all() and (g @ x >= -1e-9 * scale).all()
    assert (mu * (g @ x)).abs().max() <= 1e-8 * scale * max(1.0, mu.abs().max())
    for seed in range(20):                             # and no feasible point tried at random is nearer
        y = x + 0.1 * torch.randn(g.shape[1], generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        if (g @ y >= 0).all():
            assert (y - g.mean(0)).norm() >= (x - g.mean(0)).norm() - 1e-12


@pytest.mark.parametrize("T", range(2, 7))
def test_aligned_mtl_aligned_gradients_are_orthogonal_and_equally_long(T):
    from mtlkit.weighting.aligned_mtl import balance_transformation

    ill = _hard_grads("random", T) * torch.logspace(-1.5, 1.5, T, dtype=torch.float64)[:, None]   # cond(G) ~ 1e6
    for kind, g in (("random", _hard_grads("random", T)), ("conflicting", _hard_grads("conflicting", T)),
                    ("ill-conditioned", ill)):
        G = g @ g.T
        B = balance_transformation(G)
        aligned = B @ G @ B                                        # Gram of the aligned gradients B g
        lam_min = torch.linalg.eigvalsh(G).min()
        assert torch.allclose(aligned, lam_min * torch.eye(T, dtype=G.dtype), atol=1e-6 * lam_min), kind


@pytest.mark.parametrize("T", range(2, 7))
def test_config_makes_an_equal_angle_with_every_task_and_is_as_long_as_their_projections(T):
    for kind in ("random", "conflicting", "extreme_norms"):
        g = _hard_grads(kind, T)
        d = _direction("config", g)
        cosines = g @ d / (g.norm(dim=1) * d.norm())
        assert torch.allclose(cosines, cosines[0].expand(T), rtol=1e-8) and cosines[0] > 0, kind
        u = d / d.norm()
        assert d.norm().item() == pytest.approx((g @ u).sum().item(), rel=1e-10)


def test_famo_weights_by_hand_and_its_logits_follow_adam():
    """First call: w_i = T (1/L_i) / sum_j 1/L_j (z uniform). Then the logits take torch.optim.Adam's steps."""
    famo = make_weighting("famo", TASKS, lr=0.05, gamma=0.01)
    sequence = [torch.tensor(x) for x in ([1.0, 2.0, 4.0], [0.9, 1.9, 3.0], [0.5, 1.8, 2.9], [0.4, 1.0, 2.0])]
    out = famo(sequence[0].requires_grad_())
    inv = 1 / torch.tensor([1.0, 2.0, 4.0])
    assert out.weights.tolist() == pytest.approx((3 * inv / inv.sum()).tolist(), rel=1e-6)
    xi = torch.zeros(3, dtype=torch.float64, requires_grad=True)          # the reference: autograd + Adam
    adam = torch.optim.Adam([xi], lr=0.05, weight_decay=0.01)
    for before, now in zip(sequence, sequence[1:]):
        out = famo(now.clone().requires_grad_())
        delta = (before.double() + 1e-8).log() - (now.double() + 1e-8).log()
        adam.zero_grad()
        xi.grad = torch.autograd.grad(torch.softmax(xi, 0), xi, grad_outputs=delta)[0]
        adam.step()
        assert famo.logits.tolist() == pytest.approx(xi.tolist(), rel=1e-6, abs=1e-9)
        z = torch.softmax(xi.detach(), 0) / (now.double() + 1e-8)
        assert out.weights.tolist() == pytest.approx((3 * z / z.sum()).tolist(), rel=1e-6)
    loss = out.loss
    loss.backward()                                    # the loss is sum_i w_i L_i with w detached
    assert loss.item() == pytest.approx((out.weights * sequence[-1]).sum().item(), rel=1e-6)


def test_famo_balances_the_rates_at_which_the_log_losses_fall():
    """Two quadratic tasks of scales 1 and 100 on one parameter vector: equal weighting lets the large one
    dominate; FAMO's log-losses fall at closer rates (its defining property)."""
    def run(name):
        torch.manual_seed(0)
        theta = torch.zeros(2, requires_grad=True)
        targets, scales = torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([1.0, 100.0])
        weighting, opt = make_weighting(name, ["a", "b"]), torch.optim.SGD([theta], lr=2e-3)
        start = None
        for _ in range(60):
            losses = scales * ((theta - targets) ** 2).sum(1) + 1e-3
            start = losses.detach() if start is None else start
            opt.zero_grad()
            weighting(losses).loss.backward()
            opt.step()
        fell = (start.log() - losses.detach().log())
        return float(fell.min() / fell.max())                 # 1: both log-losses fell equally
    assert run("famo") > 0.9 and run("equal") < 0.1      # measured: 0.997 (both fell by 0.55) and -0.08


# ------------------------------------------------------------------------------ issue 17: the property table

@pytest.fixture(scope="module")
def table():
    from mtlkit.weighting import properties

    return {row["name"]: row for row in properties()}


def test_property_table_covers_every_weighting_with_every_column(table):
    assert list(table) == list(WEIGHTINGS)
    for row in table.values():
        assert {"non_conflicting", "linear_under_scaling", "scale_invariant", "weighted", "needs_grads",
                "ms_per_call"} <= set(row) and row["ms_per_call"] >= 0


def test_property_table_agrees_with_what_is_proved(table):
    """Theorems, not measurements: UPGrad has all three (Quinton & Rey 2024, Sec. 2.2 and App. B); MGDA and DualProj
    are non-conflicting and weighted; a fixed sum is linear and weighted but conflicts; dividing each task by its
    own loss (FAMO at its start) makes it scale-invariant and so not linear; IMTL-G and ConFIG look only at unit
    gradients (invariant); ConFIG's length is linear in the scales; Nash-MTL's alpha_i shrinks as its task grows."""
    def has(name, *columns):
        return all(table[name][c] for c in columns)

    assert has("upgrad", "non_conflicting", "linear_under_scaling", "weighted")
    assert has("mgda", "non_conflicting", "weighted") and has("dualproj", "non_conflicting", "weighted")
    assert has("equal", "linear_under_scaling", "weighted") and not table["equal"]["non_conflicting"]
    assert has("famo", "scale_invariant") and not table["famo"]["linear_under_scaling"]
    assert has("imtl_g", "scale_invariant") and has("config", "scale_invariant", "linear_under_scaling")
    assert has("nash_mtl", "non_conflicting", "scale_invariant", "weighted")   # Navon et al. 2022, Sec. 3
    assert not table["mgda"]["linear_under_scaling"] and not table["dualproj"]["linear_under_scaling"]
    assert [n for n, r in table.items()
            if r["non_conflicting"] and r["linear_under_scaling"] and r["weighted"]] == ["upgrad"]


def test_property_measurement_catches_a_method_that_breaks_its_promise(monkeypatch):
    """Control: a 'UPGrad' that forgets to project is measured as conflicting; one with a negative weight as not
    weighted; one that normalises the gradients as not linear."""
    from mtlkit.weighting import base, properties

    class Forgetful(base.Weighting):
        needs_grads = True

        def forward(self, losses, grads=None):
            return base.combine(torch.ones(self.num_tasks), grads)

    class Negative(Forgetful):
        def forward(self, losses, grads=None):
            w = torch.ones(self.num_tasks)
            w[0] = -0.5
            return base.combine(w, grads)

    class Normalising(Forgetful):
        def forward(self, losses, grads=None):
            return base.combine(1 / grads.norm(dim=1), grads)

    for name, cls in (("forgetful", Forgetful), ("negative", Negative), ("normalising", Normalising)):
        monkeypatch.setitem(WEIGHTINGS, name, cls)
    rows = {r["name"]: r for r in properties(["forgetful", "negative", "normalising"])}
    assert not rows["forgetful"]["non_conflicting"] and rows["forgetful"]["linear_under_scaling"]
    assert not rows["negative"]["weighted"] and rows["forgetful"]["weighted"]
    assert not rows["normalising"]["linear_under_scaling"] and rows["normalising"]["scale_invariant"]


def test_gradnorm_gives_weight_to_the_task_that_trains_slower():
    """Equal gradient norms, so only the training-rate term r_i = (L_i/L_i(0)) / mean_j(.) can move the weights:
    the task whose loss fell less gains weight; with alpha = 0 nothing moves; L_i(0) is the first call's.
    The bugs this catches: the ratio inverted (L_i(0)/L_i), alpha ignored, L_i(0) re-captured every call."""
    grads = torch.tensor([[1.0, 0.0], [0.0, 1.0]])                 # equal norms, orthogonal
    start, later = torch.tensor([2.0, 2.0]), torch.tensor([1.0, 2.0])   # task a halved its loss, task b did not
    for alpha, moves in ((1.5, True), (0.0, False)):
        weighting = make_weighting("gradnorm", ["a", "b"], alpha=alpha, lr=0.1)
        weighting(start.clone().requires_grad_(), grads)
        assert weighting.weights.tolist() == pytest.approx([1.0, 1.0])      # r = 1 at the first call
        for _ in range(3):
            weighting(later.clone().requires_grad_(), grads)
        w = weighting.weights.tolist()
        assert weighting.initial_losses.tolist() == [2.0, 2.0]
        if moves:
            assert w[1] > w[0] + 0.1 and sum(w) == pytest.approx(2.0), w       # b trains slower: more weight
        else:
            assert w == pytest.approx([1.0, 1.0]), w


@pytest.mark.parametrize("name", ["cagrad", "upgrad", "dualproj"])
def test_exact_solvers_refuse_more_tasks_than_they_handle_when_built(name):
    cls = WEIGHTINGS[name]
    make_weighting(name, [f"t{i}" for i in range(10)])
    with pytest.raises(ValueError, match=f"{cls.__name__}'s exact solver handles up to 10 tasks, got T=11"):
        make_weighting(name, [f"t{i}" for i in range(11)])
