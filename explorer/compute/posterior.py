"""The latent axes view: two latent dimensions (i, j) exactly, no projection, with what q(z|x) and p(z) look like there.

q(z|x) = N(mu, diag(sigma^2)) is diagonal, so its marginal on (z_i, z_j) is N((mu_i, mu_j), diag(sigma_i^2, sigma_j^2)):
its k-sigma ellipse {(u - mu_i)^2 / sigma_i^2 + (v - mu_j)^2 / sigma_j^2 = k^2} is axis-aligned with semi-axes
k sigma_i and k sigma_j. The prior's marginal is N(0, I_2): circles. The aggregate posterior
q(z) = 1/N sum_n q(z|x_n) on a G x G grid is exact, not sampled: each component factorises over the two axes, so
    q(u_a, v_b) = 1/N sum_n N(u_a; mu_ni, s_ni) N(v_b; mu_nj, s_nj) = (B^T A)_ba / N,   A_na = N(u_a; mu_ni, s_ni)
one (G x N) @ (N x G) matrix product (its cost: docs/benchmarks.md). The view draws q's mean over each grid
cell instead (`cells=True`: A_na = the mass of N(mu_ni, s_ni) in cell a, over its width; the same product): a
trained VAE's posteriors are often narrower than a cell (sigma ~ 0.05 against cells of 0.1), and q(z) read at the
grid points alone would then miss most of the mass between them and look like noise.
"""
from dataclasses import dataclass

import numpy as np
import torch

from explorer.errors import AxesError, finite_position

GRID = 64  # cells per side of the density grid
ELLIPSE_POINTS = 65  # polyline vertices (the first repeated at the end: a closed outline)
PRIOR_RADII = (1.0, 2.0, 3.0)  # prior contours: circles of radius r, density exp(-r^2 / 2) / 2 pi
LOG_2PI = float(np.log(2 * np.pi))


@dataclass
class Outline:
    """A closed polyline in the (z_i, z_j) plane."""

    x: np.ndarray  # (ELLIPSE_POINTS,)
    y: np.ndarray
    level: float  # k of a k-sigma ellipse, or r of a prior circle
    index: int = -1  # the test image whose posterior it is (-1: the prior)


@dataclass
class Density:
    """A density on a regular grid: density[b, a] at (xs[a], ys[b]), or its mean over the cell around that point
    (rows follow y, as a heat map wants)."""

    xs: np.ndarray  # (G,)
    ys: np.ndarray  # (G,)
    density: np.ndarray  # (G, G)


@dataclass
class LatentAxes:
    """What the latent axes view draws for dimensions (i, j)."""

    i: int
    j: int
    dims_by_kl: np.ndarray  # every dimension, the most active (largest mean KL) first: the pickers' order
    points: np.ndarray  # (N, 2) posterior means (mu_i, mu_j) of the test images
    labels: np.ndarray  # (N,)
    ellipses: list[Outline]  # 1- and 2-sigma outlines of the selected images' posteriors
    prior: list[Outline]  # circles of N(0, I_2), one per PRIOR_RADII
    aggregate: Density  # the aggregate posterior's density: its mean over each grid cell
    titles: tuple[str, str] = ()  # the axes' titles; () for the dimensions' own, "z{i}" and "z{j}"
    density_note: str = ""  # how the density was made, when not from every image (plane.py: a sample of them)

    def axis_titles(self) -> tuple[str, str]:
        return self.titles or (f"z{self.i}", f"z{self.j}")


def mean_kl_per_dim(mu: np.ndarray, log_sigma: np.ndarray) -> np.ndarray:
    """(d,) mean over the images of KL(N(mu_j, sigma_j^2) || N(0, 1)) of each latent dimension j."""
    # 1/2 (mu^2 + sigma^2 - 1 - 2 log sigma), averaged over the images
    mu, log_sigma = np.asarray(mu, np.float64), np.asarray(log_sigma, np.float64)
    return (0.5 * (mu ** 2 + np.exp(2 * log_sigma) - 1.0 - 2 * log_sigma)).mean(0).astype(np.float32)


def dims_by_kl(kl_per_dim: np.ndarray) -> np.ndarray:
    """Dimension indices, largest mean KL first (stable: ties keep their order)."""
    return np.argsort(-np.asarray(kl_per_dim), kind="stable")


def check_dims(i, j, dim: int, what: tuple[str, str] = ("dimension", "latent dimensions")) -> tuple[int, int]:
    """(i, j) as two different numbers in 0..dim-1 (latent dimensions, or principal directions); else an AxesError
    saying what to pick."""
    try:
        i, j = int(i), int(j)
    except (TypeError, ValueError) as e:
        raise AxesError(f"latent axes need two {what[0]} numbers, got {i!r} and {j!r}") from e
    if not (0 <= i < dim and 0 <= j < dim) or i == j:
        raise AxesError(f"pick two different {what[1]} in 0..{dim - 1}, got {i} and {j}")
    return i, j


