"""Decoder likelihoods p(x|z), as log-probabilities summed over pixels (one number per image).

Pixels are floats in [0, 1], each one of the 256 levels k / 255 of an 8-bit image. The discretised likelihoods
give each level the mass of its bin [k - 1/2, k + 1/2] / 255 under a continuous distribution (the first and last
bins reach to -inf and +inf), so they sum to 1 over the 256 levels: -log p is a true code length, in nats, and
bits/dim = -log2 p / D (the convention of PixelCNN++, the VQ-VAE paper and the flow papers).

    bernoulli              p(x|z) = Bernoulli(sigmoid(logits)); normalised over {0, 1}, so a code length only on
                           binary images. On grey pixels it is the usual cross-entropy loss, not a likelihood.
    discretized_gaussian   mass of the bin under N(loc, scale^2)
    discretized_logistic   mass of the bin under Logistic(loc, scale)

The scale of the discretised likelihoods is `decoder` (the decoder outputs a log scale per pixel, as a function of
z, beside the location), `shared` (one learned log scale per pixel, shared over images) or `fixed`.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

LEVELS = 256  # values an 8-bit pixel can take
HALF_BIN = 0.5 / (LEVELS - 1)  # half the width of one level's bin, in [0, 1] pixel units
LOG_SCALE_FLOOR = -8.0  # scale >= 3.4e-4: the central bin can still hold 99% of the mass


def soft_clamp(x: torch.Tensor, low: float, high: float | None = None) -> torch.Tensor:
    """A smooth max(x, low) (and min(., high)): low + softplus(x - low); the gradient never vanishes outright."""
    x = low + F.softplus(x - low)
    return x if high is None else high - F.softplus(high - x)


def _log_diff_exp(log_hi: torch.Tensor, log_lo: torch.Tensor) -> torch.Tensor:
    """log(exp(log_hi) - exp(log_lo)) for log_hi >= log_lo, without cancellation."""
    return log_hi + torch.log(-torch.expm1(log_lo - log_hi).clamp(max=-1e-30))


def discretized_gaussian_log_prob(x: torch.Tensor, loc: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    """log [Phi((x + h - loc) / s) - Phi((x - h - loc) / s)] per pixel, the edge bins open to -inf and +inf."""
    inv_s = torch.exp(-log_scale)
    upper, lower = (x + HALF_BIN - loc) * inv_s, (x - HALF_BIN - loc) * inv_s
    log_cdf_upper = torch.special.log_ndtr(upper)  # log Phi(b): the mass of the first bin
    log_sf_lower = torch.special.log_ndtr(-lower)  # log (1 - Phi(a)): the mass of the last bin
    # the bin's mass from whichever tail it lies in: Phi(b) - Phi(a), or (1 - Phi(a)) - (1 - Phi(b)) when a > 0
    left = _log_diff_exp(log_cdf_upper, torch.special.log_ndtr(lower))
    right = _log_diff_exp(log_sf_lower, torch.special.log_ndtr(-upper))
    inner = torch.where(lower > 0, right, left)
    # a bin much narrower than the scale: mass = width x density at its centre (the difference above underflows)
    width = 2 * HALF_BIN * inv_s
    centre = (x - loc) * inv_s
    narrow = -0.5 * centre.pow(2) - 0.5 * math.log(2 * math.pi) + torch.log(width)
    inner = torch.where(width < 1e-3, narrow, inner)
    return torch.where(x < HALF_BIN, log_cdf_upper, torch.where(x > 1 - HALF_BIN, log_sf_lower, inner))


def discretized_logistic_log_prob(x: torch.Tensor, loc: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    """log [sigmoid(b) - sigmoid(a)] per pixel, b, a = (x +- h - loc) / s, the edge bins open to -inf and +inf.

    sigmoid(b) - sigmoid(a) = sigmoid(b) sigmoid(-a) (1 - e^(a - b)) holds exactly, and each factor is stable in
    float32 in either tail; a - b = -2h / s is the same for every bin.
    """
    inv_s = torch.exp(-log_scale)
    upper, lower = (x + HALF_BIN - loc) * inv_s, (x - HALF_BIN - loc) * inv_s
    log_cdf_upper, log_sf_lower = F.logsigmoid(upper), F.logsigmoid(-lower)
    inner = log_cdf_upper + log_sf_lower + torch.log(-torch.expm1(-2 * HALF_BIN * inv_s))
    return torch.where(x < HALF_BIN, log_cdf_upper, torch.where(x > 1 - HALF_BIN, log_sf_lower, inner))


DISCRETIZED = {"discretized_gaussian": discretized_gaussian_log_prob,
               "discretized_logistic": discretized_logistic_log_prob}


class Likelihood(nn.Module):
    """p(x|z): `log_prob`, `mean`, `expectation` and `sample` take the decoder's output `params`
    (B, params_per_pixel * C, H, W)."""

    def __init__(self, kind: str, image_shape: tuple[int, int, int], scale: str = "decoder",
                 fixed_scale: float = 0.1):
        super().__init__()
        self.kind, self.scale = kind, scale if kind != "bernoulli" else "none"
        if self.scale == "shared":  # one learned log scale per pixel, shared over images
            self.log_scale = nn.Parameter(torch.full(image_shape, math.log(0.1)))
        elif self.scale == "fixed":
            self.register_buffer("log_scale", torch.full(image_shape, math.log(fixed_scale)))

    @property
    def params_per_pixel(self) -> int:
        """Numbers the decoder outputs per pixel: (location, log scale) when it outputs the scale, else one."""
        return 2 if self.scale == "decoder" else 1

    def location_and_log_scale(self, params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(loc, log scale) of each pixel, in float32, the log scale softly bounded below."""
        params = params.float()
        if self.scale == "decoder":
            loc, raw = params.chunk(2, dim=1)
        else:
            loc, raw = params, self.log_scale.expand_as(params)
        return loc, soft_clamp(raw, LOG_SCALE_FLOOR)

    def log_prob(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """log p(x|z), summed over pixels: shape (batch,). Always float32, also under bf16 autocast."""
        with torch.autocast(params.device.type, enabled=False):
            if self.kind == "bernoulli":
                # log p = x log sigmoid(l) + (1 - x) log(1 - sigmoid(l)) = -BCE(l, x)
                lp = -F.binary_cross_entropy_with_logits(params.float(), x.float(), reduction="none")
            else:
                loc, log_scale = self.location_and_log_scale(params)
                lp = DISCRETIZED[self.kind](x.float(), loc, log_scale)
        return lp.flatten(1).sum(1)

    def is_code_length(self, x_uint8) -> bool:
        """True when log p(x|z) sums to 1 over the values the data x (uint8) can take: discretised likelihoods
        always; Bernoulli only on binary images (every pixel 0 or 255)."""
        if self.kind != "bernoulli":
            return True
        x = torch.as_tensor(x_uint8)
        return bool(((x == 0) | (x == 255)).all())

    def mean(self, params: torch.Tensor) -> torch.Tensor:
        """The location as an image: sigmoid(logits) (for Bernoulli that is E[x|z]), or the location clamped to
        [0, 1], which is not E[x|z] for the discretised likelihoods (see `expectation`)."""
        if self.kind == "bernoulli":
            return torch.sigmoid(params.float())
        return self.location_and_log_scale(params)[0].clamp(0.0, 1.0)

    def level_probs(self, params: torch.Tensor) -> torch.Tensor:
        """P(x = k / 255 | z) of each pixel's 256 levels k (discretised likelihoods): shape (*params' image, 256)."""
        if self.kind == "bernoulli":
            raise ValueError("level_probs needs a discretised likelihood; Bernoulli has two values, not 256")
        loc, log_scale = self.location_and_log_scale(params)
        levels = torch.arange(LEVELS, dtype=loc.dtype, device=loc.device) / (LEVELS - 1)
        shape = (LEVELS,) + (1,) * loc.dim()
        log_p = DISCRETIZED[self.kind](levels.view(shape), loc, log_scale)  # (256, B, C, H, W)
        return log_p.exp().movedim(0, -1)

    def expectation(self, params: torch.Tensor) -> torch.Tensor:
        """E[x|z] exactly: sum_k (k / 255) P(x = k / 255 | z) (sigmoid(logits) for Bernoulli). Unlike `mean` (the
        location, clamped), it feels the edge bins: a location at 0 with a wide scale has a mean above 0."""
        if self.kind == "bernoulli":
            return torch.sigmoid(params.float())
        levels = torch.arange(LEVELS, dtype=torch.float32, device=params.device) / (LEVELS - 1)
        p = self.level_probs(params)
        return (p @ levels) / p.sum(-1)  # / sum_k P(k): exactly 1 up to rounding

    def sample(self, params: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """x ~ p(x|z), on the 256 levels (0 or 1 for Bernoulli)."""
        if self.kind == "bernoulli":
            p = torch.sigmoid(params.float())
            return (torch.rand(p.shape, generator=generator, device=p.device) < p).float()
        loc, log_scale = self.location_and_log_scale(params)
        u = torch.rand(loc.shape, generator=generator, device=loc.device).clamp(1e-6, 1 - 1e-6)
        if self.kind == "discretized_gaussian":
            noise = math.sqrt(2) * torch.erfinv(2 * u - 1)  # Phi^-1(u)
        else:
            noise = torch.log(u) - torch.log1p(-u)  # logit(u)
        x = loc + log_scale.exp() * noise
        return (x.clamp(0.0, 1.0) * (LEVELS - 1)).round() / (LEVELS - 1)  # the level whose bin holds x
