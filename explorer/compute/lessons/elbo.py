"""KL(q(z|x) || N(0, I)) in closed form beside its Monte Carlo estimate from L draws of q, as L grows.

    KL = 1/2 sum_j (mu_j^2 + sigma_j^2 - 1 - 2 log sigma_j)                     (closed form: vae_core's)
    KL_L = 1/L sum_l [log q(z_l|x) - log p(z_l)],  z_l = mu + sigma eps_l       (Monte Carlo)
         = 1/L sum_l sum_j [-1/2 eps_lj^2 - log sigma_j + 1/2 z_lj^2]           (the 2 pi terms cancel)
    SE_L = sd_l(...) / sqrt(L)
Every L uses the first L draws of one seeded sequence, so the estimates for growing L are nested, as in the Maths
tab's Monte Carlo panel.
"""
from dataclasses import dataclass

import numpy as np
import torch

from explorer.compute.montecarlo import standard_error
from vae_core.models.gaussian import DiagonalGaussian

SAMPLES = (1, 4, 16, 64, 256, 1024)  # the L's of the table


@dataclass(frozen=True)
class KlEstimates:
    closed_form: float  # nats
    samples: tuple[int, ...]  # the L's
    estimates: tuple[float, ...]  # KL_L for each L
    errors: tuple[float, ...]  # SE_L (nan for L = 1)


def kl_terms(mu: np.ndarray, sigma: np.ndarray, eps: np.ndarray) -> np.ndarray:
    """log q(z_l) - log N(z_l; 0, I) for each draw z_l = mu + sigma eps_l, eps (L, d): (L,)."""
    z = mu + sigma * eps
    return (-0.5 * eps**2 - np.log(sigma) + 0.5 * z**2).sum(1)


def kl_estimates(mu, sigma, seed: int = 0, samples=SAMPLES) -> KlEstimates:
    """The closed-form KL of N(mu, diag(sigma^2)) against N(0, I) and its Monte Carlo estimates with each L."""
    mu, sigma = np.asarray(mu, np.float64), np.asarray(sigma, np.float64)
    q = DiagonalGaussian(torch.from_numpy(mu)[None], torch.from_numpy(np.log(sigma))[None])
    eps = np.random.default_rng(seed).standard_normal((max(samples), len(mu)))
    terms = kl_terms(mu, sigma, eps)
    return KlEstimates(float(q.kl()[0]), tuple(samples), tuple(float(terms[:n].mean()) for n in samples),
                       tuple(standard_error(terms[:n]) for n in samples))


@dataclass(frozen=True)
class Scales:
    """What the two networks output for one image: q(z|x)'s location and scale per latent number, and p(x|z)'s per
    pixel (at z = mu)."""

    latents: int
    pixels: int
    encoder_scale: float  # median sigma_j of q(z|x)
    decoder_scale: float  # median scale of p(x_i|z), in pixel units (the image is in [0, 1])


@torch.no_grad()
def network_scales(model, x: torch.Tensor) -> Scales:
    """The median scale each network outputs for image x (1, C, H, W), for a VAE with a decoder scale."""
    mu, log_sigma = model.encode(x)
    _, log_scale = model.likelihood.location_and_log_scale(model.decode(mu))
    return Scales(mu.shape[1], int(np.prod(x.shape[1:])), float(log_sigma.exp().median()),
                  float(log_scale.exp().median()))
