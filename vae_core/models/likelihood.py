"""Decoder likelihoods p(x|z), as log-probabilities summed over pixels (one number per image).

Pixels are floats in [0, 1], each one of the 256 levels k / 255 of an 8-bit image. The discretised likelihoods
give each level the mass of its bin [k - 1/2, k + 1/2] / 255 under a continuous distribution (the first and last
bins reach to -inf and +inf), so they sum to 1 over the 256 levels: -log p is a true code length, in nats, and
bits/dim = -log2 p / D (the convention of PixelCNN++, the VQ-VAE paper and the flow papers).

    bernoulli              p(x|z) = Bernoulli(sigmoid(logits)); normalised over {0, 1}, so a code length only on
                           binary images. On grey pixels it is the usual cross-entropy loss, not a likelihood.
    discretized_gaussian   mass of the bin under N(loc, scale^2)
    discretized_logistic   mass of the bin under Logistic(loc, scale)

The scale of the discretised likelihoods is
    decoder         the decoder outputs a log scale per pixel, as a function of z, beside the location
    shared          one learned log scale per pixel, the same for every image
    shared_scalar   one learned log scale for every pixel of every image (the sigma-VAE's shared scale)
    optimal         one scale set in closed form from the reconstructions (the sigma-VAE's calibrated decoder)
    fixed           --fixed-scale

`optimal` (Rybkin et al. 2021, "Simple and effective VAE training with calibrated decoders"): in training, the
scale of each batch is the one whose distribution has the batch's mean squared error as its variance,
    Gaussian  s^2 = MSE            logistic  s^2 pi^2 / 3 = MSE,  s = sqrt(3 MSE) / pi
MSE over every pixel of every image in the batch (one number, as in the paper), of the location clamped to [0, 1]
(a background pixel at 0 whose location lies below 0 is predicted exactly). For a continuous Gaussian that is the
maximum-likelihood scale; for the discretised likelihoods it is the moment-matched one, close to their argmax but
not it. As in the paper, the scale is not detached: the gradient flows through the MSE (for a continuous Gaussian
that adds nothing, the scale being the optimum). At evaluation the scale must not come from the image evaluated:
-log p(x|z) with a scale fitted to x itself is no code length (the target would pay for less than its own bits).
So the batch MSEs of training are averaged (their mean, then an exponential moving average with decay
OPTIMAL_SCALE_DECAY per step, in a buffer saved with the weights), and in eval mode the scale is that fixed value:
the training split's optimum at the last weights, since the lr warms down to 0 at the end of training.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

LEVELS = 256  # values an 8-bit pixel can take
HALF_BIN = 0.5 / (LEVELS - 1)  # half the width of one level's bin, in [0, 1] pixel units
LOG_SCALE_FLOOR = -8.0  # scale >= 3.4e-4: the central bin can still hold 99% of the mass
OPTIMAL_SCALE_DECAY = 0.99  # `optimal`: the EMA of the training batches' MSE forgets 1/e in ~100 steps
LEARNED_SCALE_INIT = math.log(0.1)  # the learned and the optimal scales start at 0.1


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
VARIANCE_PER_SCALE2 = {"discretized_gaussian": 1.0,  # Var N(loc, s^2) = s^2
                       "discretized_logistic": math.pi ** 2 / 3}  # Var Logistic(loc, s) = s^2 pi^2 / 3


def moment_matched_log_scale(kind: str, mse: torch.Tensor) -> torch.Tensor:
    """log s with Var = MSE: 1/2 log(MSE / c), c = Var / s^2 (Gaussian 1, logistic pi^2 / 3)."""
    return 0.5 * torch.log(mse.clamp_min(1e-12) / VARIANCE_PER_SCALE2[kind])


def clamped_mse(loc: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """MSE = mean over every pixel of every image of (x - clamp(loc, 0, 1))^2: one number for the batch."""
    return (x - loc.clamp(0.0, 1.0)).pow(2).mean()


def variance_of_log_scale(kind: str, log_scale: torch.Tensor) -> torch.Tensor:
    """Var = c s^2 = c exp(2 log s): the MSE that moment_matched_log_scale maps to log_scale."""
    return VARIANCE_PER_SCALE2[kind] * torch.exp(2 * log_scale)


class Likelihood(nn.Module):
    """p(x|z): `log_prob`, `mean`, `expectation` and `sample` take the decoder's output `params`
    (B, params_per_pixel * C, H, W)."""

    def __init__(self, kind: str, image_shape: tuple[int, int, int], scale: str = "decoder",
                 fixed_scale: float = 0.1):
        super().__init__()
        self.kind, self.scale = kind, scale if kind != "bernoulli" else "none"
        if self.scale == "shared":  # one learned log scale per pixel, shared over images
            self.log_scale = nn.Parameter(torch.full(image_shape, LEARNED_SCALE_INIT))
        elif self.scale == "shared_scalar":  # one learned log scale for all pixels and images
            self.log_scale = nn.Parameter(torch.full((1, 1, 1), LEARNED_SCALE_INIT))
        elif self.scale == "optimal":  # the evaluation's scale: the EMA of the training batches' optimum
            self.register_buffer("log_scale", torch.full((1, 1, 1), LEARNED_SCALE_INIT))
            self.register_buffer("batches_seen", torch.zeros((), dtype=torch.float32))  # training batches averaged
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
            elif self.scale == "optimal" and self.training:
                loc = params.float()
                mse = clamped_mse(loc, x.float())  # not detached, as in the sigma-VAE
                self.update_evaluation_scale(mse.detach())
                log_scale = soft_clamp(moment_matched_log_scale(self.kind, mse), LOG_SCALE_FLOOR)
                lp = DISCRETIZED[self.kind](x.float(), loc, log_scale.expand_as(loc))
            else:
                loc, log_scale = self.location_and_log_scale(params)
                lp = DISCRETIZED[self.kind](x.float(), loc, log_scale)
        return lp.flatten(1).sum(1)

    @torch.no_grad()
    def update_evaluation_scale(self, mse: torch.Tensor) -> None:
        """`optimal`, in training: Var <- Var + r (MSE - Var), r = max(1 - d, 1 / t) at the t-th batch (the plain
        mean of the first batches, then an EMA with decay d = OPTIMAL_SCALE_DECAY); log_scale = log s(Var)."""
        self.batches_seen += 1
        rate = torch.clamp(1.0 / self.batches_seen, min=1 - OPTIMAL_SCALE_DECAY)
        var = variance_of_log_scale(self.kind, self.log_scale)
        self.log_scale.copy_(moment_matched_log_scale(self.kind, var + rate * (mse - var)).expand_as(self.log_scale))

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
