"""The Maths tab of a model whose latent has more than MAX_SLIDER_DIMS numbers: its axes are two principal
directions (plane.py). A tiny random-weight diffusers AutoencoderKL (256 numbers), shown 40 images given as an array,
with its projection injected (no UMAP)."""
import json

import gradio as gr
import numpy as np
import pytest
import torch

from explorer.compute.inverse import LatentMap
from explorer.compute.plane import covariances, project
from explorer.compute.posterior import AxesError
from explorer.figures.maths import latent_axes_figure
from explorer.service.explorer import Explorer
from explorer.service.image_sets import ImageSet
from explorer.service.projection import LatentProjection
from explorer.service.store import LatentView
from explorer.web.session import LatentSession, MathsSession

diffusers = pytest.importorskip("diffusers")
BODY = {"down_block_types": ("DownEncoderBlock2D", "DownEncoderBlock2D"),
        "up_block_types": ("UpDecoderBlock2D", "UpDecoderBlock2D"), "block_out_channels": (8, 16),
        "norm_num_groups": 4, "layers_per_block": 1, "sample_size": 16, "in_channels": 3, "out_channels": 3}
N = 40


@pytest.fixture(scope="module")
def ex(tmp_path_factory):
    root = tmp_path_factory.mktemp("diffusers-axes")
    torch.manual_seed(0)
    diffusers.AutoencoderKL(latent_channels=4, **BODY).save_pretrained(root / "tiny-kl")
    images = np.random.default_rng(0).integers(0, 256, (N, 3, 16, 16), dtype=np.uint8)
    shown = Explorer([root], log=lambda *a: None, images=ImageSet.from_arrays(images))
    mu, log_sigma = (t.numpy() for t in shown.store.model("tiny-kl").encode(torch.from_numpy(images).float() / 255))
    proj = LatentProjection(mu, mu[:, :2].copy(), np.arange(N) % 3, np.ones(256), "identity", log_sigma)
    shown.store._views["tiny-kl"] = LatentView(proj, LatentMap(proj.latents, proj.coords), shown.store.data("tiny-kl"))
    return shown


def test_the_axes_are_two_principal_directions(ex):
    dirs, post = ex.store.directions("tiny-kl"), ex.store.posteriors("tiny-kl")
    ax = ex.maths.latent_axes("tiny-kl", 2, 0, [3])
    np.testing.assert_allclose(ax.points, project(post.mu, dirs, 2, 0), atol=1e-9)
    assert len(ax.ellipses) == 2 and ax.ellipses[0].index == 3
    c = covariances(post.sigma[3:4], dirs.vectors[2], dirs.vectors[0])[0]  # q(z|x_3) on the plane
    assert ax.ellipses[0].y.max() - ax.points[3, 1] == pytest.approx(np.sqrt(c[1, 1]), rel=0.01)
    centre = -dirs.vectors[[2, 0]] @ dirs.mean  # the prior's circles sit around -(v . m)
    np.testing.assert_allclose(ax.prior[0].x.max() - 1.0, centre[0], atol=1e-6)
    fig = latent_axes_figure(ax, [], "t")
    json.dumps(fig)
    assert (fig["layout"]["xaxis"]["title"]["text"], fig["layout"]["yaxis"]["title"]["text"]) == \
        ("direction 2", "direction 0")
    assert fig["data"][0]["name"] == "aggregate q(z)"  # every image counts: no sample named


def test_a_click_on_the_plane_decodes_a_latent_that_lands_there(ex):
    dirs, mu = ex.store.directions("tiny-kl"), ex.store.posteriors("tiny-kl").mu
    z = ex.maths.axes_latent("tiny-kl", 1, 4, 0.75, -1.5, index=5)
    assert z.shape == (256,)
    np.testing.assert_allclose(project(z, dirs, 1, 4), [0.75, -1.5], atol=1e-6)
    np.testing.assert_allclose(dirs.coefficients(z)[[0, 2, 3]], dirs.coefficients(mu[5])[[0, 2, 3]], atol=1e-6)
    np.testing.assert_allclose(ex.maths.axes_positions("tiny-kl", 1, 4, [z]), [[0.75, -1.5]], atol=1e-6)
    with pytest.raises(AxesError, match="principal directions in 0..15"):
        ex.maths.latent_axes("tiny-kl", 0, 16)


class NoProgress:
    def __call__(self, *args, **kwargs):
        pass


@pytest.fixture(scope="module")
def view(ex):
    from explorer.web.views.maths import MathsView

    with gr.Blocks():
        v = MathsView(ex)
        v.build()
        v.state = gr.State(MathsSession())
    return v


@pytest.fixture(scope="module")
def opened(view):
    return view.open("tiny-kl", LatentSession(), 8, 0, progress=NoProgress())


def test_the_view_offers_the_directions_by_their_share_of_the_variance(view, opened, ex):
    dirs, st = ex.store.directions("tiny-kl"), opened[view.state]
    assert (st.i, st.j) == (0, 1)
    assert opened[view.dim_i]["choices"] == [(dirs.label(k), k) for k in range(16)]
    assert "% of the variance" in opened[view.dim_i]["choices"][0][0]
    assert "principal directions" in opened[view.dim_i]["label"]
    value = json.loads(opened[view.plot])
    assert value["marker"] == pytest.approx(list(project(st.latent, dirs, 0, 1)), abs=1e-6)
    assert "direction 0 = " in opened[view.info] and "direction 1 = " in opened[view.info]
    figure = json.loads(view.figure(value["key"]))
    assert figure["layout"]["xaxis"]["title"]["text"] == "direction 0"
    assert "direction 0, direction 1" in figure["layout"]["title"]["text"]


def test_the_view_decodes_a_click_and_changes_directions(view, opened, ex):
    dirs, st = ex.store.directions("tiny-kl"), opened[view.state]
    out = view.on_click(st, type("Evt", (), {"kind": "space", "x": 0.5, "y": -0.25})())
    np.testing.assert_allclose(project(out[view.state].latent, dirs, 0, 1), [0.5, -0.25], atol=1e-5)
    assert "a click on direction 0, direction 1" in out[view.info]
    moved = view.on_dims(out[view.state], 3, 5)
    assert (moved[view.state].i, moved[view.state].j) == (3, 5)
    assert json.loads(moved[view.plot])["marker"] == pytest.approx(
        list(project(out[view.state].latent, dirs, 3, 5)), abs=1e-5)
    with pytest.raises(AxesError):
        view.on_dims(st, 0, 16)  # fits the 256 numbers, not the 16 directions


def test_url_axes_beyond_the_directions_fall_back_to_the_first_two(view):
    request = type("Request", (), {"query_params": {"vae": "tiny-kl", "axes": "3,40"}})()
    st = view.open("tiny-kl", LatentSession(), 8, 0, request, progress=NoProgress())[view.state]
    assert (st.i, st.j) == (0, 1)
    request.query_params = {"vae": "tiny-kl", "axes": "3,2"}
    st = view.open("tiny-kl", LatentSession(), 8, 0, request, progress=NoProgress())[view.state]
    assert (st.i, st.j) == (3, 2)
