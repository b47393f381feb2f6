"""The Maths tab: its figure builder and key (explorer/plots_maths.py) and its view's handlers (explorer/views/maths.py)
on the tiny digits checkpoints of conftest.py's teach_ckpts (no browser: tests/browser/test_maths.py drives the
page)."""
import json
from dataclasses import replace
from pathlib import Path

import gradio as gr
import numpy as np
import pytest

from explorer.compute.montecarlo import MonteCarloError
from explorer.compute.posterior import ELLIPSE_POINTS, PRIOR_RADII, AxesError
from explorer.errors import SessionExpired
from explorer.figures.maths import (
    SAMPLES_COLOR,
    SAMPLES_NAME,
    axes_key,
    latent_axes_figure,
    parse_axes_key,
    sample_positions,
)
from explorer.web.components.image import pixels
from explorer.web.session import LatentSession, MathsSession
from explorer.web.views.maths import monte_carlo_text


# --- keys ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["vae4", "runs/a|b", "x"])
def test_axes_key_round_trips(name):
    assert parse_axes_key(axes_key(name, 3, 1, 42)) == (name, 3, 1, 42)


@pytest.mark.parametrize("key", [None, 7, "", "vae4", "vae4|1|2", "|1|2|3", "vae4|a|2|3", "vae4|1|2|3.5",
                                 "vae4|-1|2|3", "vae4|1|2|-3", ["vae4", 1, 2, 3]])
def test_bad_axes_keys_are_user_errors(key):
    with pytest.raises(AxesError):
        parse_axes_key(key)


# --- the figure ----------------------------------------------------------------------------------------------------
def test_latent_axes_figure_draws_points_ellipses_prior_and_aggregate(teach_ex):
    axes = teach_ex.maths.latent_axes("vae4", 2, 0, [5, 9])
    names = teach_ex.store.latent_view("vae4").data.label_names
    fig = latent_axes_figure(axes, names, "t")
    json.dumps(fig)  # JSON-ready
    by_type = {}
    for t in fig["data"]:
        by_type.setdefault(t["type"], []).append(t)
    points = by_type["scattergl"]
    assert sorted(i for t in points for i in t["customdata"]) == list(range(len(axes.points)))
    for t in points:  # each point at its (mu_i, mu_j)
        np.testing.assert_allclose(np.c_[t["x"], t["y"]], axes.points[t["customdata"]], atol=1e-4)
    (legend,) = [t for t in by_type["scatter"] if t["name"] == SAMPLES_NAME]  # the samples' legend entry, no point
    assert legend["x"] == [None] and legend["marker"]["color"] == SAMPLES_COLOR
    lines = [t for t in by_type["scatter"] if t is not legend]
    ellipses = [t for t in lines if t["name"].startswith("q(z|x)")]
    assert len(ellipses) == 4  # two images, 1 and 2 sigma each
    assert all(len(t["x"]) == len(t["y"]) == ELLIPSE_POINTS for t in lines)
    assert len(lines) - len(ellipses) == len(PRIOR_RADII)
    (density,) = by_type["heatmap"]
    assert np.array(density["z"]).shape == (len(density["y"]), len(density["x"]))
    np.testing.assert_allclose(density["z"], axes.aggregate.density, atol=1e-6)
    assert fig["layout"]["xaxis"]["title"]["text"] == "z2" and fig["layout"]["yaxis"]["title"]["text"] == "z0"


def test_the_aggregate_density_is_a_heat_map_under_small_faint_points(teach_ex):
    fig = latent_axes_figure(teach_ex.maths.latent_axes("vae4", 0, 1, [0]), [], "t")
    kinds = [t["type"] for t in fig["data"]]
    assert kinds[0] == "heatmap" and "scattergl" in kinds  # drawn first: under everything
    density = fig["data"][0]
    assert density["showlegend"] and density["hoverinfo"] == "skip"  # the legend toggles it; hovers find points
    assert density["zmin"] == 0 and density["colorscale"][0][1].endswith(", 0)")  # zero density: transparent
    assert density["zmax"] == pytest.approx(np.max(density["z"]), rel=1e-5)
    for t in fig["data"]:
        if t["type"] == "scattergl":
            assert t["marker"]["size"] < 3 and t["marker"]["opacity"] <= 0.3


def test_sample_positions_are_the_samples_on_the_chosen_dims():
    z = np.arange(12.0).reshape(3, 4)  # 3 samples of a 4-D latent
    np.testing.assert_array_equal(sample_positions(z, 2, 0), [[2, 0], [6, 4], [10, 8]])
    assert sample_positions((), 2, 0).shape == (0, 2)


# --- the view's handlers ---------------------------------------------------------------------------------------------
class NoProgress:
    def __call__(self, *args, **kwargs):
        pass


