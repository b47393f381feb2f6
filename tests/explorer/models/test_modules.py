"""A user's own PyTorch module behind the model interface: what it must have, and the messages when it does not."""
import numpy as np
import pytest
import torch
from torch import nn

from explorer.models.modules import ModuleError, from_module
from explorer.service.explorer import Explorer
from explorer.service.image_sets import ImageSet


class TinyVAE(nn.Module):
    """encode -> (mu, log sigma) of a (2, 2, 2) latent; decode -> 1 x 8 x 8 images."""

    def __init__(self):
        super().__init__()
        self.enc, self.dec = nn.Linear(64, 16), nn.Linear(8, 64)

    def encode(self, x):
        h = self.enc(x.flatten(1))
        return h[:, :8].view(-1, 2, 2, 2), h[:, 8:].view(-1, 2, 2, 2)

    def decode(self, z):
        return torch.sigmoid(self.dec(z.flatten(1))).view(-1, 1, 8, 8)


class TinyCodes(nn.Module):
    """A 2 x 2 grid of 4 codes of 3 numbers."""

    def __init__(self):
        super().__init__()
        self.codebook = nn.Parameter(torch.randn(4, 3))

    def encode_indices(self, x):
        return (x[:, 0, ::4, ::4] * 3.99).long()

    def decode_indices(self, grid):
        return self.codebook[grid].mean(-1).sigmoid().repeat_interleave(4, 1).repeat_interleave(4, 2)[:, None]


def test_a_module_with_a_spatial_latent_is_flattened_and_decodes_images():
    m = from_module(TinyVAE(), (1, 8, 8), "mine")
    assert m.kind == "vae" and m.latent_shape == (2, 2, 2) and m.latent_dim == 8
    x = torch.rand(3, 1, 8, 8)
    mu, log_sigma = m.encode(x)
    assert mu.shape == log_sigma.shape == (3, 8)
    assert m.decode_location(mu).shape == (3, 1, 8, 8) and m.sample(2, torch.Generator().manual_seed(0)).shape[0] == 2
    assert "no decoder scale" in m.missing("decoder scale")


def test_a_module_with_codes_decodes_edited_grids():
    m = from_module(TinyCodes(), (1, 8, 8), "codes")
    assert m.kind == "vqvae" and m.grid_size == 2 and m.num_codes == 4
    grid = m.encode_indices(torch.rand(1, 1, 8, 8))
    edited = (grid + 1) % 4
    assert not torch.equal(m.decode_indices(grid), m.decode_indices(edited))
    z_q, idx = m.quantize(m.encode(torch.rand(1, 1, 8, 8)))
    assert idx.shape == (1, 2, 2) and z_q.shape == (1, 3, 2, 2)


def test_wrong_methods_and_shapes_are_named_at_start():
    with pytest.raises(ModuleError, match="needs encode"):
        from_module(nn.Linear(2, 2), (1, 8, 8), "lin")

    class BadDecode(TinyVAE):
        def decode(self, z):
            return torch.zeros(len(z), 1, 4, 4)

    with pytest.raises(ModuleError, match=r"bad.decode must return images of shape \(2, 1, 8, 8\), got \(2, 1, 4, 4\)"):
        from_module(BadDecode(), (1, 8, 8), "bad")

    class Raises(TinyVAE):
        def encode(self, x):
            raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    with pytest.raises(ModuleError, match=r"raises\.encode raised RuntimeError on input of shape \(2, 3, 8, 8\)"):
        from_module(Raises(), (3, 8, 8), "raises")

    class OneOutput(TinyVAE):
        def encode(self, x):
            return super().encode(x)[0]

    with pytest.raises(ModuleError, match=r"must return \(mu, log_sigma\)"):
        from_module(OneOutput(), (1, 8, 8), "one")


def test_the_explorer_serves_a_module_over_images_given_as_an_array():
    images = np.random.default_rng(0).integers(0, 256, (30, 1, 8, 8), dtype=np.uint8)
    ex = Explorer([], log=lambda *a: None, images=ImageSet.from_arrays(images, np.arange(30) % 3),
                  models={"mine": (TinyVAE(), (1, 8, 8))})
    assert ex.store.names("vae") == ["mine"] and "given from Python" in ex.store.found("mine").summary()
    assert ex.map.decode_latent("mine", [0.0] * 8, side=0).size == (8, 8)
    assert ex.store.data("mine").x_test.shape == (30, 1, 8, 8) and ex.store.data("mine").label_names == ["0", "1", "2"]
