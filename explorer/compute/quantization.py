"""Quantisation of one image by a VQ-VAE, cell by cell of its code grid.

For the encoder's vector z_e at a cell and the codebook e_1..e_K, with d_k = ||z_e - e_k||^2 sorted d(1) <= d(2) <= ..:
    quantisation error  d(1) = ||z_e - e_q||^2          (the code chosen: the nearest)
    margin              d(2) - d(1) >= 0                (0 exactly where two codes tie: the cell is about to flip)
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
    margin: np.ndarray  # (h, w) distance to the second-nearest code minus distance to the nearest, >= 0
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


@torch.no_grad()
def quantization(model, x: np.ndarray, top: int = TOP) -> Quantization:
    """Cell-by-cell quantisation of one uint8 image x (C, H, W) by a VQ-VAE."""
    z_e = model.encode(to_float(np.asarray(x)[None]))  # (1, D, h, w)
    _, d, h, w = z_e.shape
    flat = z_e[0].permute(1, 2, 0).reshape(h * w, d).numpy()
    dist = code_distances(flat, model.codebook.numpy())
    codes, near = nearest_codes(dist, top)
    z_q = model.codebook[torch.from_numpy(codes[:, 0])].T.reshape(1, d, h, w)
    decode_q = model.decode(z_q).clamp(0, 1)[0].numpy()
    decode_e = model.decode(z_e).clamp(0, 1)[0].numpy()
    return Quantization(codes[:, 0].reshape(h, w), near[:, 0].reshape(h, w), margins(dist).reshape(h, w),
                        codes.reshape(h, w, -1), near.reshape(h, w, -1), decode_q, decode_e)
