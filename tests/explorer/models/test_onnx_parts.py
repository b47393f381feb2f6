"""Every kind of model the app opens exports its decoder and encoder as ONNX graphs that compute what PyTorch
computes (within onnx_parts.TOLERANCE on inputs other than those it was traced on, at another batch size), and a
graph that disagrees is refused with the part and the difference."""
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from explorer.models import open_folder
from explorer.models.interface import CodeModel, LatentModel
from explorer.models.modules import given_module
from explorer.models.onnx_parts import TOLERANCE, PartMismatch, check, difference, export, parts
from explorer.models.vae_core_models import VaeCoreVAE, VaeCoreVQVAE
from vae_core import build_model

pytest.importorskip("onnxruntime")
diffusers = pytest.importorskip("diffusers")
ROOT = Path(__file__).resolve().parents[3]
BODY = {"down_block_types": ("DownEncoderBlock2D", "DownEncoderBlock2D"),
        "up_block_types": ("UpDecoderBlock2D", "UpDecoderBlock2D"), "block_out_channels": (8, 8),
        "norm_num_groups": 4, "layers_per_block": 1, "sample_size": 8, "in_channels": 1, "out_channels": 1}


def readme_module():
    """The README's own-module example's VAE (784-400-20), built as the README builds it."""
    readme = (ROOT / "README.md").read_text()
    block = next(b for b in re.findall(r"```python\n(.*?)```", readme, re.DOTALL) if "explorer.launch" in b)
    scope = {}
    exec(block.split("model = VAE()")[0], scope)  # the imports and the class, not the launch
    torch.manual_seed(0)
    return given_module("mine", scope["VAE"](), (1, 28, 28)).model


def models(tiny_cfg, tmp_path, app_checkpoints, app_models):
    torch.manual_seed(0)
    diffusers.AutoencoderKL(latent_channels=2, **BODY).save_pretrained(tmp_path / "kl")
    diffusers.VQModel(latent_channels=2, num_vq_embeddings=8, vq_embed_dim=2, **BODY).save_pretrained(tmp_path / "vq")
    return {
        "vae_core VAE": VaeCoreVAE(build_model(tiny_cfg(model="vae")).eval()),
        "vae_core VQ-VAE": VaeCoreVQVAE(build_model(tiny_cfg(model="vqvae")).eval()),
        "vae_core FSQ": VaeCoreVQVAE(build_model(tiny_cfg(model="vqvae", quantizer="fsq", fsq_levels="5,4",
                                                          num_codes=20)).eval()),
        "diffusers AutoencoderKL": open_folder(tmp_path / "kl", log=pytest.fail).load(),
        "diffusers VQModel": open_folder(tmp_path / "vq", log=pytest.fail).load(),
        "the README's module": readme_module(),
        "vae_core VQ-VAE with its prior": open_folder(app_checkpoints / app_models.vq, log=pytest.fail).load(),
    }


@pytest.mark.slow
def test_every_kind_of_model_exports_parts_that_agree_with_pytorch(tiny_cfg, tmp_path, app_checkpoints, app_models):
    for what, model in models(tiny_cfg, tmp_path, app_checkpoints, app_models).items():
        trainable = [w.requires_grad for w in model.parameters()]
        images = torch.rand(6, *model.image_shape, generator=torch.Generator().manual_seed(1))
        found = parts(model, images)
        with_prior = getattr(model, "prior", None) is not None
        assert [p.name for p in found] == ["decoder", "encoder"] + ["prior"] * with_prior, what
        for part in found:
            path = tmp_path / f"{what}-{part.name}.onnx".replace(" ", "_").replace("'", "")
            assert export(part, path) > 0
            assert check(part, path) <= TOLERANCE, what
            other = torch.rand(3, *model.image_shape, generator=torch.Generator().manual_seed(2))
            fresh = {p.name: p for p in parts(model, other)}[part.name].example  # 3 new inputs: the batch is free
            assert difference(part, path, fresh) <= TOLERANCE, f"{what} {part.name} on new inputs"
            if part.name == "prior":  # the step at the first cell too, from empty keys and values, as sampling starts
                first = {**fresh, "pos": torch.tensor(0), "keys": torch.zeros_like(fresh["keys"]),
                         "values": torch.zeros_like(fresh["values"])}
                first["token"] = torch.full_like(fresh["token"], model.prior.bos)
                assert difference(part, path, first) <= TOLERANCE
        assert [w.requires_grad for w in model.parameters()] == trainable, f"{what}: the export left its weights"
        if isinstance(model, LatentModel):
            assert found[0].example["z"].shape == (6, model.latent_dim)
        else:
            assert isinstance(model, CodeModel) and found[0].example["grid"].dtype == torch.long


def test_a_part_whose_graph_disagrees_is_refused_with_the_part_and_the_difference(tiny_cfg, tmp_path):
    torch.manual_seed(0)
    model = VaeCoreVAE(build_model(tiny_cfg(model="vae")).eval())
    decoder = parts(model, torch.rand(4, 1, 8, 8))[0]
    export(decoder, tmp_path / "decoder.onnx")
    with torch.no_grad():  # the weights change after the export: the graph now computes something else
        for w in model.parameters():
            w.add_(0.5)
    with pytest.raises(PartMismatch, match=r"the decoder's ONNX graph disagrees with PyTorch: \d"):
        check(decoder, tmp_path / "decoder.onnx")
    assert np.isfinite(difference(decoder, tmp_path / "decoder.onnx"))