@pytest.fixture(scope="module")
def view(teach_ex):
    from explorer.web.views.maths import MathsView

    with gr.Blocks():
        v = MathsView(teach_ex)
        v.build()
        v.state = gr.State(MathsSession())
    return v


@pytest.fixture(scope="module")
def opened(view):
    return view.open("vae4", LatentSession(), 8, 0, progress=NoProgress())


def test_open_shows_image_0_on_the_two_most_active_dims(view, opened, teach_ex):
    st = opened[view.state]
    order = list(teach_ex.store.dims_by_kl("vae4"))
    assert (st.i, st.j, st.index) == (order[0], order[1], 0)
    np.testing.assert_allclose(st.latent, teach_ex.store.posteriors("vae4").mu[0], rtol=1e-6)
    value = json.loads(opened[view.plot])
    assert value["key"] == axes_key("vae4", st.i, st.j, 0)
    assert value["marker"] == pytest.approx([st.latent[st.i], st.latent[st.j]])
    assert "L = 8" in opened[view.mc_text] and "IWAE" in opened[view.mc_text]
    assert opened[view.decoder].count("<figure") == 3
    assert Path(opened[view.download]).read_bytes()[:4] == b"\x89PNG"
    json.loads(view.figure(value["key"]))


def test_a_click_decodes_with_the_other_dims_at_mu(view, opened, teach_ex):
    st = opened[view.state]
    evt = type("Evt", (), {"kind": "space", "x": 1.5, "y": -0.5})()
    out = view.on_click(st, evt)
    z = np.array(out[view.state].latent)
    mu = teach_ex.store.posteriors("vae4").mu[0]
    assert (z[st.i], z[st.j]) == (1.5, -0.5)
    others = [d for d in range(4) if d not in (st.i, st.j)]
    np.testing.assert_allclose(z[others], mu[others], rtol=1e-6)
    direct = view.decode({"key": axes_key("vae4", st.i, st.j, 0), "kind": "space", "x": 1.5, "y": -0.5})
    assert direct == pixels(teach_ex.map.decode_latent("vae4", list(z), side=0))


def test_the_monte_carlo_text_follows_l(view, opened):
    st = opened[view.state]
    a, b = view.on_mc(st, 1, 0), view.on_mc(st, 64, 0)
    assert "L = 1" in a[view.mc_text] and "n/a" in a[view.mc_text]
    assert "L = 64" in b[view.mc_text] and a[view.mc_text] != b[view.mc_text]


def test_the_iwae_figure_is_an_estimate_with_its_standard_error(view, opened, teach_ex):
    st = opened[view.state]
    r = teach_ex.maths.monte_carlo("vae4", st.index, st.samples, st.seed)
    text = opened[view.mc_text]
    assert f"−log p(x) ≈ **{r.iwae.nll:.2f}** ± {r.iwae.se:.2f} (SE)" in text
    assert f"k = {r.iwae.k}, mean of R = {r.iwae.repeats} independent estimates" in text
    assert "estimate of an upper bound" in text and "≤" not in text  # not printed as a bound that holds surely
    assert "not computed" in monte_carlo_text(replace(r, iwae=None), st.index)


def test_the_decoder_panel_says_which_image_is_e_x_z_and_which_the_location(view, opened, teach_ex):
    st = opened[view.state]
    d = teach_ex.maths.decoder_output("vae4", np.array(st.latent))
    gap = 255 * np.abs(d.mean - d.location).mean()
    assert f"E[x|z] = Σ_k (k/255) P(k|z), exact: {gap:.1f} grey levels from the location" in opened[view.decoder]
    assert "location" in opened[view.mc_strip] and "not E[x|z_l]" in opened[view.mc_strip]


def test_bad_requests_are_messages_not_crashes(view, opened):
    st = opened[view.state]
    with pytest.raises(gr.Error):
        view.decode({"key": "vae4|1|1|0", "x": 0, "y": 0})  # the same dim twice
    with pytest.raises(gr.Error):
        view.figure("no such key")
    with pytest.raises(AxesError):
        view.on_dims(st, st.i, st.i)
    for bad in (0, 65, 2.5):
        with pytest.raises(MonteCarloError):
            view.on_mc(st, bad, 0)
    with pytest.raises(SessionExpired):
        view.on_mc(MathsSession(), 8, 0)


def test_opening_the_tab_follows_a_new_map_selection(view, opened, teach_ex):
    st = opened[view.state]
    mu = teach_ex.store.posteriors("vae4").mu
    latent = LatentSession(loaded=True, vae="vae4", index=7).with_latent(mu[7])
    out = view.on_tab(st, latent)
    assert out[view.state].index == 7 and "#7" in out[view.mc_text]
    assert set(view.on_tab(out[view.state], latent)) == {view.state}  # nothing new: nothing recomputed
    st = view.on_mc(out[view.state], 20, 4)[view.state]
    out = view.on_tab(st, latent.with_latent(mu[3]))  # a new latent: followed with the L and seed shown
    assert len(out[view.state].mc_z) == 20 and "seed 4" in out[view.mc_text]


