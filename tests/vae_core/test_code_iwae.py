"""The IWAE bound of a VQ-VAE with its prior (vae_core.models.code_iwae), against the exact -log p(x): on 8x8 images the
2x2 code grid of 4 codes has 4^4 = 256 grids, few enough to sum p(c) p(x|c) over all of them."""
import itertools
import math

import pytest
import torch

from vae_core import CodePrior, Config, build_model
from vae_core.data import to_float
from vae_core.evaluation.iwae import iwae_per_image
from vae_core.evaluation.report import evaluate
from vae_core.models.code_iwae import log_weights, swap_scores

pytestmark = pytest.mark.usefixtures("vc_one_thread")
CODES = 4


@pytest.fixture(scope="module")
def vqvae_with_prior(vc_one_thread, tiny_cfg, digits):
    torch.manual_seed(0)
    cfg = tiny_cfg(model="vqvae", num_codes=CODES, vq_likelihood="discretized_logistic", kmeans_init=False)
    model = build_model(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    x, g = to_float(digits.x_train), torch.Generator().manual_seed(0)
    for _ in range(60):
        loss = model(x[torch.randint(0, len(x), (64,), generator=g)])["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    prior = CodePrior(Config(model="prior", num_codes=CODES, image_size=8, prior_dim=16, prior_layers=1,
                             prior_heads=2))
    with torch.no_grad():  # weights large enough that the prior is far from uniform and depends on the cells before
        for p in prior.parameters():
            p.normal_(0, 0.5)
    model.eval().prior = prior.eval()
    return model, to_float(digits.x_test[:6])


def exact_nll(model, x):
    """-log sum_c p(c) p(x|c) over all 256 grids, per image."""
    every = torch.tensor(list(itertools.product(range(CODES), repeat=4))).view(-1, 2, 2)
    with torch.no_grad():
        log_pc = model.prior.log_prob(every)  # (256,)
        params = model.decode(model.codebook[every].permute(0, 3, 1, 2))
        log_px = torch.stack([model.likelihood.log_prob(params, xi.expand(len(every), -1, -1, -1)) for xi in x])
    return -torch.logsumexp((log_pc + log_px).double(), 1)


def point_bound(model, x):
    """-log p(c*) - log p(x|c*), c* the encoder's grid."""
    with torch.no_grad():
        z_q, idx, _ = model.quantize(model.encode(x))
        return -(model.prior.log_prob(idx) + model.likelihood.log_prob(model.decode(z_q), x)).double()


def test_the_bound_lies_between_the_exact_code_length_and_the_point_bound(vqvae_with_prior):
    model, x = vqvae_with_prior
    exact, point = exact_nll(model, x), point_bound(model, x)
    assert (point > exact + 0.1).all()  # the encoder's grid is not all of p(x): there is room to tighten
    g = torch.Generator().manual_seed(0)
    iwae = -(torch.logsumexp(log_weights(model, x, 4000, g, nearest=CODES).double(), 1) - math.log(4000))
    assert (iwae >= exact - 0.05).all()  # a bound (up to Monte Carlo noise: the estimate of p(x) is unbiased)
    assert (iwae - exact).mean() < 0.25 * (point - exact).mean()  # most of the gap to the exact value is closed
    assert (iwae < point).all()


def test_a_proposal_on_the_encoders_grid_gives_the_point_bound(vqvae_with_prior):
    model, x = vqvae_with_prior
    w = log_weights(model, x, 3, torch.Generator().manual_seed(0), tau=1e-6, alpha=0.0, beta=0.0)
    torch.testing.assert_close(-w.double(), point_bound(model, x)[:, None].expand(-1, 3), atol=1e-3, rtol=0)


def test_the_bound_is_reproducible_from_a_seed_and_changes_with_it(vqvae_with_prior, digits):
    model, _ = vqvae_with_prior
    x = digits.x_test[:6]  # uint8, as evaluate reads images
    draw = lambda seed: iwae_per_image(model, x, 16, "cpu", generator=torch.Generator().manual_seed(seed))  # noqa
    torch.testing.assert_close(draw(1), draw(1))
    assert not torch.equal(draw(1), draw(2))


def test_evaluate_prints_the_vq_vaes_iwae_bound_beside_the_point_bound_on_the_same_images(vqvae_with_prior, digits):
    model, _ = vqvae_with_prior
    m = evaluate(model, digits.x_test[:40], batch_size=16, iwae_k=64, iwae_n=20)
    assert m["iwae_k"] == 64 and m["iwae_n"] == 20
    x = to_float(digits.x_test[:20])
    assert m["neg_elbo_iwae_subset"] == pytest.approx(point_bound(model, x).mean().item(), rel=1e-5)
    assert m["iwae_nll"] < m["neg_elbo_iwae_subset"]
    assert m["iwae_nll"] >= exact_nll(model, x).mean().item() - 0.05
    assert m["iwae_bits_per_dim"] == pytest.approx(m["iwae_nll"] / (64 * math.log(2)))
    assert 0 < m["iwae_nll_se"] < m["iwae_nll"]


def test_swap_scores_are_the_decoders_log_likelihood_change_when_one_cell_is_swapped(vqvae_with_prior):
    model, x = vqvae_with_prior
    with torch.no_grad():
        star = model.quantize(model.encode(x[:2]))[1].view(2, -1)  # (B, N) the encoder's grids
        near = torch.arange(CODES).expand(2, 4, CODES)  # every code of every cell
        swap = swap_scores(model, x[:2], star, near)

        def log_px(b, grid):
            params = model.decode(model.codebook[grid.view(1, 2, 2)].permute(0, 3, 1, 2))
            return model.likelihood.log_prob(params, x[b:b + 1])[0]

        for b, t, j in ((0, 0, 1), (1, 3, 2), (1, 2, int(star[1, 2]))):
            swapped = star[b].clone()
            swapped[t] = j
            assert swap[b, t, j].item() == pytest.approx((log_px(b, swapped) - log_px(b, star[b])).item(), abs=1e-3)
    assert swap[1, 2, int(star[1, 2])].item() == pytest.approx(0.0, abs=1e-4)  # the encoder's own code: no change


