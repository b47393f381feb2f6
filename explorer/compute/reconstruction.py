"""A model's reconstruction of an image and how far it is from it: MSE and PSNR, on the model's own input.

    MSE  = mean over pixels (x_hat - x)^2
    PSNR = 10 log10(1 / MSE)   (pixels in [0, 1])
An image of another size or number of channels is first fitted to the model's input (fit_images.fit), and the
figures are measured against that fitted image.
"""
from dataclasses import dataclass

import torch

from explorer.compute.fit_images import fit
from vae_core.evaluation.metrics import psnr


@dataclass
class Reconstructed:
    x: torch.Tensor  # (1, C, H, W) the image as the model took it
    x_hat: torch.Tensor  # (1, C, H, W) its reconstruction, in [0, 1]
    mse: float
    psnr: float  # dB


@torch.no_grad()
def reconstruction(model, x: torch.Tensor) -> Reconstructed:
    xm = fit(x, model.image_shape)
    x_hat = model.reconstruct(xm)
    mse = float((x_hat - xm).pow(2).mean())  # MSE = mean (x_hat - x)^2
    return Reconstructed(xm, x_hat, mse, psnr(mse))
