"""The VQ-VAE's straight-through pass and its codebook updates, measured with autograd on vae_core's quantizer.

    z_q = z_e + sg(e_k - z_e)              forward: the code e_k; backward: d z_q / d z_e = I, d z_q / d e_k = 0
    reconstruction loss R(z_q)             its gradient reaches z_e (dR/dz_q, copied), never the code e_k
    codebook loss   w ||sg(z_e) - e_k||^2  d/de_k = 2 w sum_{i: k_i = k} (e_k - z_i): pulls the code to its vectors
    commitment loss b ||z_e - sg(e_k)||^2  d/dz_e = 2 b (z_e - e_k): pulls the vector to its code
So the code selected receives gradient from the codebook loss only. The moving-average codebook (vae_core's "ema"
mode) replaces that loss by, for each code k with n_k vectors of the batch and their sum s_k,
    N_k <- decay N_k + (1 - decay) n_k,  m_k <- decay m_k + (1 - decay) s_k,  e_k = m_k / N_k
and one k-means (Lloyd) step moves e_k to the centroid s_k / n_k: at decay 0 the two are the same step. With the
counts and sums of earlier steps equal to this batch's (N_k = n_k, m_k = n_k e_k) the EMA step is
e_k + (1 - decay) (s_k / n_k - e_k): a step of size 1 - decay toward the k-means centroid.
"""
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from vae_core.models.quantize import VectorQuantizer


@dataclass(frozen=True)
class StraightThrough:
    code: int  # the code of the chosen vector
    code_from_reconstruction: float  # ||dR/de_k||: 0, as the straight-through copy sends it to z_e
    code_from_codebook_loss: float  # ||d(codebook loss)/de_k||
    code_from_codebook_expected: float  # ||2 w sum_{i: k_i = k} (e_k - z_i)||, the closed form
    vector_from_reconstruction: float  # ||dR/dz_e|| at the chosen vector
    vector_from_commitment: float  # ||2 b (z_e - e_k)|| at the chosen vector, measured


@dataclass(frozen=True)
class CodebookStep:
    decay: float
    used: np.ndarray  # (K,) codes chosen by at least one vector
    before: np.ndarray  # (K, D) the codebook
    ema: np.ndarray  # (K, D) after one EMA step (vae_core's)
    kmeans: np.ndarray  # (K, D) after one k-means step (unused codes stay)

    @property
    def difference(self) -> float:
        """max |EMA - k-means| over the used codes' numbers (0 at decay 0, up to the EMA's smoothing of counts)."""
        return float(np.abs(self.ema - self.kmeans)[self.used].max()) if self.used.any() else 0.0

    @property
    def step_ratio(self) -> float:
        """||EMA - before|| / ||k-means - before|| over the used codes: 1 - decay."""
        moved = np.linalg.norm((self.kmeans - self.before)[self.used])
        return float(np.linalg.norm((self.ema - self.before)[self.used]) / moved) if moved > 0 else 1.0


def cells(z_e: torch.Tensor) -> torch.Tensor:
    """(B, D, h, w) -> (B, h w, D): the quantizer's layout."""
    b, d, h, w = z_e.shape
    return z_e.permute(0, 2, 3, 1).reshape(b, h * w, d)


def straight_through(z_e: torch.Tensor, codebook: torch.Tensor, reconstruction: Callable, cell: int = 0,
                     commitment: float = 0.25, codebook_weight: float = 1.0) -> StraightThrough:
    """Gradients of one pass through vae_core's quantizer (codebook loss mode, frozen: no update) for vectors z_e
    (B, D, h, w) and a codebook (K, D); `reconstruction(z_q)` is a scalar loss of z_q (B, D, h, w) (the decoder's
    squared error, say); `cell` numbers the chosen vector among image 0's h w cells."""
    k, d = codebook.shape
    q = VectorQuantizer(k, d, commitment, codebook="loss", codebook_weight=codebook_weight).eval()
    with torch.no_grad():
        q.embedding.copy_(codebook)
    z = z_e.detach().float().clone().requires_grad_(True)
    with torch.enable_grad():
        z_q, idx, vq_loss = q(cells(z))
        b, _, h, w = z.shape
        recon = reconstruction(z_q.reshape(b, h, w, d).permute(0, 3, 1, 2))
        code_r, z_r = torch.autograd.grad(recon, [q.embedding, z], retain_graph=True, allow_unused=True,
                                          materialize_grads=True)
        code_c, z_c = torch.autograd.grad(vq_loss.sum(), [q.embedding, z], materialize_grads=True)
    chosen = int(idx[0, cell])
    flat = cells(z.detach()).reshape(-1, d)
    mine = flat[idx.flatten() == chosen]
    expected = 2 * codebook_weight * (codebook[chosen] - mine).sum(0)  # d/de_k of w ||sg(z_e) - e_k||^2
    row, col = divmod(cell, w)
    return StraightThrough(chosen, float(code_r[chosen].norm()), float(code_c[chosen].norm()),
                           float(expected.norm()), float(z_r[0, :, row, col].norm()), float(z_c[0, :, row, col].norm()))


def codebook_step(z: torch.Tensor, codebook: torch.Tensor, decay: float) -> CodebookStep:
    """One EMA step of vae_core's quantizer (no dead-code restarts) and one k-means step, on the same assignments
    of vectors z (N, D) to their nearest codes; the EMA's counts and sums start as this batch's (N_k = n_k,
    m_k = n_k e_k)."""
    k, d = codebook.shape
    q = VectorQuantizer(k, d, codebook="ema", decay=decay, dead_threshold=0.0)
    z = z.detach().float()
    with torch.no_grad():
        q.embedding.copy_(codebook)
        idx = q.nearest(z)
        counts, sums = q.counts_and_sums(z, idx)  # n_k, s_k
        q.ema_count.copy_(counts)
        q.ema_sum.copy_(counts[:, None] * codebook)
        q.initialized.fill_(True)
        q._update_codes(z, idx)  # the EMA step, as in training
        used = counts > 0
        kmeans = codebook.clone()
        kmeans[used] = sums[used] / counts[used, None]  # Lloyd's step: each used code to its vectors' centroid
    return CodebookStep(decay, used.numpy(), codebook.numpy().copy(), q.embedding.numpy().copy(), kmeans.numpy())
