"""Training a preview decoder on the latents a tiny diffusers VAE's map cached: refused (saying what to run first)
until the map is cached, then a few steps that write preview.safetensors + preview.json, which the door opens."""
import json
import time

import numpy as np
import pytest
import torch

from explorer import preview as command
from explorer.compute import preview_fit
from explorer.errors import PreviewError
from explorer.service import projection
from explorer.service.explorer import Explorer
from explorer.service.image_sets import ImageSet
from explorer.service.preview import train_preview

diffusers = pytest.importorskip("diffusers")
BODY = {"down_block_types": ("DownEncoderBlock2D", "DownEncoderBlock2D"),
        "up_block_types": ("UpDecoderBlock2D", "UpDecoderBlock2D"), "block_out_channels": (8, 16),
        "norm_num_groups": 4, "layers_per_block": 1, "sample_size": 16, "in_channels": 3, "out_channels": 3}


@pytest.fixture()
def setup(tmp_path, monkeypatch):
    monkeypatch.setattr(projection, "umap_2d", lambda points, progress=None: projection.pca_2d(points))  # no UMAP
    torch.manual_seed(0)
    diffusers.AutoencoderKL(latent_channels=4, **BODY).save_pretrained(tmp_path / "kl")
    images = np.random.default_rng(0).integers(0, 256, (30, 3, 16, 16), dtype=np.uint8)
    np.savez(tmp_path / "images.npz", x=images)
    return tmp_path, images


def test_without_cached_latents_it_says_what_to_run_first_and_writes_nothing(setup, capsys):
    root, _ = setup
    ex = Explorer([root / "kl"], log=lambda *a: None, images=str(root / "images.npz"))
    with pytest.raises(PreviewError, match="python -m explorer.precompute"):
        train_preview(ex.store, "kl", log=lambda *a: None)
    with pytest.raises(SystemExit) as e:
        command.main([str(root / "kl"), "--images", str(root / "images.npz")])
    assert e.value.code == 2 and "run python app.py" in capsys.readouterr().err
    assert not (root / "kl" / "preview.json").exists()


def test_a_few_steps_on_the_cached_latents_write_a_preview_with_its_fidelity(setup, monkeypatch):
    root, images = setup
    monkeypatch.setattr(preview_fit, "seconds_per_decode", lambda decode, latent, seconds: 0.001)  # a fast decoder
    ex = Explorer([root / "kl"], log=lambda *a: None, images=ImageSet.from_arrays(images))
    ex.store.latent_view("kl")  # the map's latents, cached on disk as app.py or explorer.precompute would
    said = []
    path = train_preview(ex.store, "kl", minutes=1, log=said.append, max_steps=3)
    cfg = json.loads(path.read_text())
    assert cfg["steps"] == 3 and cfg["target"] == "full decoder" and cfg["held_out"] == 6 and cfg["pairs"] == 24
    assert np.isfinite(cfg["fidelity_db"]) and cfg["latent_shape"] == [4, 8, 8]
    assert any("held-out latents" in s for s in said)
    model = Explorer([root / "kl"], log=lambda *a: None, images=ImageSet.from_arrays(images)).store.model("kl")
    assert model.preview is not None and model.preview.label == f"preview, {cfg['fidelity_db']:.1f} dB"


def test_a_decoder_too_slow_for_every_pair_is_fitted_to_the_images_and_says_so(setup, monkeypatch):
    root, images = setup
    monkeypatch.setattr(preview_fit, "seconds_per_decode", lambda decode, latent, seconds: 100.0)
    ex = Explorer([root / "kl"], log=lambda *a: None, images=ImageSet.from_arrays(images))
    latents = ex.store.latent_view("kl").proj.latents
    said = []
    net = preview_fit.fit_preview(ex.store.model("kl").decode_location, latents, images,
                                  preview_fit.PreviewConfig((4, 8, 8), (3, 16, 16), width=8), 60, said.append,
                                  max_steps=2)
    assert net.cfg.target == "images" and net.cfg.held_out == 4 and any("fitting the images" in s for s in said)


def test_a_slow_decoder_is_timed_on_one_latent_and_a_fast_one_on_a_batch():
    calls = []

    def decode(z, cost):
        calls.append(len(z))
        time.sleep(cost * len(z))
        return z
    latents = np.zeros((32, 4), np.float32)
    per = preview_fit.seconds_per_decode(lambda z: decode(z, 0.05), latents, seconds=10)  # a batch: 1.6 s > 0.5 s
    assert calls == [1] and per >= 0.05
    calls.clear()
    per = preview_fit.seconds_per_decode(lambda z: decode(z, 0.0001), latents, seconds=10)
    assert calls == [1, 32] and per < 0.05


def test_a_budget_spent_before_any_step_is_refused_with_what_to_give(setup, monkeypatch):
    root, images = setup
    ex = Explorer([root / "kl"], log=lambda *a: None, images=ImageSet.from_arrays(images))
    latents = ex.store.latent_view("kl").proj.latents
    monkeypatch.setattr(preview_fit, "seconds_per_decode", lambda decode, latent, seconds: 100.0)
    with pytest.raises(PreviewError, match="give --minutes more"):
        preview_fit.fit_preview(ex.store.model("kl").decode_location, latents, images,
                                preview_fit.PreviewConfig((4, 8, 8), (3, 16, 16), width=8), 0.0, lambda *a: None)
