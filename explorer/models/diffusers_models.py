"""diffusers' AutoencoderKL and VQModel behind the model interface, opened from a local folder (config.json with
`_class_name`, diffusion_pytorch_model.safetensors) with `from_pretrained(folder)`, never from a hub, and never from
pickled weights. diffusers is imported here only, when such a folder is found.

diffusers models take and make images in [-1, 1]: x_model = 2 x - 1 in, x = (x_model + 1) / 2 out, clamped to
[0, 1]. AutoencoderKL's latents are scaled by its `scaling_factor` s (as diffusion models use them):
    z = s * z_raw,  q(z|x) = N(s * mean, (s * sigma)^2),  log sigma_z = 1/2 logvar + log s
so that the prior N(0, I) is roughly right for z; they are spatial (C, h, w) and are flattened to d = C h w for the
map, the sliders and the API. VQModel's codes come from its quantizer (`quantize`), and edited grids are decoded
with `quantize.get_codebook_entry`, then `decode(..., force_not_quantize=True)`.

They run in half precision where the device has it (device.py: half_dtype; float32 on the CPU), in passes of at most
PIXELS_PER_PASS image pixels, so that the activations of large images stay bounded whatever batch the caller sends
(the encoder's first layers hold 128 channels at full resolution). Every method takes and gives CPU float32 tensors.
"""
import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch

from explorer.models.device import CPU, half_dtype, inward, outward, placement
from explorer.models.found import FoundModel
from explorer.models.interface import CodeModel, LatentModel

CLASSES = ("AutoencoderKL", "VQModel")
WEIGHTS = "diffusion_pytorch_model.safetensors"
PIXELS_PER_PASS = 2**21  # images per forward pass: this many pixels (32 images of 256 x 256)


class DiffusersFolderError(ValueError):
    """A folder that looks like a diffusers model but cannot be opened; the message says what to do."""


def diffusers_class(folder: Path) -> str | None:
    """The `_class_name` of a diffusers model folder, or None when the folder is not one."""
    try:
        return json.loads((Path(folder) / "config.json").read_text()).get("_class_name")
    except (OSError, ValueError, AttributeError):
        return None


def check_folder(folder: Path) -> str:
    """The class of a diffusers model folder that the explorer can open; else DiffusersFolderError saying why."""
    folder = Path(folder)
    name = diffusers_class(folder)
    if name not in CLASSES:
        raise DiffusersFolderError(f"{folder}: a diffusers {name} model; the explorer opens {' and '.join(CLASSES)}")
    if not (folder / WEIGHTS).exists():
        pickled = sorted(p.name for p in folder.glob("*") if p.suffix in (".bin", ".ckpt", ".pt", ".pth"))
        found = f" (found {', '.join(pickled)}: pickled weights are never loaded)" if pickled else ""
        raise DiffusersFolderError(f"{folder}: no {WEIGHTS}{found}; save the model with save_pretrained(folder, "
                                   "safe_serialization=True) to get safetensors weights")
    return name


def image_shape_of(folder: Path) -> tuple[int, int, int]:
    """(C, H, W) from the folder's config.json: in_channels and sample_size."""
    cfg = json.loads((Path(folder) / "config.json").read_text())
    size = cfg.get("sample_size", 32)
    size = size[0] if isinstance(size, (list, tuple)) else size
    return (int(cfg.get("in_channels", 3)), int(size), int(size))


def is_model_folder(path: Path) -> bool:
    return diffusers_class(path) is not None


def open_folder(path: Path, log=print) -> "DiffusersFolder | None":
    """The diffusers model folder at `path`, or None (logged with why, when the explorer cannot open it)."""
    try:
        cls = check_folder(path)
    except DiffusersFolderError as e:
        log(f"skipping {path}: {e}")
        return None
    return DiffusersFolder(path.name, "vae" if cls == "AutoencoderKL" else "vqvae", image_shape_of(path),
                           path.resolve(), (path / WEIGHTS).resolve())


@dataclass
class DiffusersFolder(FoundModel):
    def load(self, device=CPU, dtype=None):
        return load(self.folder, device, dtype or self.default_dtype(device))

    def default_dtype(self, device):
        return half_dtype(device)

    def summary(self) -> str:
        c, h, w = self.image_shape
        return (f"**{self.name}**: diffusers {diffusers_class(self.folder)} ({c}x{h}x{w} images), opened from "
                f"{self.folder.name}/; no metrics recorded")


def load(folder: Path, device: torch.device = CPU, dtype: torch.dtype = torch.float32):
    """A DiffusersKL or DiffusersVQ for a checked folder (check_folder), in eval mode on `device` in `dtype`."""
    name = check_folder(folder)
    import diffusers  # only now: a diffusers folder was found

    model = getattr(diffusers, name).from_pretrained(str(folder), use_safetensors=True, low_cpu_mem_usage=False)
    model = (model.to(device) if dtype == torch.float32 else model.to(device, dtype)).eval()  # a dtype given warns
    shape = image_shape_of(folder)
    fit_memory(model, shape[1])
    return DiffusersKL(model, shape) if name == "AutoencoderKL" else DiffusersVQ(model, shape)


