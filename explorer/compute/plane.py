"""The latent axes view on two principal directions (u, w) = (v_i, v_j) of the images' latents (directions.py): what
the Maths tab shows for a latent too long to give each number a slider (a diffusers 4 x 8 x 8 latent has 256).

    a latent's point on the plane: p(z) = P (z - m) = (u . (z - m), w . (z - m)),  P = [u; w] (2 x d, orthonormal rows)
    q(z|x) = N(mu, diag(s^2)) there is N(p(mu), C) with C = P diag(s^2) P^T:
        C = [[sum_k u_k^2 s_k^2, sum_k u_k w_k s_k^2], [sum_k u_k w_k s_k^2, sum_k w_k^2 s_k^2]]
    C is not diagonal, so its k-sigma ellipse {p + e : e^T C^-1 e = k^2} is rotated: with C = Q diag(l) Q^T,
        e(t) = k Q diag(sqrt l) (cos t, sin t)
    the prior N(0, I) there is N(-P m, P P^T) = N(-(u . m, w . m), I_2): circles of radius r around -(u . m, w . m)
    the aggregate posterior q = 1/N sum_n N(p_n, C_n) no longer factorises over the two axes, so it is evaluated on
    the G x G grid directly, N x G^2 Gaussians (40 M for N = 10,000, G = 64: a few hundred ms on two cores); above
    MAX_EXACT images, on a seeded sample of MAX_EXACT of them (the figure's legend says so)
    a click at (x, y) moves `base` within the plane alone: z = base + (x - u . (base - m)) u + (y - w . (base - m)) w
"""
import numpy as np
import torch

from explorer.compute.directions import Directions
from explorer.compute.posterior import (
    ELLIPSE_POINTS,
    GRID,
    LOG_2PI,
    PRIOR_RADII,
    Density,
    LatentAxes,
    Outline,
    check_dims,
    grid_axis,
)
from explorer.errors import AxesError, finite_position

MAX_EXACT = 10_000  # images whose posteriors make the density exactly; above, a seeded sample of this many
CHUNK = 1024  # images per batch of the density: (CHUNK, G, G) float32 at a time


def check_directions(i, j, count: int) -> tuple[int, int]:
    """(i, j) as two different direction numbers in 0..count-1; else an AxesError saying what to pick."""
    return check_dims(i, j, count, ("direction", "principal directions"))


def project(z, dirs: Directions, i: int, j: int) -> np.ndarray:
    """(..., 2): latents (..., d) on the plane, (v_i . (z - m), v_j . (z - m))."""
    z = np.asarray(z, dtype=np.float64)
    return (z - dirs.mean) @ dirs.vectors[[i, j]].T


def covariances(sigma: np.ndarray, u: np.ndarray, w: np.ndarray) -> np.ndarray:
    """(N, 2, 2): C_n = P diag(s_n^2) P^T of each diagonal posterior on the plane of unit vectors u, w."""
    s2 = np.asarray(sigma, dtype=np.float64) ** 2
    uu, uw, ww = s2 @ (u * u), s2 @ (u * w), s2 @ (w * w)  # sum_k u_k^2 s_k^2, sum_k u_k w_k s_k^2, ...
    return np.stack([np.stack([uu, uw], -1), np.stack([uw, ww], -1)], -2)


def rotated_ellipse(centre, cov: np.ndarray, k: float = 1.0, n: int = ELLIPSE_POINTS, index: int = -1) -> Outline:
    """The k-sigma outline of N(centre, cov) in 2-D: centre + k Q diag(sqrt l) (cos t, sin t), cov = Q diag(l) Q^T."""
    t = np.linspace(0.0, 2 * np.pi, n)
    t[-1] = 0.0  # closed exactly
    lam, q = np.linalg.eigh(np.asarray(cov, dtype=np.float64))
    e = k * (q * np.sqrt(np.clip(lam, 0.0, None))) @ np.stack([np.cos(t), np.sin(t)])  # (2, n)
    return Outline(centre[0] + e[0], centre[1] + e[1], k, index)


def prior_circles(dirs: Directions, i: int, j: int, radii=PRIOR_RADII, n: int = ELLIPSE_POINTS) -> list[Outline]:
    """Circles of radius r around the prior's mean on the plane, -(v_i . m, v_j . m) (its covariance there is I_2)."""
    centre = project(np.zeros_like(dirs.mean), dirs, i, j)
    return [rotated_ellipse(centre, np.eye(2), r, n) for r in radii]


