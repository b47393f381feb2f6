"""The gradient of the reconstruction term E_q[f(z)], f(z) = log p(x|z), with respect to q's mean mu, by two
unbiased Monte Carlo estimators from the same draws z_l = mu + sigma eps_l:

    reparameterisation:  g_l = grad_z f(z_l)                               (the gradient flows through z)
    score function:      g_l = f(z_l) grad_mu log q(z_l) = f(z_l) eps_l / sigma     (REINFORCE, no baseline)
    an L-sample estimate averages L of them: its variance is tr Cov(g_l) / L, summed over mu's d coordinates.
Both have the same expectation; the ratio of their variances (the same for every L) is what the trick buys.
"""
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

CHUNK = 64  # draws per decoder pass
DRAWS = 512  # draws measured, whatever L: each estimator's variance is tr Cov(g_l) / L


@dataclass(frozen=True)
class GradientVariance:
    samples: int  # L
    reparam_mean: np.ndarray  # (d,) the mean of the per-draw gradients: the gradient both estimate
    score_mean: np.ndarray  # (d,)
    reparam_variance: float  # tr Cov / L of the L-sample reparameterisation estimate
    score_variance: float  # the same for the score-function estimate

    @property
    def orders_of_magnitude(self) -> float:
        """log10 of the score-function estimate's variance over the reparameterisation one's."""
        return float(np.log10(self.score_variance / self.reparam_variance))


def per_draw_gradients(f_and_grad: Callable, mu, sigma, eps) -> tuple[np.ndarray, np.ndarray]:
    """(reparameterisation g_l, score-function g_l) for each draw eps_l (n, d): `f_and_grad(z)` gives f(z) (n,)
    and grad_z f(z) (n, d) for latents z (n, d)."""
    mu, sigma, eps = (np.asarray(a, np.float64) for a in (mu, sigma, eps))
    values, grads = f_and_grad(mu + sigma * eps)
    values, grads = np.asarray(values, np.float64), np.asarray(grads, np.float64)
    return grads, values[:, None] * eps / sigma  # grad_mu log N(z; mu, sigma^2) = (z - mu) / sigma^2 = eps / sigma


def gradient_variance(f_and_grad: Callable, mu, sigma, samples: int = 1, seed: int = 0,
                      draws: int = DRAWS) -> GradientVariance:
    """Both estimators' variance for L = `samples`, measured on `draws` seeded draws of eps (the same for both)."""
    eps = np.random.default_rng(seed).standard_normal((draws, len(np.asarray(mu))))
    reparam, score = per_draw_gradients(f_and_grad, mu, sigma, eps)
    variance = lambda g: float(g.var(0, ddof=1).sum() / samples)  # tr Cov(g_l) / L
    return GradientVariance(samples, reparam.mean(0), score.mean(0), variance(reparam), variance(score))


def decoder_log_likelihood(model, x: torch.Tensor) -> Callable:
    """f(z) = log p(x|z) and grad_z f(z) for a VAE with a decoder distribution (model.decode, model.likelihood),
    x one image (1, C, H, W) in [0, 1]: by autograd through the decoder, CHUNK latents at a time."""
    def f_and_grad(z: np.ndarray):
        values, grads = [], []
        for a in range(0, len(z), CHUNK):
            zc = torch.tensor(z[a:a + CHUNK], dtype=torch.float32, requires_grad=True)
            with torch.enable_grad():
                logp = model.likelihood.log_prob(model.decode(zc), x.expand(len(zc), *x.shape[1:]))
                (g,) = torch.autograd.grad(logp.sum(), zc)
            values.append(logp.detach().double().numpy())
            grads.append(g.double().numpy())
        return np.concatenate(values), np.concatenate(grads)
    return f_and_grad
