"""Quantisation of one image by a VQ-VAE, cell by cell of its code grid.

For the encoder's vector z_e at a cell and the codebook e_1..e_K, with d_k = ||z_e - e_k||^2 sorted d(1) <= d(2) <= ..:
    quantisation error  d(1) = ||z_e - e_q||^2          (the code chosen: the nearest)
    margin              d(2) - d(1) >= 0                (squared units; 0 exactly where two codes tie)
    flip distance       min_{j != q} (d_j - d_q) / (2 ||e_j - e_q||)
The flip distance is how far z_e must move (in z's units) for its code to change: the distance from z_e to the
nearest face of e_q's Voronoi cell. The face between e_q and e_j lies on their bisector, the plane
(y - (e_q + e_j) / 2) . (e_j - e_q) = 0, and z_e's distance to it is (d_j - d_q) / (2 ||e_j - e_q||). The code across
the nearest face (flip_code) need not be the second-nearest code: a code farther away in d can have a nearer face.
The margin is only a proxy for the flip distance: it is not a distance, and it ranks the runner-ups by d, not by face.
Distances are computed as sums of squared differences in float64, not as ||z||^2 - 2 z.e + ||e||^2, so that equal
distances come out exactly equal. Ties go to the lower code index, as torch's argmin (the quantizer's) does.
"""
from dataclasses import dataclass

import numpy as np
import torch

from vae_core.data import to_float

TOP = 3  # nearest codes listed per cell


@dataclass
class Quantization:
    indices: np.ndarray  # (h, w) the nearest code of each cell (z_q's codes)
    error: np.ndarray  # (h, w) ||z_e - e_q||^2
    margin: np.ndarray  # (h, w) d(2) - d(1) >= 0, in squared units: a proxy for how near the cell is to flipping
    flip_distance: np.ndarray  # (h, w) how far z_e must move for its code to change: to its Voronoi cell's nearest face
    flip_code: np.ndarray  # (h, w) the code across that face (-1 with a single distinct code: nothing to flip to)
    top_codes: np.ndarray  # (h, w, TOP) the nearest codes, nearest first
    top_distances: np.ndarray  # (h, w, TOP) their squared distances
    decode_q: np.ndarray  # (C, H, W) decode of z_q (the reconstruction), in [0, 1]
    decode_e: np.ndarray  # (C, H, W) decode of z_e, before quantisation, in [0, 1]


def code_distances(z: np.ndarray, codebook: np.ndarray) -> np.ndarray:
    """(N, K): d_nk = sum_d (z_nd - e_kd)^2, in float64."""
    diff = np.asarray(z, np.float64)[:, None, :] - np.asarray(codebook, np.float64)[None, :, :]
    return np.einsum("nkd,nkd->nk", diff, diff)


def nearest_codes(distances: np.ndarray, top: int = TOP) -> tuple[np.ndarray, np.ndarray]:
    """The `top` nearest codes of each row and their distances, nearest first (ties: lower index first)."""
    top = min(top, distances.shape[1])
    order = np.argsort(distances, axis=1, kind="stable")[:, :top]
    return order, np.take_along_axis(distances, order, 1)


def margins(distances: np.ndarray) -> np.ndarray:
    """d(2) - d(1) per row: how much nearer the nearest code is than the runner-up (0 with one code)."""
    if distances.shape[1] < 2:
        return np.zeros(len(distances))
    two = np.partition(distances, 1, axis=1)[:, :2]
    return two[:, 1] - two[:, 0]


def flip_distances(codebook: np.ndarray, distances: np.ndarray, nearest: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distance to the nearest face of each row's Voronoi cell, the code across it): rows of `distances` (N, K) are
    d_nk = ||z_n - e_k||^2, `nearest` (N,) their nearest codes q_n.

        t_nj = (d_nj - d_nq) / (2 ||e_j - e_q||),  j != q     (z_n's distance to the bisector of e_q and e_j)
        flip_n = min_j t_nj,  flip_code_n = argmin_j t_nj

    A copy of e_q (||e_j - e_q|| = 0) has no face: z_n can never flip to it (ties go to the lower index), so it is
    skipped; with no other distinct code the distance is inf and the code -1.
    """
    e = np.asarray(codebook, np.float64)
    q = np.asarray(nearest)
    rows = np.arange(len(q))
    gap = np.sqrt(np.einsum("nkd,nkd->nk", e[None] - e[q][:, None], e[None] - e[q][:, None]))  # ||e_j - e_q||
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (distances - distances[rows, q][:, None]) / (2 * gap)
    t[gap == 0] = np.inf  # e_q itself and its copies
    code = np.argmin(t, axis=1)  # ties: the lower index
    flip = t[rows, code]
    return flip, np.where(np.isfinite(flip), code, -1)


@torch.no_grad()
def quantization(model, x: np.ndarray, top: int = TOP) -> Quantization:
    """Cell-by-cell quantisation of one uint8 image x (C, H, W) by a VQ-VAE."""
    z_e = model.encode(to_float(np.asarray(x)[None]))  # (1, D, h, w)
    _, d, h, w = z_e.shape
    flat = z_e[0].permute(1, 2, 0).reshape(h * w, d).numpy()
    dist = code_distances(flat, model.codebook.numpy())
    codes, near = nearest_codes(dist, top)
    flip, flip_code = flip_distances(model.codebook.numpy(), dist, codes[:, 0])
    z_q = model.codebook[torch.from_numpy(codes[:, 0])].T.reshape(1, d, h, w)
    decode_q = model.decode(z_q).clamp(0, 1)[0].numpy()
    decode_e = model.decode(z_e).clamp(0, 1)[0].numpy()
    return Quantization(codes[:, 0].reshape(h, w), near[:, 0].reshape(h, w), margins(dist).reshape(h, w),
                        flip.reshape(h, w), flip_code.reshape(h, w), codes.reshape(h, w, -1), near.reshape(h, w, -1),
                        decode_q, decode_e)
