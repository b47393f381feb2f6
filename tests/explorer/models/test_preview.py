"""The preview decoder at the model door: its config round-trips to JSON, its weights to safetensors, it is offered
as `LatentModel.preview` when it sits in a model's folder, and one trained for other weights is not used."""
import json

import numpy as np
import pytest
import torch

from explorer.models import preview
from explorer.models.preview import PreviewConfig, PreviewDecoder
from explorer.service.explorer import Explorer

diffusers = pytest.importorskip("diffusers")
BODY = {"down_block_types": ("DownEncoderBlock2D", "DownEncoderBlock2D"),
        "up_block_types": ("UpDecoderBlock2D", "UpDecoderBlock2D"), "block_out_channels": (8, 16),
        "norm_num_groups": 4, "layers_per_block": 1, "sample_size": 16, "in_channels": 3, "out_channels": 3}


@pytest.mark.parametrize("latent_shape, image_shape", [((4, 8, 8), (3, 16, 16)), ((6,), (1, 28, 28)),
                                                       ((4, 4, 4), (3, 12, 12))])
def test_a_preview_decodes_any_latent_to_an_image_of_its_model(latent_shape, image_shape):
    net = PreviewDecoder(PreviewConfig(latent_shape, image_shape, width=8))
    y = preview.Preview(net).decode_location(torch.randn(3, int(np.prod(latent_shape))))
    assert y.shape == (3, *image_shape) and 0 <= float(y.min()) and float(y.max()) <= 1


def test_config_and_weights_round_trip_and_the_label_gives_the_fidelity(tmp_path):
    cfg = PreviewConfig((4, 8, 8), (3, 16, 16), width=8, fidelity_db=27.345, target="images", extra={"threads": 2})
    assert PreviewConfig.from_json(cfg.to_json()) == cfg
    torch.manual_seed(0)
    net = PreviewDecoder(cfg)
    net.shift.fill_(0.5)
    preview.save(net, tmp_path)
    back = preview.load(tmp_path)
    z = torch.randn(2, 256)
    torch.testing.assert_close(back.decode_location(z), preview.Preview(net).decode_location(z))
    assert back.cfg == cfg and back.label == "preview, 27.3 dB"
    assert json.loads((tmp_path / preview.CONFIG).read_text())["target"] == "images"


@pytest.fixture()
def folder(tmp_path):
    torch.manual_seed(0)
    diffusers.AutoencoderKL(latent_channels=4, **BODY).save_pretrained(tmp_path / "kl")
    return tmp_path / "kl"


def test_the_door_offers_a_preview_beside_the_model_and_none_without_one(folder):
    assert Explorer([folder], log=lambda *a: None).store.model("kl").preview is None
    weights = folder / "diffusion_pytorch_model.safetensors"
    cfg = PreviewConfig((4, 8, 8), (3, 16, 16), width=8, fidelity_db=30.0, model_weights=preview.weights_hash(weights))
    preview.save(PreviewDecoder(cfg), folder)
    model = Explorer([folder], log=lambda *a: None).store.model("kl")
    assert model.preview is not None and model.preview.label == "preview, 30.0 dB"
    assert model.preview.decode_location(torch.zeros(1, model.latent_dim)).shape == (1, *model.image_shape)


def test_a_preview_trained_for_other_weights_is_not_used_and_the_log_says_how_to_retrain(folder):
    preview.save(PreviewDecoder(PreviewConfig((4, 8, 8), (3, 16, 16), width=8, model_weights="0" * 16)), folder)
    said = []
    assert Explorer([folder], log=said.append).store.model("kl").preview is None
    assert any("python -m explorer.preview" in s for s in said)
