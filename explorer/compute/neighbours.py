"""The k test images nearest to a latent, in latent space (Euclidean on the posterior means mu(x), not on the map).

A KD-tree over the means, built once per data set, answers each query exactly without a scan of all N (timings in
docs/benchmarks.md, "Figures behind the code's choices"); ties are broken by index.
"""
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

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
        self.tree = cKDTree(self.latents)

    def query(self, z, k: int = 10, exclude: int | None = None) -> Neighbours:
        """The k nearest to z (d,), without `exclude` (the selected image itself, usually at distance 0)."""
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= MAX_K:
            raise NeighbourError(f"the number of neighbours must be a whole number in 1..{MAX_K}, got {k!r}")
        z = np.asarray(z, dtype=np.float64)
        if z.shape != self.latents.shape[1:] or not np.isfinite(z).all():
            raise NeighbourError(f"neighbours need a finite latent of {self.latents.shape[1]} numbers")
        n = len(self.latents)
        k = min(int(k), n - (exclude is not None))
        d, near = self.tree.query(z, min(n, k + 1 + 8))  # a few more: ties at the k-th distance, and `exclude`
        d, near = np.atleast_1d(d), np.atleast_1d(near)
        keep = near != (-1 if exclude is None else int(exclude))
        d, near = d[keep], near[keep]
        order = np.lexsort((near, d))[:k]  # nearest first, ties by index
        return Neighbours(near[order], d[order])
