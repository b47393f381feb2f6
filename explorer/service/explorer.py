"""Everything the app's views and API endpoints do, as plain functions over an `Explorer` (no Gradio here).

One `Explorer` serves all browser sessions: it holds read-only things (checkpoints, data sets, projections);
what a person has selected lives in their session's state, never here.
"""
import threading
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from vae_core.data import Dataset, load_dataset, to_float
from vae_core.data.idx import DataError
from vae_core.evaluate import psnr
from vae_core.images import make_grid, to_pil

from explorer.service.registry import Registry
from explorer.compute.code_grid import validate_grid
from explorer.errors import IndexRangeError, UserError, finite_position
from explorer.figures.pictures import DISPLAY, error_map, load_upload, show, strip
from explorer.compute.inverse import LatentMap
from explorer.service.projection import (
    CodebookProjection,
    LatentProjection,
    load_or_compute,
    no_progress,
)
from explorer.service.teaching import Teaching

MAX_ABS_LATENT = 50.0  # |z| beyond this is far outside N(0, I): refused as a likely mistake


class LatentError(UserError):
    pass


class DataUnavailable(UserError):
    """The data set a checkpoint was trained on cannot be found or read."""


@dataclass
class LatentView:
    proj: LatentProjection
    mapping: LatentMap
    data: Dataset


@dataclass
class Reconstruction:
    """One image reconstructed by a VAE and a VQ-VAE: the images shown, |error| maps, MSE and PSNR (dB)."""

    original: Image.Image
    vae: Image.Image
    vqvae: Image.Image
    vae_error: Image.Image
    vqvae_error: Image.Image
    vae_mse: float
    vae_psnr: float
    vqvae_mse: float
    vqvae_psnr: float


@dataclass
class Interpolation:
    """Decodes along paths between two test images, each a row of images."""

    linear: Image.Image  # VAE: z(t) = (1 - t) z_a + t z_b
    spherical: Image.Image  # VAE: slerp between z_a and z_b
    vq: Image.Image  # VQ-VAE: quantise((1 - t) z_e(a) + t z_e(b))


def validate_latent(values, dim: int) -> np.ndarray:
    try:
        z = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise LatentError(f"latent must be a list of {dim} numbers ({e})") from e
    if z.shape != (dim,):
        raise LatentError(f"latent must be a list of {dim} numbers, got shape {z.shape}")
    if not np.isfinite(z).all():
        raise LatentError("latent holds NaN or inf; send finite numbers")
    if np.abs(z).max() > MAX_ABS_LATENT:
        raise LatentError(f"latent values must lie within +-{MAX_ABS_LATENT:g} (the prior is N(0, I))")
    return z


