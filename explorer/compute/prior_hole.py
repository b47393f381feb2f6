"""The prior hole: how much of a prior's mass lies where no image's posterior is, in the full latent space.

    q(z) = 1/M sum_m N(z; mu_m, diag(sigma_m^2))        the aggregate posterior, over M images' posteriors
    tau  = the QUANTILE-quantile of log q(z'), z' ~ q(z|x') for held-apart images x'   (the threshold)
    hole share of a prior p = share of z ~ p with log q(z) < tau

tau is the density the aggregate posterior gives the lowest 1% of real images' latents: below it, "no image's
posterior is". The images' posteriors are split in two (seeded): the first half makes the mixture q, the second
half's latents set tau, so that no latent is scored by its own posterior's component. A prior that fits the
aggregate posterior puts about QUANTILE of its samples in the hole; N(0, I) can put many more. Pure numpy.
"""
from dataclasses import dataclass

import numpy as np

QUANTILE = 0.01  # tau: the density below which this share of the held-apart latents lie
MIXTURE_IMAGES = 2000  # the most posteriors in the mixture q (and as many held apart for tau)
CHUNK = 256  # points scored against the mixture at once: (256, M, d) float64


@dataclass(frozen=True)
class PriorHole:
    log_threshold: float  # tau
    shares: dict  # prior name -> share of its samples with log q(z) < tau
    n_mixture: int  # M
    quantile: float


def log_aggregate(z: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """log q(z) = log 1/M sum_m N(z; mu_m, diag sigma_m^2) of each row of z (N, d): (N,)."""
    z, mu, sigma = (np.asarray(a, dtype=np.float64) for a in (z, mu, sigma))
    log_norm = -np.log(sigma).sum(1) - 0.5 * mu.shape[1] * np.log(2 * np.pi)  # (M,)
    out = np.empty(len(z))
    for i in range(0, len(z), CHUNK):
        e = (z[i:i + CHUNK, None, :] - mu[None]) / sigma[None]  # (n, M, d)
        log_p = log_norm[None] - 0.5 * (e * e).sum(2)
        top = log_p.max(1, keepdims=True)
        out[i:i + CHUNK] = (top[:, 0] + np.log(np.exp(log_p - top).sum(1))) - np.log(len(mu))
    return out


def prior_hole(mu: np.ndarray, sigma: np.ndarray, priors: dict, seed: int = 0,
               quantile: float = QUANTILE, mixture_images: int = MIXTURE_IMAGES) -> PriorHole:
    """The hole shares of the priors' samples (`priors`: name -> (N, d) samples) under the aggregate posterior of
    the images' posteriors (mu, sigma: (n, d)); see the module docstring."""
    mu, sigma = np.asarray(mu, dtype=np.float64), np.asarray(sigma, dtype=np.float64)
    if len(mu) < 4:
        raise ValueError(f"the prior hole needs at least 4 images' posteriors, got {len(mu)}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(mu))
    m = min(mixture_images, len(mu) // 2)
    inside, apart = order[:m], order[m:2 * m]
    z_apart = mu[apart] + sigma[apart] * rng.standard_normal(mu[apart].shape)
    tau = float(np.quantile(log_aggregate(z_apart, mu[inside], sigma[inside]), quantile))
    shares = {name: float((log_aggregate(z, mu[inside], sigma[inside]) < tau).mean()) for name, z in priors.items()}
    return PriorHole(tau, shares, m, quantile)


def hole_sentence(h: PriorHole, names: dict) -> str:
    """ "x% of N(0, I)'s samples land where no image's posterior is; y% of the fitted prior's", names: key -> words."""
    parts = [f"{100 * h.shares[k]:.0f}% of {words}'s samples" for k, words in names.items() if k in h.shares]
    if not parts:
        return ""
    head = parts[0] + " land where no image's posterior is"
    rest = "; ".join(parts[1:])
    return (f"{head}{'; ' + rest if rest else ''} (where the aggregate posterior q(z) = 1/M Σ q(z|x_m), M = "
            f"{h.n_mixture} test images, is below the density of its lowest {100 * h.quantile:g}% of other images' "
            f"latents; measured in the full latent space, not only on the two axes shown)")