# A toy where the decoder matters: K = 6 codes spread far apart, so that log p(x|c) varies by tens of nats across
# the 6^4 = 1,296 grids, and a proposal restricted to the NEAR = 3 codes nearest each cell's z_e(x) (NEAR < K), so
# that q's support is a strict subset of the grids.
WIDE_CODES, NEAR = 6, 3


@pytest.fixture(scope="module")
def wide_vqvae(vc_one_thread, tiny_cfg, digits):
    torch.manual_seed(1)
    cfg = tiny_cfg(model="vqvae", num_codes=WIDE_CODES, vq_likelihood="discretized_logistic", kmeans_init=False)
    model = build_model(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    x, g = to_float(digits.x_train), torch.Generator().manual_seed(0)
    for _ in range(60):  # a decoder that draws digits, with a scale sharp enough to tell them apart
        loss = model(x[torch.randint(0, len(x), (64,), generator=g)])["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    prior = CodePrior(Config(model="prior", num_codes=WIDE_CODES, image_size=8, prior_dim=16, prior_layers=1,
                             prior_heads=2))
    with torch.no_grad():
        model.quantizer.embedding.normal_(0, 3.0)  # codes far apart: each decodes to a different image
        for p in prior.parameters():
            p.normal_(0, 0.5)
    model.prior = prior.eval()
    return model, to_float(digits.x_test[:3])


def every_wide_grid():
    return torch.tensor(list(itertools.product(range(WIDE_CODES), repeat=4)))  # (1296, 4)


def joint_log_prob(model, x, grids):
    """log p(c) + log p(x|c) of each grid for each image, exactly: (B, G)."""
    with torch.no_grad():
        log_pc = model.prior.log_prob(grids.view(-1, 2, 2))
        params = model.decode(model.codebook[grids.view(-1, 2, 2)].permute(0, 3, 1, 2))
        log_px = torch.stack([model.likelihood.log_prob(params, xi.expand(len(grids), -1, -1, -1)) for xi in x])
    return (log_pc + log_px).double()


def proposal_log_q(model, x, grids, weights=log_weights):
    """log q(c|x) of every grid, recovered from the weights that `weights` gives it: log p(x, c) - log w. (B, G)."""
    log_w = weights(model, x, len(grids), nearest=NEAR, grids=grids.expand(len(x), -1, -1)).double()
    return joint_log_prob(model, x, grids) - log_w


def test_the_wide_toy_has_a_decoder_that_matters_and_a_restricted_proposal(wide_vqvae):
    model, x = wide_vqvae
    grids = every_wide_grid()
    with torch.no_grad():
        params = model.decode(model.codebook[grids.view(-1, 2, 2)].permute(0, 3, 1, 2))
        log_px = model.likelihood.log_prob(params, x[0].expand(len(grids), -1, -1, -1))
    assert (log_px.max() - log_px.min()).item() > 30  # tens of nats between grids: the decoder's part counts
    support = proposal_log_q(model, x, grids).isfinite()
    assert (support.sum(1) == NEAR ** 4).all()  # q draws only the NEAR nearest codes of each cell


def wrong_log_weights(*args, **kwargs):
    """log w with log q understated by 0.02 nats: a bound 0.02 nats too short."""
    return log_weights(*args, **kwargs) + 0.02


def test_the_proposals_log_q_sums_to_one_and_a_log_q_off_by_002_nats_is_caught(wide_vqvae):
    """Exact, not Monte Carlo: q(c|x), recovered from the weights of every one of the 1,296 grids, sums to 1. A log q
    understated by 0.02 nats misses by 200 times the tolerance."""
    model, x = wide_vqvae
    for weights, ok in ((log_weights, True), (wrong_log_weights, False)):
        total = torch.logsumexp(proposal_log_q(model, x, every_wide_grid(), weights), 1)  # log sum_c q(c|x)
        assert (total.abs() < 1e-4).all() == ok, total


def test_the_wide_toys_iwae_estimate_is_unbiased_for_the_sum_over_qs_support(wide_vqvae):
    """Drawn, not scored: the mean of w over k draws of q estimates the sum over q's support of p(c) p(x|c) without
    bias (so the grids are drawn from the q whose log q the weights carry), and that sum bounds p(x)."""
    model, x = wide_vqvae
    grids = every_wide_grid()
    joint = joint_log_prob(model, x, grids)
    exact = -torch.logsumexp(joint, 1)  # -log p(x)
    on_support = proposal_log_q(model, x, grids).isfinite()
    restricted = -torch.logsumexp(torch.where(on_support, joint, -math.inf), 1)  # -log of q's share of p(x)
    assert (restricted > exact).all()  # leaving grids out of q only leaves terms out: still a bound
    k = 20_000
    log_w = log_weights(model, x, k, torch.Generator().manual_seed(0), nearest=NEAR).double()
    estimate = -(torch.logsumexp(log_w, 1) - math.log(k))  # -log of the mean of w
    w = torch.exp(log_w + estimate[:, None])  # w / mean(w)
    se = w.std(1) / math.sqrt(k)  # the standard error of log mean(w), by the delta method
    assert (se < 0.2).all(), se
    assert ((estimate - restricted).abs() < 4 * se).all(), (estimate - restricted, se)
