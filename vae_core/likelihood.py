"""Decoder likelihoods p(x|z), as log-densities summed over pixels (one number per image).

Pixels are floats in [0, 1]. The decoder outputs `params`: logits for `bernoulli`,
the mean for the Gaussians.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

LOG_2PI = math.log(2 * math.pi)


class Likelihood(nn.Module):
    """p(x|z) with one of three forms; `log_prob` and `mean` take the decoder's output."""

    def __init__(self, kind: str, image_shape: tuple[int, int, int], fixed_scale: float = 0.1):
        super().__init__()
        self.kind = kind
        if kind == "gaussian":
            # learned per-pixel log sigma, shared over images
            self.log_scale = nn.Parameter(torch.full(image_shape, math.log(0.1)))
        elif kind == "gaussian_fixed":
            self.register_buffer("log_scale", torch.full(image_shape, math.log(fixed_scale)))

    def log_prob(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """log p(x|z), summed over pixels: shape (batch,)."""
        if self.kind == "bernoulli":
            # log p = x log sigmoid(l) + (1 - x) log(1 - sigmoid(l)) = -BCE(l, x)
            lp = -F.binary_cross_entropy_with_logits(params, x, reduction="none")
        else:
            # log N(x; mu, sigma) = -((x - mu) / sigma)^2 / 2 - log sigma - log(2 pi) / 2
            log_scale = self.log_scale.clamp(min=-7.0)
            lp = -0.5 * ((x - params) * torch.exp(-log_scale)) ** 2 - log_scale - 0.5 * LOG_2PI
        return lp.flatten(1).sum(1)

    def mean(self, params: torch.Tensor) -> torch.Tensor:
        """E[x|z], clamped to the pixel range [0, 1]."""
        if self.kind == "bernoulli":
            return torch.sigmoid(params)
        return params.clamp(0.0, 1.0)
