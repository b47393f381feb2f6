"""The Lessons tab's measurements on cases with known answers: the KL's Monte Carlo estimate against its closed form,
both gradient estimators on a 1-D Gaussian, a pixel's neighbourhood, the straight-through gradients and the
EMA / k-means identity."""
import math

import numpy as np
import torch

from explorer.compute.lessons.elbo import kl_estimates
from explorer.compute.lessons.gaussian_decoder import binned, histogram, nearest, pixel_neighbourhood
from explorer.compute.lessons.gradients import gradient_variance
from explorer.compute.lessons.straight_through import codebook_step, straight_through


def test_kl_closed_form_is_the_formula_and_the_monte_carlo_estimate_agrees_within_its_error():
    mu, sigma = np.array([0.5, -1.0, 2.0]), np.array([0.3, 1.0, 2.0])
    r = kl_estimates(mu, sigma, seed=3, samples=(1, 100, 10_000))
    assert math.isclose(r.closed_form, 0.5 * (mu**2 + sigma**2 - 1 - 2 * np.log(sigma)).sum(), rel_tol=1e-12)
    assert math.isnan(r.errors[0]) and r.errors[1] > r.errors[2] > 0  # the error shrinks as L grows
    assert abs(r.estimates[2] - r.closed_form) < 4 * r.errors[2]
    assert r.estimates == kl_estimates(mu, sigma, seed=3, samples=(1, 100, 10_000)).estimates  # seeded


def test_kl_estimate_is_exact_when_q_is_the_prior():
    r = kl_estimates(np.zeros(4), np.ones(4), samples=(1, 8))
    assert r.closed_form == 0.0 and r.estimates == (0.0, 0.0)  # log q - log p = 0 at every draw


def quadratic(a: float):
    """f(z) = -(z - a)^2 / 2 and its gradient, for z (n, 1)."""
    return lambda z: (-(z[:, 0] - a) ** 2 / 2, -(z - a))


def test_both_gradient_estimators_are_unbiased_with_the_known_variances_on_a_1d_gaussian():
    # q = N(mu, s^2), f(z) = -(z - a)^2 / 2: E_q f = -((mu - a)^2 + s^2) / 2, so d/dmu = a - mu for both estimators
    mu, s, a, L, n = 1.0, 0.5, 3.0, 4, 200_000
    r = gradient_variance(quadratic(a), [mu], [s], samples=L, seed=0, draws=n)
    b = mu - a
    assert abs(r.reparam_mean[0] - (a - mu)) < 4 * s / math.sqrt(n)  # per draw: a - mu - s eps, variance s^2
    score_var = (b**4 + 18 * b**2 * s**2 + 15 * s**4) / (4 * s**2) - b**2  # Var[f(z) eps / s], by the moments of eps
    assert abs(r.score_mean[0] - (a - mu)) < 4 * math.sqrt(score_var / n)
    assert math.isclose(r.reparam_variance, s**2 / L, rel_tol=0.02)
    assert math.isclose(r.score_variance, score_var / L, rel_tol=0.05)
    assert r.orders_of_magnitude > 1  # the trick buys more than a factor of 10 here


def test_gradient_variances_fall_as_one_over_L_from_the_same_draws():
    one = gradient_variance(quadratic(0.0), [0.2], [1.0], samples=1, draws=1000)
    four = gradient_variance(quadratic(0.0), [0.2], [1.0], samples=4, draws=1000)
    assert math.isclose(one.reparam_variance, 4 * four.reparam_variance)
    assert math.isclose(one.orders_of_magnitude, four.orders_of_magnitude)


def test_a_pixel_neighbourhood_finds_the_disagreeing_pixel_and_measures_its_distance_to_the_decoder():
    rng = np.random.default_rng(0)
    latents = rng.normal(size=(100, 2))
    images = np.zeros((100, 1, 2, 2), np.uint8)
    images[:, 0, 1, 0] = np.where(np.arange(100) % 2, 255, 0)  # a pixel that is either black or white
    near_probs = np.zeros((1, 2, 2, 256))
    near_probs[..., 128] = 1.0  # a decoder sure of mid-grey everywhere
    r = pixel_neighbourhood(latents, images, latents[0], near_probs, k=20)
    assert r.pixel == (0, 1, 0) and r.neighbours[0] == 0
    assert r.empirical[0] + r.empirical[-1] == 1.0 and r.decoder[8] == 1.0
    assert r.total_variation == 1.0  # no overlap at all
    same = np.zeros((1, 2, 2, 256))
    same[..., 0], same[..., 255] = r.empirical[0], r.empirical[-1]
    assert pixel_neighbourhood(latents, images, latents[0], same, k=20).total_variation < 1e-12


def test_histograms_and_bins():
    assert histogram(np.array([0, 15, 16, 255])).tolist() == [0.5, 0.25] + [0.0] * 13 + [0.25]
    assert binned(np.full(256, 1 / 256)).sum() == 1.0
    assert nearest(np.array([[0.0], [2.0], [1.0]]), np.array([1.9]), 2).tolist() == [1, 2]


def test_the_selected_code_gets_gradient_from_the_codebook_loss_only_and_z_e_from_the_reconstruction():
    torch.manual_seed(0)
    codebook = torch.randn(8, 3)
    z_e = torch.randn(2, 3, 2, 2)
    target = torch.randn(2, 3, 2, 2)
    reconstruction = lambda z_q: (z_q * 2.0 - target).pow(2).sum()  # a linear "decoder" and squared error
    r = straight_through(z_e, codebook, reconstruction, cell=1, commitment=0.25, codebook_weight=1.0)
    assert r.code_from_reconstruction == 0.0  # the straight-through copy sends it to z_e
    assert math.isclose(r.code_from_codebook_loss, r.code_from_codebook_expected, rel_tol=1e-5)
    assert r.code_from_codebook_loss > 0
    e = codebook[r.code]
    z = z_e[0, :, 0, 1]
    assert math.isclose(r.vector_from_reconstruction, float((4 * (e * 2 - target[0, :, 0, 1])).norm()), rel_tol=1e-5)
    assert math.isclose(r.vector_from_commitment, float((2 * 0.25 * (z - e)).norm()), rel_tol=1e-5)


def test_one_ema_step_at_decay_zero_is_one_k_means_step_and_otherwise_a_step_of_one_minus_decay():
    torch.manual_seed(1)
    z, codebook = torch.randn(200, 4), torch.randn(10, 4)
    at0 = codebook_step(z, codebook, decay=0.0)
    assert at0.used.sum() > 5 and at0.difference < 1e-4  # equal up to the EMA's smoothing of the counts
    assert math.isclose(at0.step_ratio, 1.0, rel_tol=1e-4)
    half = codebook_step(z, codebook, decay=0.5)
    assert math.isclose(half.step_ratio, 0.5, rel_tol=1e-4) and half.difference > 0.01
    np.testing.assert_array_equal(half.kmeans[~half.used], codebook.numpy()[~half.used])  # unused codes stay
