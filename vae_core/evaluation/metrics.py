"""Figures of a model's reconstructions and bounds, from per-image numbers.

    PSNR = 10 log10(1 / MSE)                      pixels in [0, 1]
    SE   = sd(t) / sqrt(N)                         the standard error of the mean of N per-image figures t
    bits/dim = nats / (D ln 2)                     D = C x H x W numbers per image
"""
import math

import torch

EXPECTATION_CHUNK = 8  # images per exact E[x|z]: 256 levels x 8 x 784 pixels = 6.4 MB per tensor


def psnr(mse: float) -> float:
    """PSNR = 10 log10(1 / MSE) for pixels in [0, 1]."""
    return 10 * math.log10(1.0 / max(mse, 1e-12))


def standard_error(t: torch.Tensor) -> float:
    """The standard error of the mean of per-image figures t: std / sqrt(N) (0 for one image)."""
    return (t.double().std() / math.sqrt(len(t))).item() if len(t) > 1 else 0.0


def bits_per_dim(nats: float, dims: int) -> float:
    """nats per image -> bits per dimension: nats / (D ln 2)."""
    return nats / (dims * math.log(2))


def likelihood_bound(recon: float, prior_nll: float, dims: int) -> dict:
    """A VQ-VAE's bound -log p(x) <= recon + prior_nll (nats per image; VQVAE.evaluation_terms), and in bits/dim."""
    neg_elbo = recon + prior_nll
    return {"recon": recon, "prior_nll": prior_nll, "neg_elbo": neg_elbo, "code_length": True,
            "bits_per_dim": bits_per_dim(neg_elbo, dims), "recon_bits_per_dim": bits_per_dim(recon, dims)}


def squared_error_of_expectation(likelihood, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Each image's sum over pixels of (E[x|z] - x)^2, E[x|z] exact over the 256 levels (Likelihood.expectation), in
    chunks of EXPECTATION_CHUNK images: each chunk's level probabilities are (256, chunk, C, H, W) floats. (B,)."""
    c = EXPECTATION_CHUNK
    return torch.cat([(likelihood.expectation(params[i:i + c]) - x[i:i + c]).pow(2).flatten(1).sum(1)
                      for i in range(0, len(params), c)])
