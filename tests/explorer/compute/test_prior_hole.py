"""The prior hole (explorer/compute/prior_hole.py), and the Maths and Generate views showing both priors."""
import json

import gradio as gr
import numpy as np
import pytest

from explorer.compute.prior_hole import hole_sentence, log_aggregate, prior_hole
from explorer.web.session import LatentSession, MathsSession


def test_log_aggregate_is_the_mean_of_the_posteriors_densities():
    mu, sigma = np.array([[0.0, 0.0], [2.0, 1.0]]), np.array([[1.0, 0.5], [0.3, 2.0]])
    z = np.array([[0.5, -0.2], [1.9, 1.4]])
    pdf = lambda m, s: np.exp(-0.5 * (((z - m) / s) ** 2).sum(1)) / (2 * np.pi * s.prod())  # noqa: E731
    want = np.log(0.5 * (pdf(mu[0], sigma[0]) + pdf(mu[1], sigma[1])))
    np.testing.assert_allclose(log_aggregate(z, mu, sigma), want, rtol=1e-10)


def test_posteriors_far_from_the_origin_leave_n01_in_the_hole():
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(800, 4)) * 0.3 + 8.0  # every posterior near (8, 8, 8, 8), small
    sigma = np.full_like(mu, 0.2)
    fitted = mu[:500] + sigma[:500] * rng.standard_normal((500, 4))  # a prior that is the aggregate posterior
    h = prior_hole(mu, sigma, {"standard": rng.standard_normal((500, 4)), "fitted": fitted}, seed=0)
    assert h.shares["standard"] > 0.99
    assert h.shares["fitted"] < 0.05
    text = hole_sentence(h, {"standard": "N(0, I)", "fitted": "the fitted prior"})
    assert text.startswith("100% of N(0, I)'s samples land where no image's posterior is")
    assert "of the fitted prior's samples" in text


def test_a_prior_that_matches_the_posteriors_has_the_quantiles_share():
    rng = np.random.default_rng(1)
    mu, sigma = rng.normal(size=(4000, 2)) * 0.8, np.full((4000, 2), 0.6)
    z = mu[:2000] + sigma[:2000] * rng.standard_normal((2000, 2))
    h = prior_hole(mu[2000:], sigma[2000:], {"same": z}, seed=0, quantile=0.05)
    assert 0.02 < h.shares["same"] < 0.09


def test_the_maths_view_draws_both_priors_samples_and_says_the_holes_share(teach_ex):
    from explorer.web.views.maths import MathsView

    class NoProgress:
        def __call__(self, *a, **k):
            pass

    with gr.Blocks():
        view = MathsView(teach_ex)
        view.build()
        view.state = gr.State(MathsSession())
    out = view.open("vae4", LatentSession(), 4, 0, progress=NoProgress())
    assert "of N(0, I)'s samples land where no image's posterior is" in out[view.hole]
    assert "of the fitted prior's samples" in out[view.hole]
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
