"""The prior hole: how much farther from the images' posteriors a prior's samples land than the images' own latents
do, in the full latent space.

    D(z)      = min_m ||z - mu_m||              distance to the nearest of M images' posterior means (the mixture set)
    F(D)      = share of the reference distances D(z') below D (ties count half), z' ~ q(z'|x') for as many
                held-apart images x': where a latent at distance D ranks among the images' own latents
    score(p)  = mean over z ~ p of F(D(z)) = P(D(z) > D(z'))      (the area under the ROC curve of D)

A prior whose samples land where the images' latents land (the aggregate posterior q(z) = 1/M sum_m q(z|x_m))
scores 50%; one that puts a share h of its samples in a hole (farther than every image's latent) and the rest where
the latents are scores 50% + h/2; 100% means every sample lands farther than every image's latent. The standard
error is DeLong's (the spread of the prior's percentiles and of the reference's, each over its own count).

Why distances to the means and not the density q(z) of the M posteriors: in many dimensions each posterior is narrow
beside the space between images, so q(z) is set by the distance to the nearest posterior in that posterior's own
sigma units, which its narrowest dimensions rule. A held-apart image's latent is then as far, in those units, from
every other image's posterior as N(0, I)'s samples are, and a density threshold finds no hole where the samples
show one. The distance to the nearest mean measures at the scale between images. The images' posteriors are split
in two (seeded): the first half are the means, the second half's latents the reference, so that no latent is
measured against its own posterior. Pure numpy.
"""
from dataclasses import dataclass

import numpy as np

MIXTURE_IMAGES = 2000  # the most posterior means D is measured to (and as many held-apart images' latents)
CHUNK = 1024  # points measured against the means at once: (1024, M) float64


@dataclass(frozen=True)
class PriorHole:
    scores: dict  # prior name -> mean percentile of its samples' distances among the reference's, in [0, 1]
    errors: dict  # prior name -> the standard error of that score
    n_mixture: int  # M: the posterior means, and the held-apart latents of the reference


def nearest_distance(z: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """D(z) = min_m ||z - mu_m|| of each row of z (N, d) to the means mu (M, d): (N,)."""
    z, mu = np.asarray(z, dtype=np.float64), np.asarray(mu, dtype=np.float64)
    mu_sq = (mu * mu).sum(1)
    out = np.empty(len(z))
    for i in range(0, len(z), CHUNK):
        zc = z[i:i + CHUNK]
        g = zc @ mu.T  # ||z - mu||^2 = |z|^2 - 2 z.mu + |mu|^2, whose min over mu needs |z|^2 added only once
        g *= -2.0
        g += mu_sq[None]
        out[i:i + CHUNK] = np.sqrt(np.maximum((zc * zc).sum(1) + g.min(1), 0.0))
    return out


def percentiles(d: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """F(d): the share of `ref` below each of d, ties counting half: (len(d),)."""
    ref = np.sort(ref)
    return (np.searchsorted(ref, d, "left") + np.searchsorted(ref, d, "right")) / (2 * len(ref))


def score_and_error(d: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    """P(D > D') over a prior's distances d and the reference's ref, and DeLong's standard error of it."""
    v10 = percentiles(d, ref)  # each prior sample's percentile among the reference
    v01 = 1.0 - percentiles(ref, d)  # each reference latent's share of the prior's samples beyond it
    var = v10.var(ddof=1) / len(d) + v01.var(ddof=1) / len(ref)
    return float(v10.mean()), float(np.sqrt(var))


def prior_hole(mu: np.ndarray, sigma: np.ndarray, priors: dict, seed: int = 0,
               mixture_images: int = MIXTURE_IMAGES) -> PriorHole:
    """The scores of the priors' samples (`priors`: name -> (N, d) samples, N >= 2) against the images' posteriors
    (mu, sigma: (n, d)); see the module docstring."""
    mu, sigma = np.asarray(mu, dtype=np.float64), np.asarray(sigma, dtype=np.float64)
    if len(mu) < 4:
        raise ValueError(f"the prior hole needs at least 4 images' posteriors, got {len(mu)}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(mu))
    m = min(mixture_images, len(mu) // 2)
    inside, apart = order[:m], order[m:2 * m]
    z_apart = mu[apart] + sigma[apart] * rng.standard_normal(mu[apart].shape)  # z' ~ q(z'|x')
    ref = nearest_distance(z_apart, mu[inside])
    out = {name: score_and_error(nearest_distance(z, mu[inside]), ref) for name, z in priors.items()}
    return PriorHole({k: s for k, (s, _) in out.items()}, {k: e for k, (_, e) in out.items()}, m)


def hole_sentence(h: PriorHole, names: dict) -> str:
    """ "on average, N(0, I)'s samples lie farther from the nearest image's posterior mean than x% ± e% of other test
    images' latents do; the fitted prior's, y% ± e%", then what the figure means; names: key -> words."""
    parts = [(words, f"{100 * h.scores[k]:.0f}% ± {100 * h.errors[k]:.0f}%") for k, words in names.items()
             if k in h.scores]
    if not parts:
        return ""
    rest = "".join(f"; {words}'s, {figure}" for words, figure in parts[1:])
    return (f"on average, {parts[0][0]}'s samples lie farther from the nearest image's posterior mean than "
            f"{parts[0][1]} of other test images' latents do{rest}. A prior with no hole scores 50%: its samples land "
            f"where the images' latents land; one that puts a share h of its samples in a hole scores 50% + h/2 "
            f"(± one standard error; distances in the full latent space, not only on the two axes shown, to the means "
            f"of {h.n_mixture} test images' posteriors, against the latents of {h.n_mixture} others)")