class Explorer(Teaching):  # teaching.py: the methods of the teaching and projector-like views
    def __init__(self, folders: list[str | Path], log=print):
        self.registry = Registry(folders, log)
        self.log = log
        self._data: dict[tuple, Dataset] = {}
        self._views: dict[str, object] = {}
        self._lock = threading.Lock()
        self._computing = defaultdict(threading.Lock)  # one projection computed once, even if asked for twice

    # --- cached, read-only resources ---------------------------------------------------------------
    def data(self, name: str) -> Dataset:
        cfg = self.registry.get(name).cfg
        key = (cfg.data, cfg.data_dir, cfg.channels, cfg.image_size, cfg.seed)
        with self._lock:
            if key not in self._data:
                try:
                    self._data[key] = load_dataset(cfg.data, cfg.data_dir, cfg.channels, cfg.image_size, cfg.seed,
                                                   log=self.log)
                except (DataError, FileNotFoundError) as e:
                    raise DataUnavailable(f"the data set of {name!r} ({cfg.data}) is not available: {e}") from e
            return self._data[key]

    def _projection(self, name: str, progress=no_progress):
        with self._computing[name]:
            if name not in self._views:
                ds = self.data(name)
                proj = load_or_compute(self.registry.get(name).path, self.registry.model(name), ds.x_test,
                                       ds.y_test, log=self.log, progress=progress)
                self._views[name] = (LatentView(proj, LatentMap(proj.latents, proj.coords), ds)
                                     if isinstance(proj, LatentProjection) else proj)
        return self._views[name]

    def latent_view(self, name: str, progress=no_progress) -> LatentView:
        """A VAE's test images on the map: projection, the map <-> latent mapping, the data; progress(fraction, what)
        hears how a first computation goes."""
        return self._projection(name, progress)

    def codebook_view(self, name: str, progress=no_progress) -> CodebookProjection:
        return self._projection(name, progress)

    def map_latent(self, name: str, index=None, x=None, y=None) -> np.ndarray:
        """The latent for a click on the map: test image `index`'s mu(x), or the inverse map at (x, y)."""
        view = self.latent_view(name)
        if index is not None:
            self.image(name, index)  # checks the range
            return view.proj.latents[int(index)]
        return view.mapping.to_latent(*finite_position(x, y, LatentError, "a map position"))

    # --- VAE ----------------------------------------------------------------------------------------
    def image(self, name: str, index: int) -> torch.Tensor:
        x = self.data(name).x_test
        if not isinstance(index, (int, np.integer, float)) or index != int(index) or not 0 <= int(index) < len(x):
            raise IndexRangeError(f"image index must be an integer in 0..{len(x) - 1}, got {index!r}")
        return to_float(x[int(index):int(index) + 1])

    @torch.no_grad()
    def decode_latent(self, name: str, latent, side: int = DISPLAY) -> Image.Image:
        model = self.registry.model(name)
        if model.cfg.model != "vae":
            raise LatentError(f"{name} is a {model.cfg.model.upper()}: decode_latent takes a VAE checkpoint")
        z = validate_latent(latent, model.cfg.latent_dim)
        return show(model.decode_mean(torch.tensor(z, dtype=torch.float32)[None])[0], side)

    @torch.no_grad()
    def manifold(self, name: str, n: int = 15) -> Image.Image | None:
        """For a 2-D latent: decodes over an n x n grid spanning the data's latent range."""
        view = self.latent_view(name)
        model = self.registry.model(name)
        if model.cfg.latent_dim != 2:
            return None
        lo, hi = np.percentile(view.proj.latents, [1, 99], axis=0)
        xs, ys = np.linspace(lo[0], hi[0], n), np.linspace(hi[1], lo[1], n)  # top row = high y, as on the map
        z = torch.tensor([[x, y] for y in ys for x in xs], dtype=torch.float32)
        return to_pil(make_grid(model.decode_mean(z), nrow=n, pad=0), 2)

    # --- VQ-VAE -------------------------------------------------------------------------------------
    @torch.no_grad()
    def decode_codes(self, name: str, grid, side: int = DISPLAY) -> Image.Image:
        model = self.registry.model(name)
        if model.cfg.model != "vqvae":
            raise LatentError(f"{name} is a {model.cfg.model.upper()}: decode_codes takes a VQ-VAE checkpoint")
        g = validate_grid(grid, model.grid_size, model.cfg.num_codes)
        return show(model.decode_indices(torch.from_numpy(g)[None])[0], side)

    # --- both ---------------------------------------------------------------------------------------
    @torch.no_grad()
    def reconstruct(self, vae: str, vq: str, x: torch.Tensor) -> Reconstruction:
        """Reconstructions of x (1, C, H, W) by both models, their error maps, MSE and PSNR."""
        out = {"original": show(x[0])}
        for key, name in (("vae", vae), ("vqvae", vq)):
            x_hat = self.registry.model(name).reconstruct(x)
            mse = float((x_hat - x).pow(2).mean())  # MSE = mean (x_hat - x)^2
            out[key] = show(x_hat[0])
            out[f"{key}_error"] = error_map(x[0], x_hat[0])
            out[f"{key}_mse"], out[f"{key}_psnr"] = mse, psnr(mse)
        return Reconstruction(**out)

    def load_upload(self, name: str, source) -> tuple[torch.Tensor, str]:
        cfg = self.registry.get(name).cfg
        a, note = load_upload(source, cfg.channels, cfg.image_size)
        return to_float(a[None]), note

    @torch.no_grad()
    def interpolate(self, vae: str, vq: str, i: int, j: int, steps: int = 10) -> Interpolation:
        """Decodes along the paths from image i to image j: VAE linear and spherical, VQ-VAE pre-quantisation."""
        xa, xb = self.image(vae, i), self.image(vae, j)
        t = torch.linspace(0, 1, steps)[:, None]
        m = self.registry.model(vae)
        za, zb = m.encode(xa)[0], m.encode(xb)[0]
        linear = m.decode_mean((1 - t) * za + t * zb)  # z(t) = (1 - t) z_a + t z_b
        omega = torch.arccos((za / za.norm() * zb / zb.norm()).sum().clamp(-1 + 1e-6, 1 - 1e-6))
        slerp = (torch.sin((1 - t) * omega) * za + torch.sin(t * omega) * zb) / torch.sin(omega)  # spherical
        q = self.registry.model(vq)
        ea, eb = q.encode(self.image(vq, i)), q.encode(self.image(vq, j))
        path = torch.cat([q.decode(q.quantize((1 - s) * ea + s * eb)[0]) for s in t.flatten().tolist()]).clamp(0, 1)
        return Interpolation(strip(linear), strip(m.decode_mean(slerp)), strip(path))
