"""The L-sample Monte Carlo estimate of the ELBO for one image, its standard error, KL and IWAE (montecarlo.py)."""
import numpy as np
import pytest
import torch

from explorer.compute.montecarlo import (
    MonteCarloError,
    check_samples,
    monte_carlo,
    standard_error,
)
from vae_core.models.vae import VAE


@pytest.fixture(scope="module")
def model_and_x(teach_ex):
    return teach_ex.registry.model("vae4"), teach_ex.data("vae4").x_test[5]


def test_L64_estimate_is_within_3_standard_errors_of_a_10000_sample_estimate(model_and_x):
    model, x = model_and_x
    small = monte_carlo(model, x, 64, seed=1, iwae_k=0)
    big = monte_carlo(model, x, 10_000, seed=2, iwae_k=0, limit=10_000)
    assert small.recon_se > 0 and big.recon_se < small.recon_se / 8
    assert abs(small.recon - big.recon) < 3 * np.hypot(small.recon_se, big.recon_se)


def test_standard_error_shrinks_as_one_over_sqrt_L_and_matches_the_spread(model_and_x):
    model, x = model_and_x
    runs = {L: [monte_carlo(model, x, L, seed=s, iwae_k=0) for s in range(40)] for L in (4, 64)}
    spread = {L: np.std([r.recon for r in rs], ddof=1) for L, rs in runs.items()}
    se = {L: np.mean([r.recon_se for r in rs]) for L, rs in runs.items()}
    assert 2.5 < spread[4] / spread[64] < 6.5  # sqrt(64 / 4) = 4
    assert 2.5 < se[4] / se[64] < 6.5
    assert 0.6 < se[64] / spread[64] < 1.6  # the printed SE is the estimate's actual spread over seeds


def test_samples_are_mu_plus_sigma_eps_and_the_terms_add_up(model_and_x):
    model, x = model_and_x
    r = monte_carlo(model, x, 16, seed=3, iwae_k=64)
    np.testing.assert_allclose(r.z, r.mu + r.sigma * r.eps, rtol=1e-5, atol=1e-6)
    with torch.no_grad():
        mu, log_sigma = model.encode(torch.from_numpy(x[None]).float() / 255)
    np.testing.assert_allclose(r.mu, mu[0].numpy())
    assert r.kl == pytest.approx(float(VAE.kl(mu, log_sigma)[0]))
    assert r.recon == pytest.approx(r.neg_log_px.mean()) and r.neg_elbo == pytest.approx(r.recon + r.kl)
    assert r.recon_se == pytest.approx(np.std(r.neg_log_px, ddof=1) / 4)
    assert r.decodes.shape == (16, 1, 8, 8) and 0 <= r.decodes.min() and r.decodes.max() <= 1
    assert np.isfinite(r.iwae) and r.iwae_k == 64


def test_iwae_bound_lies_below_the_elbo(model_and_x):
    model, x = model_and_x
    r = monte_carlo(model, x, 10_000, seed=4, iwae_k=512, limit=10_000)
    assert r.iwae < r.neg_elbo + 3 * r.recon_se


def test_seeded_repeatable_and_seeds_differ(model_and_x):
    model, x = model_and_x
    a, b, c = (monte_carlo(model, x, 8, seed=s, iwae_k=0) for s in (7, 7, 8))
    np.testing.assert_array_equal(a.z, b.z)
    assert not np.allclose(a.z, c.z)
    assert np.isnan(monte_carlo(model, x, 1, seed=0, iwae_k=0).recon_se)


@pytest.mark.parametrize("bad", [0, 65, 1.5, True, "3", None, -1])
def test_bad_sample_counts_are_refused(bad):
    with pytest.raises(MonteCarloError, match="samples L"):
        check_samples(bad)


@pytest.mark.parametrize("bad", [-1, 1.5, "a", None, True])
def test_bad_seeds_are_refused(model_and_x, bad):
    with pytest.raises(MonteCarloError, match="seed"):
        monte_carlo(*model_and_x, 4, seed=bad)


def test_standard_error_formula():
    assert standard_error(np.array([1.0, 3.0])) == pytest.approx(np.sqrt(2.0) / np.sqrt(2.0))
