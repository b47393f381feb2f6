"""The map view across a map's switch from linear (PCA) to UMAP (a stand-in here): its plot keys, the `status` the page
follows, the refresh that moves the marker onto the new map, and clicks read on the map they were made on (no
browser: tests/browser/test_map.py drives the page)."""
import json
import threading

import gradio as gr
import numpy as np
import pytest

from explorer.service import projection
from explorer.service.explorer import Explorer
from explorer.web.components.image import pixels
from explorer.web.page_decoder import coords_version
from explorer.web.views.map import key_parts, map_key
from vae_core import Config, build_model, save_checkpoint

NAME = "vae4"


class NoProgress:
    def __call__(self, *args, **kwargs):
        pass


class Evt:
    def __init__(self, **data):
        self.__dict__.update(data)


@pytest.mark.parametrize("name", ["vae4", "runs/a|b", "x|y"])
def test_map_key_round_trips(name):
    assert key_parts(map_key(name, "pca")) == (name, "pca")
    assert key_parts(name)[0] == name


def test_a_linear_map_switches_to_umap_and_clicks_are_read_on_their_own_map(tmp_path):
    cfg = Config(model="vae", data="digits", channels=1, image_size=8, width=8, latent_dim=4)
    save_checkpoint(tmp_path / NAME, build_model(cfg).eval(), cfg)
    gate = threading.Event()

    def umap(points, progress=None):
        assert gate.wait(30)
        return projection.pca_2d(points)[:, ::-1] * 2 - 5  # unlike the linear map

    ex = Explorer([tmp_path], background=True, umap=umap, log=lambda *a: None)
    from explorer.web.views.map import MapView

    with gr.Blocks():
        view = MapView(ex)
        view.build()
    opened = view.open(NAME, None, progress=NoProgress())
    st, value = opened[view.state], json.loads(opened[view.plot])
    assert value["key"] == map_key(NAME, "pca")
    fig = json.loads(view.figure(value["key"]))
    assert "linear (PCA) map" in fig["layout"]["title"]["text"] and fig["layout"]["meta"]["pending"]
    assert fig["layout"]["meta"]["coords"] == coords_version(ex.store.latent_view(NAME).proj.coords)  # page decoder
    status = view.status(value["key"])
    assert status["key"] == value["key"] and status["pending"] and "UMAP is" in status["note"]
    pca = ex.store.latent_view(NAME).proj
    i = 5
    click = {"kind": "space", "x": float(pca.coords[i, 0]), "y": float(pca.coords[i, 1]), "key": value["key"]}

    gate.set()
    assert ex.store.jobs.wait(NAME, 30)
    status = view.status(value["key"])
    assert status == {"key": map_key(NAME, "umap"), "note": "", "pending": False}
    umap_proj = ex.store.latent_view(NAME).proj
    refreshed = json.loads(view.on_refresh(st)[view.plot])
    assert refreshed["key"] == map_key(NAME, "umap")
    np.testing.assert_allclose(refreshed["marker"], umap_proj.coords[0], atol=1e-3)  # image 0 is selected
    umap_fig = json.loads(view.figure(refreshed["key"]))
    assert "UMAP of the posterior means" in umap_fig["layout"]["title"]["text"]
    assert umap_fig["layout"]["meta"] == {"pending": False, "note": "", "coords": coords_version(umap_proj.coords)}

    # a click made on the linear map, answered after the switch: read on the linear map, drawn there
    out = view.on_click(st, Evt(**click))
    np.testing.assert_allclose(out[view.state].latent, pca.latents[i], atol=1e-4)
    assert json.loads(out[view.plot])["key"] == map_key(NAME, "pca")
    direct = view.decode({**click, "full": True})  # the full decode, however long it takes on a loaded machine
    assert direct.items() >= pixels(ex.map.decode_latent(NAME, list(pca.latents[i]), side=0)).items()
    # the same spot on the new map is another latent
    new = view.on_click(st, Evt(**{**click, "key": refreshed["key"]}))
    assert not np.allclose(new[view.state].latent, pca.latents[i], atol=1e-4)
