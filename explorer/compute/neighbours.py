"""The k test images nearest to a latent, in latent space (Euclidean on the posterior means mu(x), not on the map).

One matrix-vector product over all N answers each query: ||z - mu_n||^2 = ||mu_n||^2 - 2 mu_n . z + ||z||^2, the
norms kept from the start; the few nearest are then measured exactly. (A KD-tree wins only in a few dimensions: in 64
it visits most of the points.) Ties are broken by index.
"""
from dataclasses import dataclass

import numpy as np

from explorer.errors import NeighbourError

MAX_K = 100


@dataclass
class Neighbours:
    indices: np.ndarray  # (k,) test image indices, nearest first
    distances: np.ndarray  # (k,) Euclidean distances ||z - mu(x_n)||


class NeighbourIndex:
    """The posterior means of a data set, ready for nearest-neighbour queries."""

    def __init__(self, latents: np.ndarray):
        self.latents = np.asarray(latents, dtype=np.float64)
        self.norms = (self.latents ** 2).sum(1)  # ||mu_n||^2

    def query(self, z, k: int = 10, exclude: int | None = None) -> Neighbours:
        """The k nearest to z (d,), without `exclude` (the selected image itself, usually at distance 0)."""
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= MAX_K:
            raise NeighbourError(f"the number of neighbours must be a whole number in 1..{MAX_K}, got {k!r}")
        z = np.asarray(z, dtype=np.float64)
        if z.shape != self.latents.shape[1:] or not np.isfinite(z).all():
            raise NeighbourError(f"neighbours need a finite latent of {self.latents.shape[1]} numbers")
        n = len(self.latents)
        k = min(int(k), n - (exclude is not None))
        m = min(n, k + 1 + 8)  # a few more: ties at the k-th distance, and `exclude`
        near = np.argpartition(self.norms - 2 * (self.latents @ z), m - 1)[:m]  # ||z||^2 is the same for all
        d = np.sqrt(((self.latents[near] - z) ** 2).sum(1))  # exactly, for the few
        keep = near != (-1 if exclude is None else int(exclude))
        d, near = d[keep], near[keep]
        order = np.lexsort((near, d))[:k]  # nearest first, ties by index
        return Neighbours(near[order], d[order])
