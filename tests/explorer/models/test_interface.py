"""The one door between the explorer and a model: the interface is a complete contract (an adapter that leaves out a
method cannot be made), every kind of folder is found and opened by its own `open_folder`, and what the explorer
asks of a model (sample from which prior, describe itself, its record) is answered through the interface."""
import json

import pytest
import torch

from explorer.models import FoundModel, LatentModel, Model, is_model_folder, open_folder
from explorer.models.interface import CodeModel

diffusers = pytest.importorskip("diffusers")
BODY = {"down_block_types": ("DownEncoderBlock2D",), "up_block_types": ("UpDecoderBlock2D",),
        "block_out_channels": (8,), "norm_num_groups": 4, "layers_per_block": 1, "sample_size": 8, "in_channels": 1,
        "out_channels": 1}


def test_an_adapter_that_leaves_out_part_of_the_contract_cannot_be_made():
    class NoDecoder(LatentModel):
        image_shape, latent_shape = (1, 8, 8), (2,)

        def parameters(self):
            return iter([torch.zeros(1)])

        def encode(self, x):
            return torch.zeros(len(x), 2), torch.zeros(len(x), 2)

    with pytest.raises(TypeError, match="decode_location"):
        NoDecoder()

    class NoGrid(CodeModel):
        image_shape = (1, 8, 8)
        codebook = torch.eye(4)

        def parameters(self):
            return iter([torch.zeros(1)])

        def encode(self, x):
            return torch.zeros(len(x), 4, 2, 2)

        def quantize(self, z_e):
            return z_e, torch.zeros(len(z_e), 2, 2, dtype=torch.long)

        def decode(self, z_q):
            return torch.zeros(len(z_q), 1, 8, 8)

    with pytest.raises(TypeError, match="grid_size"):
        NoGrid()


def test_each_kind_of_folder_is_opened_by_its_own_open_folder(teach_ckpts, tmp_path):
    torch.manual_seed(0)
    diffusers.AutoencoderKL(latent_channels=2, **BODY).save_pretrained(tmp_path / "kl")
    diffusers.VQModel(latent_channels=2, num_vq_embeddings=8, vq_embed_dim=2, **BODY).save_pretrained(tmp_path / "vq")
    cases = {teach_ckpts / "vae4": ("vae", (1, 8, 8), LatentModel, True), teach_ckpts / "vq": ("vqvae", (1, 8, 8),
             CodeModel, True), tmp_path / "kl": ("vae", (1, 8, 8), LatentModel, False),
             tmp_path / "vq": ("vqvae", (1, 8, 8), CodeModel, False)}
    for folder, (kind, shape, cls, records) in cases.items():
        assert is_model_folder(folder)
        found = open_folder(folder, log=pytest.fail)
        assert isinstance(found, FoundModel) and (found.name, found.kind, found.image_shape) == (folder.name, kind,
                                                                                                   shape)
        assert found.weights.is_file() and found.folder == folder.resolve()
        assert (found.record() is not None) == records and (found.test_split() is not None) == records
        assert found.summary().startswith(f"**{folder.name}**")
        model = found.load()
        assert isinstance(model, cls) and isinstance(model, Model) and model.kind == kind
        assert model.reconstruct(torch.rand(2, *shape)).shape == (2, *shape)


def test_a_folder_that_is_no_model_is_passed_over_and_a_broken_one_is_logged(tmp_path):
    assert open_folder(tmp_path, log=pytest.fail) is None and not is_model_folder(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model": "vae"}))
    logged = []
    assert open_folder(tmp_path, log=logged.append) is None
    assert len(logged) == 1 and "skipping" in logged[0] and "model.safetensors" in logged[0]


def test_sample_honours_the_prior_asked_for(teach_ex):
    vae = teach_ex.store.model("vae4", "vae")
    assert vae.fitted_prior is not None

    def g():
        return torch.Generator().manual_seed(3)

    standard = vae.sample(4, g(), prior="standard")
    fitted = vae.sample(4, g(), prior="fitted")
    assert torch.allclose(standard, vae.decode_location(torch.randn(4, vae.latent_dim, generator=g())), atol=1e-6)
    assert torch.allclose(fitted, vae.decode_location(vae.fitted_prior.sample(4, g())), atol=1e-6)
    assert not torch.allclose(standard, fitted)
    with pytest.raises(ValueError, match="prior"):
        vae.sample(1, g(), prior="uniform")


def test_a_model_without_a_fitted_prior_samples_n_0_i_whichever_prior_is_asked(teach_ex):
    vae = teach_ex.store.model("vae2", "vae")
    assert vae.fitted_prior is None
    assert torch.equal(vae.sample_latents(5, torch.Generator().manual_seed(1), prior="fitted"),
                       vae.sample_latents(5, torch.Generator().manual_seed(1), prior="standard"))