def ellipse(mu: np.ndarray, sigma: np.ndarray, i: int, j: int, k: float = 1.0,
            n: int = ELLIPSE_POINTS, index: int = -1) -> Outline:
    """The k-sigma outline of N(mu, diag(sigma^2)) on dims (i, j): (mu_i + k s_i cos t, mu_j + k s_j sin t)."""
    t = np.linspace(0.0, 2 * np.pi, n)
    t[-1] = 0.0  # closed exactly
    return Outline(mu[i] + k * sigma[i] * np.cos(t), mu[j] + k * sigma[j] * np.sin(t), k, index)


def prior_contours(radii=PRIOR_RADII, n: int = ELLIPSE_POINTS) -> list[Outline]:
    """Circles |z| = r of the prior's marginal N(0, I_2): its density there is exp(-r^2 / 2) / (2 pi)."""
    return [ellipse(np.zeros(2), np.ones(2), 0, 1, r, n) for r in radii]


def prior_density_at(r: float) -> float:
    """N(0, I_2) density at radius r: exp(-r^2 / 2) / (2 pi)."""
    return float(np.exp(-0.5 * r * r) / (2 * np.pi))


def grid_axis(values: np.ndarray, sigmas: np.ndarray, n: int = GRID) -> np.ndarray:
    """n points spanning the data (1st..99th percentile of mu, widened by 2 sigma) and the prior's +-3."""
    lo = min(float(np.percentile(values, 1) - 2 * np.median(sigmas)), -3.0)
    hi = max(float(np.percentile(values, 99) + 2 * np.median(sigmas)), 3.0)
    return np.linspace(lo, hi, n)


def gaussian_1d(grid: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """(N, G): N(grid_a; mu_n, sigma_n^2) = exp(-(g - mu)^2 / 2 s^2) / (s sqrt(2 pi))."""
    u = (grid[None, :] - mu[:, None]) / sigma[:, None]
    return np.exp(-0.5 * u * u - np.log(sigma)[:, None] - 0.5 * LOG_2PI)


def cell_edges(grid: np.ndarray) -> np.ndarray:
    """(G + 1,) edges of the cells around the grid's points: the midpoints, and half a step beyond each end."""
    mid = (grid[1:] + grid[:-1]) / 2
    return np.concatenate([[grid[0] - (mid[0] - grid[0])], mid, [grid[-1] + (grid[-1] - mid[-1])]])


def gaussian_cells(grid: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """(N, G): the mean of N(.; mu_n, sigma_n^2) over each grid cell, (Phi((hi - mu) / s) - Phi((lo - mu) / s)) /
    (hi - lo): its mass there over the cell's width."""
    edges = cell_edges(np.asarray(grid, dtype=np.float64))
    u = torch.from_numpy((edges[None, :] - mu[:, None]) / sigma[:, None])
    cdf = torch.special.ndtr(u).numpy()
    return np.diff(cdf, axis=1) / np.diff(edges)[None, :]


def aggregate_density(mu: np.ndarray, sigma: np.ndarray, i: int, j: int, xs: np.ndarray, ys: np.ndarray,
                      cells: bool = False) -> Density:
    """q(u, v) = 1/N sum_n N(u; mu_ni, s_ni) N(v; mu_nj, s_nj) on the grid xs x ys, as (B^T A) / N (see above);
    with `cells`, its mean over each cell around the grid points (the components factorise over the cell too)."""
    factor = gaussian_cells if cells else gaussian_1d
    a = factor(xs, mu[:, i].astype(np.float64), sigma[:, i].astype(np.float64))  # (N, Gx)
    b = factor(ys, mu[:, j].astype(np.float64), sigma[:, j].astype(np.float64))  # (N, Gy)
    return Density(xs, ys, (b.T @ a) / len(mu))


def latent_axes(mu: np.ndarray, sigma: np.ndarray, labels: np.ndarray, kl_per_dim: np.ndarray, i: int, j: int,
                selected=(), grid: int = GRID) -> LatentAxes:
    """Everything the view draws for dims (i, j); `selected` test images get their 1- and 2-sigma ellipses."""
    i, j = check_dims(i, j, mu.shape[1])
    xs = grid_axis(mu[:, i], sigma[:, i], grid)
    ys = grid_axis(mu[:, j], sigma[:, j], grid)
    ellipses = [ellipse(mu[n], sigma[n], i, j, k, index=int(n)) for n in selected for k in (1.0, 2.0)]
    return LatentAxes(i, j, dims_by_kl(kl_per_dim), mu[:, [i, j]], labels, ellipses, prior_contours(),
                      aggregate_density(mu, sigma, i, j, xs, ys, cells=True))


def click_latent(base: np.ndarray, i: int, j: int, x: float, y: float) -> np.ndarray:
    """The latent for a click at (x, y) on axes (i, j): z = base with z_i = x, z_j = y (the others held)."""
    i, j = check_dims(i, j, len(base))
    x, y = finite_position(x, y, AxesError, "a click on the latent axes")
    z = np.array(base, dtype=np.float64, copy=True)
    z[i], z[j] = x, y
    return z