def mixture_density(points: np.ndarray, covs: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """(G_y, G_x): 1/N sum_n N((xs_a, ys_b); points_n, covs_n), in batches of CHUNK images:
        log N = A_na + B_nb + c_n dx_na dy_nb,  A = -a dx^2 / 2 - log(2 pi sqrt(det C)),  B = -d dy^2 / 2,  c = -b
    with C^-1 = [[a, b], [b, d]], dx = xs - x_n, dy = ys - y_n (one batched outer product per batch, then exp)."""
    inv, det = np.linalg.inv(covs), np.linalg.det(covs)
    dx, dy = xs[None, :] - points[:, :1], ys[None, :] - points[:, 1:]  # (N, Gx), (N, Gy)
    log_x = torch.from_numpy(-0.5 * inv[:, 0, 0, None] * dx ** 2 - (LOG_2PI + 0.5 * np.log(det))[:, None]).float()
    log_y = torch.from_numpy(-0.5 * inv[:, 1, 1, None] * dy ** 2).float()  # A and B
    cdy, dx = torch.from_numpy(-inv[:, 0, 1, None] * dy).float(), torch.from_numpy(dx).float()  # c dy, dx
    total = torch.zeros(len(ys) * len(xs), dtype=torch.float64)
    buf, ones = torch.empty(min(CHUNK, len(points)), len(ys), len(xs)), torch.ones(min(CHUNK, len(points)))
    for s in range(0, len(points), CHUNK):
        e = buf[:min(CHUNK, len(points) - s)]
        torch.add(log_x[s:s + CHUNK, None, :], log_y[s:s + CHUNK, :, None], out=e)
        e.baddbmm_(cdy[s:s + CHUNK, :, None], dx[s:s + CHUNK, None, :]).exp_()  # + c dy dx, then exp
        total += ones[:len(e)] @ e.reshape(len(e), -1)  # the sum over the batch's images (a matrix product: faster)
    return (total / len(points)).reshape(len(ys), len(xs)).numpy()


def aggregate_density(points: np.ndarray, covs: np.ndarray, xs: np.ndarray, ys: np.ndarray,
                      limit: int = MAX_EXACT, seed: int = 0) -> tuple[Density, str]:
    """The aggregate posterior on the grid, smoothed over each cell (as posterior.py draws it: posteriors narrower
    than a cell would otherwise fall between the grid points): each component's C gets the variance of a uniform
    cell added, C + diag(h_x^2, h_y^2) / 12 (a Gaussian averaged over a box of width h is close to a Gaussian with
    the box's variance h^2 / 12 added). Above `limit` images, on a seeded sample of `limit` of them; the note says so
    ("" when every image counts)."""
    note, n = "", len(points)
    if n > limit:
        keep = np.sort(np.random.default_rng(seed).choice(n, limit, replace=False))
        points, covs, note = points[keep], covs[keep], f"a seeded sample of {limit:,} of the {n:,} images"
    cell = np.diag([np.ptp(xs) / max(len(xs) - 1, 1), np.ptp(ys) / max(len(ys) - 1, 1)]) ** 2 / 12
    return Density(xs, ys, mixture_density(points, covs + cell, xs, ys)), note


def plane_grid(values: np.ndarray, sds: np.ndarray, centre: float, n: int = GRID) -> np.ndarray:
    """The grid along one direction: the data's span as posterior.grid_axis gives it, with the prior's +-3 around
    its centre on the plane (not around 0)."""
    return grid_axis(values - centre, sds, n) + centre


def plane_axes(mu: np.ndarray, sigma: np.ndarray, labels: np.ndarray, dirs: Directions, i: int, j: int,
               selected=(), grid: int = GRID) -> LatentAxes:
    """Everything the view draws on directions (i, j): the images' points, the selected ones' rotated 1- and 2-sigma
    ellipses, the prior's circles and the aggregate posterior; the pickers' order is the directions' (by variance)."""
    i, j = check_directions(i, j, len(dirs.vectors))
    points = project(mu, dirs, i, j)
    covs = covariances(sigma, dirs.vectors[i], dirs.vectors[j])
    prior = project(np.zeros_like(dirs.mean), dirs, i, j)
    xs = plane_grid(points[:, 0], np.sqrt(covs[:, 0, 0]), prior[0], grid)
    ys = plane_grid(points[:, 1], np.sqrt(covs[:, 1, 1]), prior[1], grid)
    ellipses = [rotated_ellipse(points[n], covs[n], k, index=int(n)) for n in selected for k in (1.0, 2.0)]
    density, note = aggregate_density(points, covs, xs, ys)
    return LatentAxes(i, j, np.arange(len(dirs.vectors)), points, labels, ellipses, prior_circles(dirs, i, j),
                      density, titles=(f"direction {i}", f"direction {j}"), density_note=note)


def plane_latent(base, dirs: Directions, i: int, j: int, x: float, y: float) -> np.ndarray:
    """The latent of a click at (x, y) on directions (i, j): `base` moved within the plane alone,
    z = base + (x - v_i . (base - m)) v_i + (y - v_j . (base - m)) v_j (its other components held)."""
    i, j = check_directions(i, j, len(dirs.vectors))
    x, y = finite_position(x, y, AxesError, "a click on the latent axes")
    base = np.asarray(base, dtype=np.float64)
    px, py = project(base, dirs, i, j)
    return base + (x - px) * dirs.vectors[i] + (y - py) * dirs.vectors[j]
