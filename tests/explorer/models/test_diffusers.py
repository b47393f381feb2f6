"""diffusers AutoencoderKL and VQModel folders behind the model interface: tiny models with random weights, saved
with save_pretrained, opened by the registry from disk through the same code path as any user's folder."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from explorer.compute.inverse import LatentMap
from explorer.errors import DataUnavailable, LatentError, MissingCapability
from explorer.models.diffusers_models import DiffusersFolderError, check_folder
from explorer.service.explorer import Explorer
from explorer.service.image_sets import ImageSet
from explorer.service.projection import LatentProjection
from explorer.service.store import LatentView

diffusers = pytest.importorskip("diffusers")
ROOT = Path(__file__).resolve().parents[3]
BODY = {"down_block_types": ("DownEncoderBlock2D", "DownEncoderBlock2D"),
        "up_block_types": ("UpDecoderBlock2D", "UpDecoderBlock2D"), "block_out_channels": (8, 16),
        "norm_num_groups": 4, "layers_per_block": 1, "sample_size": 16, "in_channels": 3, "out_channels": 3}


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("diffusers")
    torch.manual_seed(0)
    diffusers.AutoencoderKL(latent_channels=4, **BODY).save_pretrained(root / "tiny-kl")
    diffusers.VQModel(latent_channels=4, num_vq_embeddings=32, vq_embed_dim=4, **BODY).save_pretrained(root / "tiny-vq")
    return root


@pytest.fixture(scope="module")
def ex(folders):
    return Explorer([folders], log=lambda *a: None)


def test_both_folders_are_listed_by_their_folder_names_with_their_kinds(ex):
    assert ex.store.names("vae") == ["tiny-kl"] and ex.store.names("vqvae") == ["tiny-vq"]
    assert ex.store.found("tiny-kl").image_shape == (3, 16, 16)
    assert "diffusers AutoencoderKL" in ex.store.found("tiny-kl").summary()


def test_the_kl_latent_is_flattened_scaled_and_decodes_to_the_image_range(ex, folders):
    model = ex.store.model("tiny-kl")
    assert model.latent_shape == (4, 8, 8) and model.latent_dim == 256
    raw = diffusers.AutoencoderKL.from_pretrained(folders / "tiny-kl")
    x = torch.rand(2, 3, 16, 16)
    mu, log_sigma = model.encode(x)
    with torch.no_grad():
        d = raw.encode(2 * x - 1).latent_dist  # diffusers takes [-1, 1]
    s = raw.config.scaling_factor
    torch.testing.assert_close(mu, (s * d.mean).flatten(1))  # z = s z_raw
    torch.testing.assert_close(log_sigma, (0.5 * d.logvar + np.log(s)).flatten(1), rtol=1e-5, atol=1e-5)
    y = model.decode_location(mu)
    with torch.no_grad():
        want = ((raw.decode(d.mean).sample + 1) / 2).clamp(0, 1)
    torch.testing.assert_close(y, want, rtol=1e-4, atol=1e-5)
    assert y.shape == (2, 3, 16, 16) and 0 <= float(y.min()) and float(y.max()) <= 1
    image = ex.map.decode_latent("tiny-kl", mu[0].tolist(), side=0)
    assert image.size == (16, 16)
    with pytest.raises(LatentError, match="256 numbers"):
        ex.map.decode_latent("tiny-kl", [0.0] * 16)


def test_a_model_without_a_decoder_scale_says_so_instead_of_failing(ex):
    assert "no decoder scale" in ex.store.missing("tiny-kl", "decoder scale")
    with pytest.raises(MissingCapability, match="decoder panel"):
        ex.maths.decoder_output("tiny-kl", [0.0] * 256)


def test_vq_codes_come_from_its_quantizer_and_edited_grids_decode(ex, folders):
    model = ex.store.model("tiny-vq")
    assert model.grid_size == 8 and model.num_codes == 32 and tuple(model.codebook.shape) == (32, 4)
    raw = diffusers.VQModel.from_pretrained(folders / "tiny-vq")
    x = torch.rand(1, 3, 16, 16)
    grid = model.encode_indices(x)
    with torch.no_grad():
        _, _, (_, _, want) = raw.quantize(raw.encode(2 * x - 1).latents)
    assert grid.shape == (1, 8, 8) and grid.flatten().tolist() == want.flatten().tolist()
    torch.testing.assert_close(model.decode_indices(grid), model.reconstruct(x), rtol=1e-4, atol=1e-5)
    edited = grid.clone()
    edited[0, 0, 0] = (int(grid[0, 0, 0]) + 1) % 32
    assert not torch.equal(model.decode_indices(edited), model.decode_indices(grid))
    assert ex.codes.decode_codes("tiny-vq", grid[0].tolist(), side=0).size == (16, 16)
    assert "cannot generate" in ex.generate.no_prior("tiny-vq")


def test_a_diffusers_model_has_no_images_of_its_own_and_says_how_to_give_it_some(ex):
    with pytest.raises(DataUnavailable, match="--images"):
        ex.store.latent_view("tiny-kl")


def test_pickled_weights_and_other_classes_are_refused_with_what_to_do(tmp_path, folders):
    only_bin = tmp_path / "bin-only"
    only_bin.mkdir()
    (only_bin / "config.json").write_text((folders / "tiny-kl" / "config.json").read_text())
    (only_bin / "diffusion_pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(DiffusersFolderError, match="pickled weights are never loaded"):
        check_folder(only_bin)
    other = tmp_path / "unet"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"_class_name": "UNet2DModel"}))
    with pytest.raises(DiffusersFolderError, match="AutoencoderKL and VQModel"):
        check_folder(other)
    logged = []
    ex = Explorer([tmp_path], log=logged.append)
    assert ex.store.registry.found == {} and len(logged) == 2 and all("skipping" in m for m in logged)


@pytest.mark.slow
def test_diffusers_is_imported_only_when_a_diffusers_folder_is_found():
    code = ("import sys; from explorer.service.explorer import Explorer; Explorer(['checkpoints'], log=lambda *a: 0)"
            ".store.model('fashion-vae'); print('diffusers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_compare_and_interpolate_fit_an_image_to_each_model(ex):
    x = torch.rand(1, 1, 28, 28)  # a grey 28 x 28 image for two 16 x 16 RGB models
    r = ex.compare.reconstruct("tiny-kl", "tiny-vq", x)
    assert r.vae.size == r.vqvae.size and 0 <= r.vae_mse < 1 and 0 <= r.vqvae_mse < 1


def test_a_latent_of_many_numbers_gets_slider_directions_and_a_few_does_not(folders, teach_ex):
    assert teach_ex.store.directions("vae4") is None  # 4 numbers: a slider each
    images = np.random.default_rng(0).integers(0, 256, (40, 3, 16, 16), dtype=np.uint8)
    shown = Explorer([folders], log=lambda *a: None, images=ImageSet.from_arrays(images))
    mu = shown.store.model("tiny-kl").encode(torch.from_numpy(images).float() / 255)[0].numpy()
    proj = LatentProjection(mu, mu[:, :2].copy(), np.full(40, -1), np.ones(256), "identity")
    shown.store._views["tiny-kl"] = LatentView(proj, LatentMap(proj.latents, proj.coords), shown.store.data("tiny-kl"))
    dirs = shown.store.directions("tiny-kl")  # 256 numbers: the top 16 principal directions of the images' latents
    assert dirs.vectors.shape == (16, 256)
    np.testing.assert_allclose(dirs.mean, mu.mean(0), rtol=1e-5, atol=1e-6)


def test_large_images_are_encoded_in_tiles_close_to_the_whole_image():
    """Images of the tiling size or more are encoded tile by tile (tiles of the model's sample_size) and one at a
    time; the latents stay close to those of the whole image."""
    from explorer.models.diffusers_models import DiffusersKL, fit_memory

    torch.manual_seed(0)
    model = diffusers.AutoencoderKL(latent_channels=4, **BODY).eval()  # sample_size 16: the tile
    u = torch.linspace(0, 1, 48)
    x = torch.stack([u[None, :] * u[:, None], u[None, :].expand(48, 48), u[:, None].expand(48, 48)])[None]
    x = x.repeat(2, 1, 1, 1)  # a batch of two: slicing encodes them one at a time
    whole, _ = DiffusersKL(model, (3, 48, 48)).encode(x)
    assert not fit_memory(model, 48, tile_from=64) and not model.use_tiling
    assert fit_memory(model, 48, tile_from=32) and model.use_tiling and model.use_slicing
    tiled, _ = DiffusersKL(model, (3, 48, 48)).encode(x)
    assert tiled.shape == whole.shape and not torch.allclose(tiled, whole)  # tiled: blended at the seams
    assert np.corrcoef(tiled.flatten().numpy(), whole.flatten().numpy())[0, 1] > 0.8  # untrained weights: roughly
