"""What the decoder says about a latent z: p(x|z)'s mean, its per-pixel scale, and a sample.

For the discretised likelihoods the decoder outputs a location and a log scale per pixel. E[x|z] is the exact mean
over the 256 levels, sum_k (k / 255) P(k | z) (vae_core Likelihood.expectation); the location (clamped to [0, 1]:
VAE.decode_location, what the map's decodes, the traversals and evaluate's MSE / PSNR use) differs from it near 0
and 1 and where the scale is wide. A sample from p(x|z) is noisy where the mean is smooth: the decoder is stuck with
a factorised distribution. Bernoulli models have no scale: their "scale" here is the standard deviation
sqrt(p (1 - p)), and their location sigmoid(logits) is E[x|z] itself.
"""
from dataclasses import dataclass

import numpy as np
import torch

from explorer.compute.colormap import heat_map


@dataclass
class DecoderOutput:
    mean: np.ndarray  # (C, H, W) E[x|z] in [0, 1], exact over the 256 levels (not the location)
    location: np.ndarray  # (C, H, W) the decoder's location, clamped to [0, 1] (= VAE.decode_location)
    scale: np.ndarray  # (C, H, W) the likelihood's scale s per pixel (logistic: sd = pi s / sqrt 3)
    scale_map: np.ndarray  # (H, W, 3) uint8: log10 of the scale (mean over channels), viridis over scale_range
    scale_range: tuple[float, float]  # (lo, hi) of log10 scale, the heat map's colour bar
    sample: np.ndarray  # (C, H, W) x ~ p(x|z), on the 256 levels


def pixel_scale(likelihood, params: torch.Tensor) -> torch.Tensor:
    """exp(log scale) per pixel; sqrt(p (1 - p)) for Bernoulli."""
    if likelihood.kind == "bernoulli":
        p = torch.sigmoid(params.float())
        return (p * (1 - p)).sqrt()
    return likelihood.location_and_log_scale(params)[1].exp()


@torch.no_grad()
def decoder_output(model, z, seed: int = 0) -> DecoderOutput:
    """p(x|z) for one latent z (d,) under a VAE: its mean, location, scale (and heat map) and a seeded sample."""
    params = model.decode(torch.as_tensor(np.asarray(z), dtype=torch.float32)[None])
    lik = model.likelihood
    scale = pixel_scale(lik, params)[0]
    log_scale = scale.clamp_min(1e-12).log10().mean(0).numpy()  # mean over channels: one heat map
    lo, hi = float(log_scale.min()), float(log_scale.max())
    sample = lik.sample(params, torch.Generator().manual_seed(int(seed)))[0]
    return DecoderOutput(lik.expectation(params)[0].numpy(), lik.mean(params)[0].numpy(), scale.numpy(),
                         heat_map(log_scale, lo, hi), (lo, hi), sample.numpy())
