"""A user's own PyTorch module behind the model interface, checked once with a dummy batch so that a wrong method
or shape is named at start, not in the middle of a click.

    continuous latents: module.encode(x) -> (mu, log_sigma), any latent shape; module.decode(z) -> images in [0, 1]
    discrete codes:     module.encode_indices(x) -> (B, h, w); module.decode_indices(grid) -> images;
                        module.codebook -> (K, D)
x is a float batch in [0, 1] of shape (B, C, H, W) at `image_shape`. Optional: module.sample(n, generator) for a
model with a prior of its own; without it, a continuous model samples z ~ N(0, I).

A module with parameters is moved to the device chosen at start (after checking that it fits) and keeps its own
dtype; inputs are moved and cast to its first parameter's device and dtype, outputs come back as CPU float32.
"""
import copy
from dataclasses import dataclass

import torch

from explorer.models.device import CPU, check_fits, free_bytes, inward, outward, placement
from explorer.models.found import FoundModel
from explorer.models.interface import CodeModel, LatentModel


class ModuleError(ValueError):
    """A user's module lacks a method or returns the wrong shape; the message names the method and the shapes."""


def from_module(module, image_shape: tuple[int, int, int], name: str = "model"):
    """A LatentModel or CodeModel for `module` (an nn.Module or any object with the methods above)."""
    if hasattr(module, "eval"):
        module.eval()
    if all(hasattr(module, m) for m in ("encode_indices", "decode_indices", "codebook")):
        return ModuleCodes(module, tuple(image_shape), name)
    if all(hasattr(module, m) for m in ("encode", "decode")):
        return ModuleLatents(module, tuple(image_shape), name)
    raise ModuleError(f"{name}: a model needs encode(x) -> (mu, log_sigma) and decode(z) (continuous latents), or "
                      "encode_indices(x), decode_indices(grid) and codebook (discrete codes)")


