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
