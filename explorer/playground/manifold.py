"""The decoder's "manifold", as GAN Lab draws a generator's: a regular grid of latents decoded in one batch, its
lines drawn through their images in data space, so the grid warps as the model trains.

    grid:    z_ij = (a_i, b_j),  a_i, b_j evenly spaced over [lo, hi]   (a 1-D latent: one line, z_i = a_i)
    warped:  x_ij = E[x | z = z_ij] (the VAE's decoded location; the VQ-VAE's dec(z) over the codes' plane)
Row i of the result is the image of the line z = (a_i, .), column j that of z = (., b_j); a decoder that is affine,
x = A z + c, maps the grid to a parallelogram grid.
"""
import numpy as np
import torch

LINES = 15  # grid lines each way
PRIOR_SD = 3.0  # a VAE's grid spans the prior N(0, I) to +-3 sd


def latent_grid(lo: float, hi: float, dims: int, lines: int = LINES) -> torch.Tensor:
    """(rows, cols, dims) latents: a lines x lines grid over [lo, hi]^2, or (dims 1) one row of `lines` latents."""
    a = torch.linspace(lo, hi, lines)
    if dims == 1:
        return a.view(1, lines, 1)
    if dims != 2:
        raise ValueError(f"a grid of latents is drawn for 1 or 2 latent dimensions, not {dims}")
    rows, cols = torch.meshgrid(a, a, indexing="ij")  # z_ij = (a_i, a_j)
    return torch.stack([rows, cols], -1)


@torch.no_grad()
def warped_grid(decode, lo: float, hi: float, dims: int, lines: int = LINES) -> tuple[np.ndarray, np.ndarray]:
    """(the grid of latents, its image under `decode` (latents (n, dims) -> points (n, 2))), each (rows, cols, .):
    one batched decode."""
    z = latent_grid(lo, hi, dims, lines)
    rows, cols = z.shape[:2]
    x = decode(z.reshape(rows * cols, dims))
    return z.numpy(), x.reshape(rows, cols, -1).numpy()


def grid_box(*arrays, pad: float = 0.1) -> tuple[float, float]:
    """[lo, hi] that holds every finite coordinate of `arrays` (the VQ-VAE's z_e and codes), padded a little."""
    a = np.concatenate([np.asarray(x, dtype=np.float64).ravel() for x in arrays if x is not None])
    a = a[np.isfinite(a)]
    if not len(a):
        return -1.0, 1.0
    lo, hi = float(a.min()), float(a.max())
    half = max((hi - lo) / 2 * (1 + pad), 0.5)
    mid = (lo + hi) / 2
    return mid - half, mid + half
