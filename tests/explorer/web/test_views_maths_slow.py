"""The Maths tab on a slow model (service/latent_map.py: one with a preview decoder): its decode is the preview at
once with the full decode's request, the full decode comes from that request in a worker thread, and its traversal is
drawn by the preview; a slow model without a preview says how to get one instead of holding the page with full
decodes. A tiny diffusers AutoencoderKL stands in for a large one."""
import json

import gradio as gr
import numpy as np
import pytest
import torch

from explorer.models import preview
from explorer.service import projection
from explorer.service.explorer import Explorer
from explorer.web.components.image import pixels
from explorer.web.session import LatentSession, MathsSession

diffusers = pytest.importorskip("diffusers")
BODY = {"down_block_types": ("DownEncoderBlock2D",) * 2, "up_block_types": ("UpDecoderBlock2D",) * 2,
        "block_out_channels": (8, 16), "norm_num_groups": 4, "layers_per_block": 1, "sample_size": 16,
        "in_channels": 3, "out_channels": 3, "latent_channels": 4}
NAME = "kl"


class NoProgress:
    def __call__(self, *args, **kwargs):
        pass


@pytest.fixture
def slow(tmp_path, monkeypatch):
    """A MathsView over the tiny KL model with a preview decoder beside it (so it is slow), its map cached."""
    from explorer.web.views.maths import MathsView

    monkeypatch.setattr(projection, "umap_2d", lambda points, progress=None: projection.pca_2d(points))
    torch.manual_seed(0)
    diffusers.AutoencoderKL(**BODY).save_pretrained(tmp_path / NAME)
    cfg = preview.PreviewConfig((4, 8, 8), (3, 16, 16), width=8, fidelity_db=21.5,
                                model_weights=preview.weights_hash(tmp_path / NAME /
                                                                   "diffusion_pytorch_model.safetensors"))
    preview.save(preview.PreviewDecoder(cfg), tmp_path / NAME)
    np.savez(tmp_path / "images.npz", x=np.random.default_rng(0).integers(0, 256, (24, 3, 16, 16), dtype=np.uint8))
    ex = Explorer([tmp_path], log=lambda *a: None, images=str(tmp_path / "images.npz"))
    ex.store.latent_view(NAME)
    with gr.Blocks():
        view = MathsView(ex)
        view.build()
        view.state = gr.State(MathsSession())
    return view, ex


def test_a_slow_model_shows_its_preview_and_traversal_at_once_and_its_full_decode_on_request(slow, monkeypatch):
    view, ex = slow
    model = ex.store.model(NAME)
    assert ex.map.is_slow(NAME)
    full = model.decode_location
    monkeypatch.setattr(model, "decode_location", lambda z: pytest.fail("a full decode while the tab opens"))
    out = view.open(NAME, LatentSession(), 1, 0, progress=NoProgress())
    value = json.loads(out[view.decoded])
    assert "(preview, 21.5 dB; decoding...)" in value["caption"]
    z = out[view.state].latent
    np.testing.assert_allclose(value["pending"]["latent"], z, rtol=1e-6)
    assert "preview decoder's locations (preview, 21.5 dB)" in out[view.traversal]
    assert out[view.download] is not None
    monkeypatch.setattr(model, "decode_location", full)
    request = {**value["pending"], "full": True}
    assert view.slow(request)  # in a worker thread
    got = view.decode(request)
    assert "full decode, " in got["caption"]
    assert got["data"] == pixels(ex.map.decode_full(NAME, list(z))[0])["data"]


def test_a_slow_model_without_a_preview_says_how_to_get_its_traversal(slow, monkeypatch):
    view, ex = slow
    model = ex.store.model(NAME)
    monkeypatch.setattr(model, "preview", None)
    monkeypatch.setattr(ex.map, "is_slow", lambda name: True)  # e.g. a decode over SLOW_SECONDS
    monkeypatch.setattr(model, "decode_location", lambda z: pytest.fail("a full decode while the tab opens"))
    out = view.open(NAME, LatentSession(), 1, 0, progress=NoProgress())
    assert "decoding..." in json.loads(out[view.decoded])["caption"]
    assert "python -m explorer.preview" in out[view.traversal] and "28 full decodes" in out[view.traversal]
    assert out[view.download] is None