def test_opening_the_tab_keeps_the_view_when_the_map_shows_what_it_opened_on(view, opened, teach_ex):
    st = opened[view.state]  # opened on image 0's mu, as the map does
    latent = LatentSession(loaded=True, vae="vae4", index=0).with_latent(teach_ex.store.posteriors("vae4").mu[0])
    assert set(view.on_tab(st, latent)) == {view.state}


def drawn_samples(view, out) -> np.ndarray:
    """The Monte Carlo samples the plot's value draws on the axes, as (L, 2)."""
    points = json.loads(out[view.plot])["points"]
    assert points["name"] == SAMPLES_NAME and points["color"] == SAMPLES_COLOR
    return np.array(points["xy"])


def test_the_monte_carlo_samples_are_drawn_on_the_axes_and_follow_l_and_the_seed(view, opened, teach_ex):
    st = opened[view.state]
    want = teach_ex.maths.monte_carlo("vae4", 0, 8, 0).z  # the view opened with L = 8, seed 0
    np.testing.assert_allclose(drawn_samples(view, opened), want[:, [st.i, st.j]], atol=1e-4)
    np.testing.assert_allclose(st.mc_z, want, rtol=1e-6)
    for L, seed in ((20, 0), (20, 3), (1, 0)):
        out = view.on_mc(st, L, seed)
        want = teach_ex.maths.monte_carlo("vae4", 0, L, seed).z
        assert len(out[view.state].mc_z) == L
        np.testing.assert_allclose(drawn_samples(view, out), want[:, [st.i, st.j]], atol=1e-4)
    assert not np.allclose(drawn_samples(view, view.on_mc(st, 20, 0)), drawn_samples(view, view.on_mc(st, 20, 3)))


def test_the_samples_stay_on_the_axes_after_a_click_and_move_with_the_dims(view, opened):
    st = view.on_mc(opened[view.state], 12, 1)[view.state]
    z = np.array(st.mc_z)
    evt = type("Evt", (), {"kind": "space", "x": 0.5, "y": 0.5})()
    np.testing.assert_allclose(drawn_samples(view, view.on_click(st, evt)), z[:, [st.i, st.j]], atol=1e-4)
    other = next(d for d in range(4) if d not in (st.i, st.j))
    out = view.on_dims(st, other, st.i)
    np.testing.assert_allclose(drawn_samples(view, out), z[:, [other, st.i]], atol=1e-4)


def url(query: dict):
    """A stand-in for gr.Request: what views/url.py reads of it."""
    return type("Request", (), {"query_params": query})()


def test_open_restores_the_urls_axes_l_seed_and_image(view, teach_ex):
    order = [int(d) for d in teach_ex.store.dims_by_kl("vae4")]
    i, j = order[3], order[0]
    out = view.open("vae4", LatentSession(), 8, 0, url({"vae": "vae4", "axes": f"{i},{j}", "L": "20", "seed": "5",
                                                        "index": "7"}), progress=NoProgress())
    st = out[view.state]
    assert (st.i, st.j, st.index, st.samples, st.seed) == (i, j, 7, 20, 5)
    assert (out[view.dim_i]["value"], out[view.dim_j]["value"], out[view.samples], out[view.seed]) == (i, j, 20, 5)
    assert json.loads(out[view.plot])["key"] == axes_key("vae4", i, j, 7)
    assert len(drawn_samples(view, out)) == 20 and "L = 20" in out[view.mc_text] and "seed 5" in out[view.mc_text]


@pytest.mark.parametrize("query", [{"axes": "1,1"}, {"axes": "0,9"}, {"axes": "x"}, {"L": "99"}, {"L": "0"},
                                   {"seed": "-1"}, {"seed": "1e3"}, {"vae": "vae2", "axes": "0,3"}])
def test_bad_maths_settings_in_the_url_fall_back_to_the_defaults(view, teach_ex, query):
    order = [int(d) for d in teach_ex.store.dims_by_kl("vae4")]
    messages = teach_ex.restore_state({"vae": "vae4", **query}).messages
    assert len(messages) == 1  # the page warns about it (url.py restore)
    out = view.open("vae4", LatentSession(), 8, 0, url({"vae": "vae4", **query}), progress=NoProgress())
    st = out[view.state]
    assert (st.i, st.j, st.index, st.samples, st.seed) == (order[0], order[1], 0, 8, 0)
