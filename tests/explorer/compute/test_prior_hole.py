"""The prior hole (explorer/compute/prior_hole.py), and the Maths and Generate views showing both priors."""
import json

import gradio as gr
import numpy as np
import pytest

from explorer.compute.prior_hole import hole_sentence, nearest_distance, percentiles, prior_hole, score_and_error
from explorer.web.session import LatentSession, MathsSession


def posteriors(mu: np.ndarray, sigma: float, rng) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """mu, a constant sigma like it, and one latent z ~ q(z|x) of each."""
    sigma = np.full_like(mu, sigma)
    return mu, sigma, mu + sigma * rng.standard_normal(mu.shape)


def ring(n: int, radius: float, rng) -> np.ndarray:
    """n posterior means spread evenly round a circle of the radius in 2-D, shuffled."""
    t = rng.uniform(0, 2 * np.pi, n)
    return radius * np.stack([np.cos(t), np.sin(t)], 1)


def test_nearest_distance_is_the_distance_to_the_closest_mean():
    rng = np.random.default_rng(0)
    z, mu = rng.normal(size=(7, 5)), rng.normal(size=(11, 5))
    want = np.sqrt(((z[:, None] - mu[None]) ** 2).sum(2)).min(1)
    np.testing.assert_allclose(nearest_distance(z, mu), want, rtol=1e-10)
    assert nearest_distance(mu[:3], mu).max() < 1e-6  # a mean is at distance 0 from itself


def test_percentiles_count_ties_half_and_the_score_is_the_chance_a_sample_lies_farther():
    ref = np.array([1.0, 2.0, 2.0, 3.0])
    np.testing.assert_allclose(percentiles(np.array([0.5, 2.0, 3.5]), ref), [0.0, 0.5, 1.0])
    rng = np.random.default_rng(0)
    d, r = rng.normal(size=300) + 0.5, rng.normal(size=400)
    score, error = score_and_error(d, r)
    assert score == pytest.approx((d[:, None] > r[None]).mean())  # P(D > D'), the area under the ROC curve
    assert 0.01 < error < 0.04  # DeLong's, about sqrt(1/12 (1/300 + 1/400)) for two near-normal samples


def test_n01_inside_a_ring_of_posteriors_lands_in_the_hole_and_the_aggregate_posterior_does_not():
    rng = np.random.default_rng(0)
    mu, sigma, z = posteriors(ring(3000, 4.0, rng), 0.1, rng)  # N(0, I) puts its mass in the ring's middle
    h = prior_hole(mu[:2000], sigma[:2000], {"standard": rng.standard_normal((500, 2)), "same": z[2000:]}, seed=0)
    assert h.scores["standard"] > 0.99  # nearly every sample lies farther out than every image's latent
    assert abs(h.scores["same"] - 0.5) < 3 * h.errors["same"] + 0.01  # the prior is the aggregate posterior
    assert 0.005 < h.errors["same"] < 0.03


@pytest.mark.parametrize("share", [0.2, 0.6])
def test_a_known_share_in_the_hole_scores_half_plus_half_that_share(share):
    """Two clusters in 8-D: a prior that draws (1 - share) of its samples from the images' posteriors and the rest
    from the empty space between the clusters scores 50% + share / 2."""
    rng = np.random.default_rng(1)
    centre = np.zeros(8)
    centre[0] = 6.0
    means = rng.normal(size=(4000, 8)) * 0.5 + np.where(rng.random(4000) < 0.5, 1, -1)[:, None] * centre
    mu, sigma, z = posteriors(means, 0.2, rng)
    k = int(share * 1000)
    prior = np.concatenate([z[2000:3000 - k], rng.normal(size=(k, 8)) * 0.5])  # the hole: the clusters' midpoint
    h = prior_hole(mu[:2000], sigma[:2000], {"mixed": prior}, seed=0)
    assert abs(h.scores["mixed"] - (0.5 + share / 2)) < 3 * h.errors["mixed"] + 0.01