@dataclass
class GivenModule(FoundModel):
    """A module given from Python (explorer.launch(models=...)): checked and wrapped at start, never cached."""

    def load(self, device=CPU, dtype=None):
        """The module as it was given, or a copy of it on another device (the static site's CPU copy)."""
        if self.model.at[0] == device:
            return self.model
        return from_module(copy.deepcopy(self.model.module).to(device), self.image_shape, self.name)

    def numbers(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def summary(self) -> str:
        c, h, w = self.image_shape
        return f"**{self.name}**: {self.model.description} ({c}x{h}x{w} images), given from Python"


def given_module(name: str, module, image_shape: tuple[int, int, int], device: torch.device = CPU) -> GivenModule:
    """`module` behind the interface, moved to `device` when it has parameters elsewhere (ModelTooLarge when they
    do not fit there) and checked now (ModuleError naming the method and the shapes)."""
    params = list(module.parameters()) if hasattr(module, "parameters") and hasattr(module, "to") else []
    at = placement(params)
    if params and at[0] != device:
        check_fits(name, sum(p.numel() for p in params), at[1], free_bytes(device), device)
        module.to(device)
    model = from_module(module, image_shape, name)
    return GivenModule(name, model.kind, model.image_shape, model=model)


def _call(name: str, method: str, fn, at, *args):
    """fn(*args) with the tensors among args moved in (inward); a failure named with the method and the shapes."""
    try:
        with torch.no_grad():
            return fn(*(inward(a, *at) if isinstance(a, torch.Tensor) else a for a in args))
    except Exception as e:  # noqa: BLE001 - any failure of the user's code becomes a message naming it
        shapes = ", ".join(str(tuple(a.shape)) for a in args if hasattr(a, "shape"))
        raise ModuleError(f"{name}.{method} raised {type(e).__name__} on input of shape {shapes}: {e}") from e


def _check_images(name: str, method: str, y, n: int, image_shape) -> torch.Tensor:
    if not isinstance(y, torch.Tensor) or tuple(y.shape) != (n, *image_shape):
        got = tuple(y.shape) if hasattr(y, "shape") else type(y).__name__
        raise ModuleError(f"{name}.{method} must return images of shape {(n, *image_shape)}, got {got}")
    return outward(y).clamp(0.0, 1.0)


class ModuleLatents(LatentModel):
    def __init__(self, module, image_shape, name):
        self.module, self.image_shape, self.name = module, image_shape, name
        self.description = f"PyTorch module {type(module).__name__}"
        self.at = placement(self.parameters())  # (device, dtype) of its weights
        x = torch.rand(2, *image_shape)
        out = _call(name, "encode", module.encode, self.at, x)
        if not (isinstance(out, (tuple, list)) and len(out) == 2 and out[0].shape == out[1].shape
                and len(out[0]) == 2):
            raise ModuleError(f"{name}.encode must return (mu, log_sigma), two tensors of shape (B, ...) alike; got "
                              f"{type(out).__name__} for a batch of 2 images {tuple(x.shape)}")
        self.latent_shape = tuple(out[0].shape[1:])
        self.decode_location(out[0].flatten(1))  # checks decode's shape now

    def parameters(self):
        return self.module.parameters() if hasattr(self.module, "parameters") else iter([torch.zeros(0)])

    def encode(self, x):
        mu, log_sigma = _call(self.name, "encode", self.module.encode, self.at, x)
        return outward(mu).flatten(1), outward(log_sigma).flatten(1)

    def decode_location(self, z):
        y = _call(self.name, "decode", self.module.decode, self.at, z.float().reshape(-1, *self.latent_shape))
        return _check_images(self.name, "decode", y, len(z), self.image_shape)

    def sample(self, n, generator=None, temperature=1.0, prior="fitted"):
        """The module's own sample(n, generator) when it has one (its prior), else (or with prior="standard") the
        decodes of z ~ N(0, temperature^2 I)."""
        if prior == "fitted" and hasattr(self.module, "sample"):
            y = _call(self.name, "sample", self.module.sample, self.at, n, generator)
            return _check_images(self.name, "sample", y, n, self.image_shape)
        return super().sample(n, generator, temperature, prior)


class ModuleCodes(CodeModel):
    def __init__(self, module, image_shape, name):
        self.module, self.image_shape, self.name = module, image_shape, name
        self.description = f"PyTorch module {type(module).__name__}"
        self.at = placement(self.parameters())  # (device, dtype) of its weights
        grid = _call(name, "encode_indices", module.encode_indices, self.at, torch.rand(1, *image_shape))
        if not (isinstance(grid, torch.Tensor) and grid.dim() == 3 and grid.shape[1] == grid.shape[2]):
            raise ModuleError(f"{name}.encode_indices must return a square grid of code indices (B, h, w), got "
                              f"{tuple(grid.shape) if hasattr(grid, 'shape') else type(grid).__name__}")
        self._grid = int(grid.shape[1])
        self.decode_indices(grid)

    def parameters(self):
        return self.module.parameters() if hasattr(self.module, "parameters") else iter([torch.zeros(0)])

    @property
    def codebook(self):
        return outward(torch.as_tensor(self.module.codebook).detach())

    @property
    def grid_size(self):
        return self._grid

    def encode_indices(self, x):
        return outward(_call(self.name, "encode_indices", self.module.encode_indices, self.at, x).long())

    def decode_indices(self, grid):
        y = _call(self.name, "decode_indices", self.module.decode_indices, self.at, grid.long())
        return _check_images(self.name, "decode_indices", y, len(grid), self.image_shape)

    def encode(self, x):
        """z_e as the codes' vectors (a module that gives only indices has no pre-quantisation vectors)."""
        return self.codebook[self.encode_indices(x)].permute(0, 3, 1, 2)

    def quantize(self, z_e):
        b, d, h, w = z_e.shape
        flat = z_e.permute(0, 2, 3, 1).reshape(-1, d)
        idx = torch.cdist(flat, self.codebook).argmin(1)  # the nearest code
        return self.codebook[idx].reshape(b, h, w, d).permute(0, 3, 1, 2), idx.reshape(b, h, w)

    def decode(self, z_q):
        return self.decode_indices(self.quantize(z_q)[1])
