"""The Compare and Interpolate tabs' service: a VAE's and a VQ-VAE's reconstructions of one image side by side (with
error maps, MSE and PSNR on the same image), and decodes along paths between two test images.
"""
from dataclasses import dataclass

import torch
from PIL import Image

from explorer.compute.fit_images import fit
from explorer.compute.interpolation import linear_path, quantized_path, slerp_path
from explorer.compute.reconstruction import reconstruction
from explorer.figures.pictures import error_map, show, strip
from explorer.service.store import Store


@dataclass
class Reconstruction:
    """One image reconstructed by a VAE and a VQ-VAE: the images shown, |error| maps, MSE and PSNR (dB). The VAE's
    reconstruction is the decoder's location at z = mu(x) (not E[x|z]); MSE and PSNR are measured on it."""

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


class CompareService:
    def __init__(self, store: Store):
        self.store = store

    def reconstruct(self, vae: str, vq: str, x: torch.Tensor) -> Reconstruction:
        """Reconstructions of x (1, C, H, W) by both models, their error maps, MSE and PSNR; a model whose input
        differs from x's shape gets x fitted to it (channels and size), and is measured against that."""
        out = {"original": show(x[0])}
        for key, name, kind in (("vae", vae, "vae"), ("vqvae", vq, "vqvae")):
            r = reconstruction(self.store.model(name, kind, "reconstruct"), x)
            out[key], out[f"{key}_error"] = show(r.x_hat[0]), error_map(r.x[0], r.x_hat[0])
            out[f"{key}_mse"], out[f"{key}_psnr"] = r.mse, r.psnr
        return Reconstruction(**out)

    @torch.no_grad()
    def interpolate(self, vae: str, vq: str, i: int, j: int, steps: int = 10) -> Interpolation:
        """Decodes along the paths from image i to image j: VAE linear and spherical, VQ-VAE pre-quantisation."""
        m, q = self.store.model(vae, "vae", "interpolate"), self.store.model(vq, "vqvae", "interpolate")
        x_a, x_b = self.store.image(vae, i), self.store.image(vae, j)
        za, zb = m.encode(x_a)[0][0], m.encode(x_b)[0][0]  # mu(x), (d,)
        vq_path = quantized_path(q, fit(x_a, q.image_shape), fit(x_b, q.image_shape), steps)
        return Interpolation(strip(m.decode_location(linear_path(za, zb, steps))),
                             strip(m.decode_location(slerp_path(za, zb, steps))), strip(vq_path))