def in_passes(run, x: torch.Tensor, at, pixels: int) -> tuple[torch.Tensor, ...]:
    """run(x) over x moved in (inward), in passes of at most PIXELS_PER_PASS image pixels (`pixels` per item); its
    outputs (a tensor or a tuple of them) back on the CPU as float32, joined. One pass is run on x whole (no slicing:
    what the ONNX export traces takes any batch)."""
    step = max(1, PIXELS_PER_PASS // pixels)
    outs = []
    for xb in [x] if len(x) <= step else x.split(step):
        y = run(inward(xb, *at))
        outs.append(tuple(outward(t) for t in (y if isinstance(y, tuple) else (y,))))
    return outs[0] if len(outs) == 1 else tuple(torch.cat(ts) for ts in zip(*outs))


TILE_FROM = 512  # images this many pixels a side or more are encoded and decoded in tiles, one image at a time


def fit_memory(model, side: int, tile_from: int = TILE_FROM) -> bool:
    """For images of `tile_from` pixels a side or more, an AutoencoderKL's tiling (overlapping tiles of its
    sample_size, blended at the seams) and slicing (one image of a batch at a time), so that memory stays bounded;
    whether they were enabled."""
    if side < tile_from or not hasattr(model, "enable_tiling"):
        return False
    model.enable_tiling()
    model.enable_slicing()
    return True


def to_model(x: torch.Tensor) -> torch.Tensor:
    return 2 * x - 1  # [0, 1] -> [-1, 1]


def from_model(y: torch.Tensor) -> torch.Tensor:
    return ((y + 1) / 2).clamp(0.0, 1.0)  # [-1, 1] -> [0, 1]


class DiffusersKL(LatentModel):
    has_decoder_scale = False  # its decoder gives an image, not a distribution over pixels

    def __init__(self, model, image_shape: tuple[int, int, int]):
        self.model, self.image_shape = model, image_shape
        self.scale = float(model.config.get("scaling_factor", 1.0) or 1.0)
        down = 2 ** (len(model.config["block_out_channels"]) - 1)
        self.latent_shape = (int(model.config["latent_channels"]), image_shape[1] // down, image_shape[2] // down)
        self.description = f"diffusers AutoencoderKL (latent {'x'.join(map(str, self.latent_shape))})"
        self.at = placement(model.parameters())  # (device, dtype) of its weights
        self.pixels = image_shape[1] * image_shape[2]  # per image, in and out (in_passes)

    def parameters(self):
        return self.model.parameters()

    def _moments(self, x):
        d = self.model.encode(to_model(x)).latent_dist
        return d.mean, d.logvar

    @torch.no_grad()
    def encode(self, x):
        mean, logvar = in_passes(self._moments, x, self.at, self.pixels)
        mu = self.scale * mean  # z = s z_raw
        log_sigma = 0.5 * logvar + math.log(self.scale)  # sigma_z = s sigma_raw
        return mu.flatten(1), log_sigma.flatten(1)

    @torch.no_grad()
    def decode_location(self, z):
        z = z.float().reshape(-1, *self.latent_shape) / self.scale
        return from_model(in_passes(lambda zb: self.model.decode(zb).sample, z, self.at, self.pixels)[0])


class DiffusersVQ(CodeModel):
    def __init__(self, model, image_shape: tuple[int, int, int]):
        self.model, self.image_shape = model, image_shape
        down = 2 ** (len(model.config["block_out_channels"]) - 1)
        self._grid = image_shape[1] // down
        self.description = f"diffusers VQModel (K = {self.num_codes}, grid {self._grid}x{self._grid})"
        self.at = placement(model.parameters())  # (device, dtype) of its weights
        self.pixels = image_shape[1] * image_shape[2]  # per image, in and out (in_passes)

    def parameters(self):
        return self.model.parameters()

    @property
    def codebook(self):
        return outward(self.model.quantize.embedding.weight.detach())

    @property
    def grid_size(self):
        return self._grid

    @torch.no_grad()
    def encode(self, x):
        return in_passes(lambda xb: self.model.encode(to_model(xb)).latents, x, self.at, self.pixels)[0]

    @torch.no_grad()
    def quantize(self, z_e):
        z_q, _, (_, _, indices) = self.model.quantize(inward(z_e, *self.at))
        b, _, h, w = z_e.shape
        return outward(z_q), outward(indices.reshape(b, h, w))

    @torch.no_grad()
    def decode(self, z_q):
        return from_model(in_passes(lambda zb: self.model.decode(zb, force_not_quantize=True).sample, z_q,
                                    self.at, self.pixels)[0])

    @torch.no_grad()
    def decode_indices(self, grid):
        b, h, w = grid.shape
        z_q = self.model.quantize.get_codebook_entry(inward(grid.reshape(-1).long(), *self.at),
                                                     shape=(b, h, w, self.codebook.shape[1]))
        return self.decode(z_q)  # already on the device: moving in is a no-op
