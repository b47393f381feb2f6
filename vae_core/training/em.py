"""Expectation-maximisation for a Gaussian mixture (models/latent_prior.py) on points z_1..z_N, in float64.

    E-step: r_nk = w_k N(z_n; m_k, S_k) / sum_j w_j N(z_n; m_j, S_j)           (responsibilities)
    M-step: N_k = sum_n r_nk,  w_k = N_k / N,  m_k = sum_n r_nk z_n / N_k,
            S_k = sum_n r_nk (z_n - m_k)(z_n - m_k)^T / N_k + eps I              (diag: its diagonal only)

Each iteration raises the mean log-likelihood 1/N sum_n log p(z_n) (up to the eps on the covariances); EM stops
after `iterations`, when it gains under TOLERANCE nats per point, or when `time_budget` seconds are spent. The
start is seeded: k-means (Lloyd, INIT_ROUNDS rounds) from K distinct points drawn with the seed, then one M-step
on its hard assignments.
"""
import time
from dataclasses import dataclass, field

import torch

from ..models.latent_prior import component_log_prob

TOLERANCE = 1e-5  # nats per point: EM has converged when an iteration gains less
INIT_ROUNDS = 10  # k-means rounds of the start
COVARIANCE_FLOOR = 1e-6  # eps: added to each covariance's diagonal, relative to the data's mean variance
COMPONENT_CHUNK = 16  # components whose weighted scatter matrices are formed at once: (16, N, d) float64


@dataclass
class Fit:
    """EM's result: the parameters and how it went."""

    log_weights: torch.Tensor  # (K,) log w_k
    means: torch.Tensor  # (K, d)
    scale_tril: torch.Tensor  # (K, d, d): Cholesky factors of S_k
    log_likelihood: list[float] = field(default_factory=list)  # mean log p(z_n) of the training points, per step
    seconds: float = 0.0
    converged: bool = False


def _m_step(z, r, diagonal: bool, floor: float):
    """w, m and the Cholesky factors of S from responsibilities r (N, K)."""
    n_k = r.sum(0) + 1e-10
    means = (r.T @ z) / n_k[:, None]
    d = z.shape[1]
    cov = torch.empty(len(n_k), d, d, dtype=z.dtype)
    for j in range(0, len(n_k), COMPONENT_CHUNK):
        diff = z[None] - means[j:j + COMPONENT_CHUNK, None, :]  # (c, N, d)
        weighted = diff * r.T[j:j + COMPONENT_CHUNK, :, None]
        cov[j:j + COMPONENT_CHUNK] = weighted.transpose(1, 2) @ diff / n_k[j:j + COMPONENT_CHUNK, None, None]
    if diagonal:
        cov = torch.diag_embed(torch.diagonal(cov, dim1=1, dim2=2))
    cov = cov + floor * torch.eye(d, dtype=z.dtype)
    return torch.log(n_k / n_k.sum()), means, torch.linalg.cholesky(cov)


def _kmeans_start(z, k: int, generator: torch.Generator) -> torch.Tensor:
    """Hard assignments (N,) after INIT_ROUNDS Lloyd rounds from k distinct seeded points."""
    centres = z[torch.randperm(len(z), generator=generator)[:k]].clone()
    for _ in range(INIT_ROUNDS):
        assign = torch.cdist(z, centres).argmin(1)
        for j in range(k):
            members = z[assign == j]
            if len(members):
                centres[j] = members.mean(0)
    return torch.cdist(z, centres).argmin(1)


def fit_gaussian_mixture(z: torch.Tensor, components: int, covariance: str = "full", iterations: int = 300,
                         seed: int = 0, time_budget: float = 0.0, log=None) -> Fit:
    """EM on points z (N, d) for a K-component mixture (see the module docstring); seeded, so repeatable."""
    if covariance not in ("full", "diag"):
        raise ValueError(f"covariance must be full or diag, got {covariance!r}")
    z = z.detach().double().cpu()
    n = len(z)
    if n < components:
        raise ValueError(f"{components} components need at least as many points, got {n}")
    t0 = time.time()
    floor = COVARIANCE_FLOOR * float(z.var(0).mean())
    generator = torch.Generator().manual_seed(seed)
    assign = _kmeans_start(z, components, generator)
    r = torch.nn.functional.one_hot(assign, components).double()
    log_w, means, tril = _m_step(z, r, covariance == "diag", floor)
    fit = Fit(log_w, means, tril)
    for step in range(iterations):
        lp = component_log_prob(z, log_w, means, tril)
        total = torch.logsumexp(lp, 1, keepdim=True)
        fit.log_likelihood.append(float(total.mean()))  # of the parameters before this step's M-step
        if step and fit.log_likelihood[-1] - fit.log_likelihood[-2] < TOLERANCE:
            fit.converged = True
            break
        log_w, means, tril = _m_step(z, torch.exp(lp - total), covariance == "diag", floor)
        fit.log_weights, fit.means, fit.scale_tril = log_w, means, tril
        if log and (step + 1) % 25 == 0:
            log(f"EM iteration {step + 1}: mean log-likelihood {fit.log_likelihood[-1]:.4f} nats per point")
        if time_budget and time.time() - t0 >= time_budget:
            break
    fit.seconds = time.time() - t0
    return fit
