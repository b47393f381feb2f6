"""The L-sample Monte Carlo estimate of the ELBO for one image, its standard error, KL and IWAE (montecarlo.py)."""
import numpy as np
import pytest
import torch

from explorer.compute.montecarlo import (
    IWAE_REPEATS,
    IwaeEstimate,
    MonteCarloError,
    check_samples,
    iwae_bound,
    iwae_generator,
    monte_carlo,
    standard_error,
)
from vae_core.evaluation.iwae import iwae_per_image
from vae_core.models.vae import VAE


@pytest.fixture(scope="module")
def model_and_x(teach_ex):
    return teach_ex.store.model("vae4"), teach_ex.store.data("vae4").x_test[5]


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
    assert r.iwae.k == 64 and r.iwae.repeats == IWAE_REPEATS and np.isfinite(r.iwae.nll) and r.iwae.se > 0


def test_iwae_bound_lies_below_the_elbo(model_and_x):
    model, x = model_and_x
    r = monte_carlo(model, x, 10_000, seed=4, iwae_k=512, limit=10_000)
    assert r.iwae.nll < r.neg_elbo + 3 * r.recon_se


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


def test_iwae_estimate_is_the_mean_of_its_repeats_with_numpys_standard_error():
    b = IwaeEstimate(k=8, estimates=(101.0, 103.5, 99.0, 100.5))
    assert b.repeats == 4 and b.nll == pytest.approx(101.0)
    assert b.se == pytest.approx(np.std([101.0, 103.5, 99.0, 100.5], ddof=1) / 2)
    assert np.isnan(IwaeEstimate(8, (5.0,)).se)


def test_iwae_repeats_are_independent_estimates_of_the_same_bound(model_and_x):
    model, x = model_and_x
    b = iwae_bound(model, x, k=16, seed=3, repeats=6)
    assert b.repeats == 6 and len(set(b.estimates)) == 6  # each repeat its own draws
    # the same numbers as vae_core.evaluate's IWAE of the image repeated, drawn from the IWAE generator
    want = iwae_per_image(model, np.repeat(x[None], 6, 0), 16, "cpu", generator=iwae_generator(3))
    np.testing.assert_array_equal(b.estimates, want.numpy())
    # the printed SE is the spread of the estimate over seeds
    runs = [iwae_bound(model, x, k=16, seed=s, repeats=6) for s in range(30)]
    spread = np.std([r.nll for r in runs], ddof=1)
    assert 0.5 < np.mean([r.se for r in runs]) / spread < 2.0


def test_iwae_draws_do_not_depend_on_L_and_are_not_the_L_draws(model_and_x):
    model, x = model_and_x
    a, b = (monte_carlo(model, x, L, seed=9, iwae_k=32) for L in (1, 64))
    assert a.iwae == b.iwae
    assert monte_carlo(model, x, 1, seed=10, iwae_k=32).iwae != a.iwae  # but they follow the seed
    d = a.eps.shape[1]
    # the L draws come from the seed itself (one randn of shape (L, 1, d)); the IWAE's first k x R draws do not
    np.testing.assert_allclose(b.eps, torch.randn((64, 1, d), generator=torch.Generator().manual_seed(9))[:, 0],
                               rtol=1e-4, atol=1e-4)
    iwae_draws = torch.randn((32, IWAE_REPEATS, d), generator=iwae_generator(9)).reshape(-1, d).numpy()
    assert not np.isclose(iwae_draws[:, None, :], b.eps[None], atol=1e-3).all(-1).any()
