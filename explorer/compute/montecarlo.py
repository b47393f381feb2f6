"""Reparameterisation and the Monte Carlo estimate of the ELBO, for one image, as the VAE's loss computes it.

    z_l = mu + sigma * eps_l,  eps_l ~ N(0, I),  l = 1..L                     (vae_core VAE.reparameterize)
    -E_q[log p(x|z)] ~ R_L = -1/L sum_l log p(x|z_l),  SE = sd(-log p(x|z_l)) / sqrt(L)
    KL(q(z|x) || N(0, I)) in closed form                                       (vae_core VAE.kl)
    -ELBO ~ R_L + KL, beside the IWAE estimate of -log p(x):
    B_r = -log 1/k sum_i w_ri,  r = 1..R                       (vae_core.evaluation.iwae, R draws of k)
    -log p(x) ~ mean_r B_r,  SE = sd(B_r) / sqrt(R)
Each B_r is an upper bound on -log p(x) in expectation (E[B_r] >= -log p(x)), so their mean estimates an upper bound,
not -log p(x) itself. The R k draws come from a generator seeded from the seed by its own stream (`iwae_generator`),
so they are neither the L draws shown nor change with L.
"""
import math
from dataclasses import dataclass

import numpy as np
import torch

from explorer.errors import MonteCarloError
from vae_core.data import to_float
from vae_core.evaluation.iwae import iwae_per_image

MAX_SAMPLES = 64  # the view's slider: L in 1..64
IWAE_K = 128  # importance samples of each IWAE estimate shown beside
IWAE_REPEATS = 4  # R independent IWAE-k estimates, for the standard error; a new image or seed costs R k decodes
IWAE_STREAM = 1  # the IWAE draws' stream of the seed (numpy SeedSequence((seed, IWAE_STREAM))): not the L draws
CHUNK = 1024  # decodes per forward pass when L is large (tests use L = 10,000)


@dataclass(frozen=True)
class IwaeEstimate:
    """R independent IWAE-k estimates B_r of -log p(x) for one image (nats); their mean estimates an upper bound."""

    k: int  # importance samples of each estimate
    estimates: tuple[float, ...]  # (R,) B_r = -log 1/k sum_i w_ri, each from its own k draws

    @property
    def repeats(self) -> int:
        return len(self.estimates)

    @property
    def nll(self) -> float:
        """mean_r B_r: the estimate of the IWAE-k bound on -log p(x)."""
        return float(np.mean(self.estimates))

    @property
    def se(self) -> float:
        """Its standard error sd(B_r) / sqrt(R) (nan for R = 1)."""
        return standard_error(np.asarray(self.estimates))


@dataclass
class MonteCarlo:
    """L reparameterised samples for one image and the estimates made from them (nats per image)."""

    eps: np.ndarray  # (L, d) the standard normal draws
    z: np.ndarray  # (L, d) z_l = mu + sigma * eps_l
    decodes: np.ndarray  # (L, C, H, W) the decoder's location of each z_l, clamped to [0, 1] (not E[x|z_l])
    neg_log_px: np.ndarray  # (L,) -log p(x|z_l) of each sample
    recon: float  # R_L: the L-sample estimate of -E_q[log p(x|z)]
    recon_se: float  # its standard error sd / sqrt(L) (nan for L = 1)
    kl: float  # KL(q(z|x) || N(0, I)), closed form
    neg_elbo: float  # recon + kl, an estimate of -ELBO (its standard error is recon_se: KL is exact)
    iwae: IwaeEstimate | None  # the IWAE estimate of -log p(x) (None when iwae_k = 0)
    mu: np.ndarray  # (d,) the posterior's mean and standard deviation
    sigma: np.ndarray
    seed: int


def check_samples(samples, limit: int = MAX_SAMPLES) -> int:
    """L as an int in 1..limit, or MonteCarloError."""
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer, float)) or samples != int(samples):
        raise MonteCarloError(f"the number of samples L must be an integer in 1..{limit}, got {samples!r}")
    if not 1 <= int(samples) <= limit:
        raise MonteCarloError(f"the number of samples L must be in 1..{limit}, got {int(samples)}")
    return int(samples)


def check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) < 2**63:
        raise MonteCarloError(f"the seed must be a whole number >= 0, got {seed!r}")
    return int(seed)


def standard_error(values: np.ndarray) -> float:
    """sd(values) / sqrt(n), with the n - 1 (unbiased) variance; nan for a single value."""
    n = len(values)
    return float(np.std(values, ddof=1) / math.sqrt(n)) if n > 1 else float("nan")


def iwae_generator(seed: int) -> torch.Generator:
    """The IWAE draws' generator for `seed`: seeded from SeedSequence((seed, IWAE_STREAM)), a stream of its own, so
    that its draws are not the L Monte Carlo draws (seeded with `seed` itself)."""
    state = np.random.SeedSequence((check_seed(seed), IWAE_STREAM)).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(state) % 2**63)


@torch.no_grad()
def iwae_bound(model, x: np.ndarray, k: int = IWAE_K, seed: int = 0, repeats: int = IWAE_REPEATS) -> IwaeEstimate:
    """R = `repeats` independent IWAE-k estimates for one uint8 image x (C, H, W), by vae_core.evaluate's code path:
    the image repeated R times, each copy with its own k draws from `iwae_generator(seed)`."""
    copies = np.repeat(np.asarray(x)[None], repeats, 0)
    b = iwae_per_image(model, copies, k, "cpu", generator=iwae_generator(seed))  # the model takes CPU tensors
    return IwaeEstimate(k, tuple(b.tolist()))


@torch.no_grad()
def monte_carlo(model, x: np.ndarray, samples: int, seed: int = 0, iwae_k: int = IWAE_K,
                limit: int = MAX_SAMPLES) -> MonteCarlo:
    """The L-sample estimate for one uint8 image x (C, H, W) under a VAE; seeded, so repeatable."""
    L = check_samples(samples, limit)
    seed = check_seed(seed)
    xf = to_float(np.asarray(x)[None])
    q = model.posterior(xf)  # q(z|x) = N(mu, diag(sigma^2))
    z, eps = q.sample(torch.Generator().manual_seed(seed), L)  # z = mu + sigma * eps, as VAE.loss draws
    z, eps = z[:, 0], eps[:, 0]  # (L, d)
    params = torch.cat([model.decode(z[a:a + CHUNK]) for a in range(0, L, CHUNK)])
    neg_log_px = -model.likelihood.log_prob(params, xf.expand(L, *xf.shape[1:])).double().cpu().numpy()
    recon = float(neg_log_px.mean())  # R_L = -1/L sum_l log p(x|z_l)
    kl = float(q.kl()[0])  # KL(q(z|x) || N(0, I)), closed form
    iwae = iwae_bound(model, x, iwae_k, seed) if iwae_k > 0 else None
    a = lambda t: t.cpu().numpy()
    return MonteCarlo(a(eps), a(z), a(model.likelihood.mean(params)), neg_log_px, recon, standard_error(neg_log_px),
                      kl, recon + kl, iwae, a(q.mean[0]), a(q.sigma[0]), seed)