def test_n01_lands_in_the_hole_of_narrow_posteriors_in_64_dimensions_that_a_few_broad_ones_hide():
    """The shipped 64-D VAE's case: narrow posteriors on a curved cloud of about unit variance per dimension, and a
    tenth of the images' posteriors broad (unsure encodings). Those few broad posteriors give N(0, I)'s samples as
    much density as the held-apart images' latents get from the narrow ones, so a threshold on the density of the
    mixture finds about as few of N(0, I)'s samples below it as of the images' latents; measured by the distance to
    the nearest mean, N(0, I)'s samples lie farther than nearly every image's latent."""
    rng = np.random.default_rng(0)
    w = rng.normal(size=(64, 64)) / 8
    mu = np.tanh(rng.normal(size=(5000, 64)) @ w * 1.5)
    mu = mu / mu.std(0) * 0.9
    sigma = np.full_like(mu, 0.1)
    sigma[rng.random(5000) < 0.1] = 0.7
    z = mu + sigma * rng.standard_normal(mu.shape)
    h = prior_hole(mu[:4000], sigma[:4000], {"standard": rng.standard_normal((500, 64)), "same": z[4000:4500]},
                   seed=0)
    assert h.scores["standard"] > 0.85
    assert abs(h.scores["same"] - 0.5) < 3 * h.errors["same"] + 0.01


def test_the_standard_error_matches_the_spread_over_repeats():
    rng = np.random.default_rng(3)
    scores, errors = [], []
    for seed in range(30):
        mu, sigma, z = posteriors(ring(1200, 2.0, rng) + rng.normal(size=(1200, 2)) * 0.3, 0.2, rng)
        h = prior_hole(mu[:800], sigma[:800], {"same": z[800:]}, seed=seed)
        scores.append(h.scores["same"])
        errors.append(h.errors["same"])
    assert 0.5 * np.mean(errors) < np.std(scores, ddof=1) < 2 * np.mean(errors)
    assert abs(np.mean(scores) - 0.5) < 3 * np.mean(errors) / np.sqrt(30)


def test_the_sentence_says_what_the_score_measures():
    rng = np.random.default_rng(0)
    mu, sigma, z = posteriors(ring(3000, 4.0, rng), 0.1, rng)
    h = prior_hole(mu[:2000], sigma[:2000], {"standard": rng.standard_normal((500, 2)), "fitted": z[2000:2500]})
    text = hole_sentence(h, {"standard": "N(0, I)", "fitted": "the fitted prior"})
    assert text.startswith("on average, N(0, I)'s samples lie farther from the nearest image's posterior mean than "
                           f"{100 * h.scores['standard']:.0f}% ± ")
    assert "of other test images' latents do; the fitted prior's, " in text
    assert "A prior with no hole scores 50%" in text and "50% + h/2" in text
    assert hole_sentence(h, {"none": "no prior"}) == ""
    with pytest.raises(ValueError, match="at least 4"):
        prior_hole(mu[:3], sigma[:3], {})


def test_the_maths_view_draws_both_priors_samples_and_says_where_they_land(teach_ex):
    from explorer.web.views.maths import MathsView

    class NoProgress:
        def __call__(self, *a, **k):
            pass

    with gr.Blocks():
        view = MathsView(teach_ex)
        view.build()
        view.state = gr.State(MathsSession())
    out = view.open("vae4", LatentSession(), 4, 0, progress=NoProgress())
    assert "on average, N(0, I)'s samples lie farther from the nearest image's posterior mean than" in out[view.hole]
    assert "; the fitted prior's, " in out[view.hole]
    h = teach_ex.maths.prior_hole("vae4")
    assert set(h.scores) == {"standard", "fitted"} and all(0 <= v <= 1 for v in h.scores.values())
    st = out[view.state]
    figure = json.loads(view.figure(json.loads(out[view.plot])["key"]))
    names = [t.get("name", "") for t in figure["data"]]
    assert "z ~ N(0, I) (prior samples)" in names and "z ~ fitted prior (samples)" in names
    fitted = figure["data"][names.index("z ~ fitted prior (samples)")]
    z = teach_ex.maths.prior_samples("vae4")["fitted"]
    assert fitted["x"][:3] == pytest.approx(z[:3, st.i], abs=1e-4) and "customdata" not in fitted
    bare = view.open("vae2", LatentSession(), 4, 0, progress=NoProgress())
    assert "fit_prior" in bare[view.hole]  # no fitted prior: the sentence says how to fit one


def test_the_generate_view_shows_n01_and_the_fitted_prior_side_by_side(teach_ex):
    from explorer.web.views.generate import GenerateView

    with gr.Blocks():
        view = GenerateView(teach_ex)
        view.build()
    out = view.generate("vae4", "", 0, 4, 1.0, 0)
    assert len(out[view.vae_standard]) == 4 and len(out[view.vae_samples]) == 4
    assert "vae4** from N(0, I)" in out[view.info] and "vae4** from the fitted prior" in out[view.info]
    bare = view.generate("vae2", "", 0, 4, 1.0, 0)
    assert len(bare[view.vae_standard]) == 4 and bare[view.vae_samples] == []
    assert "python -m vae_core.fit_prior" in bare[view.info]
