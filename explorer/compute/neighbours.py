"""The k test images nearest to a latent, in latent space (Euclidean on the posterior means mu(x), not on the map).

Brute force: ||z - m_n||^2 = ||m_n||^2 - 2 m_n.z + ||z||^2 for all N at once (10,000 x 16: well under a millisecond),
then the k smallest by argpartition; the squared norms ||m_n||^2 are computed once per data set.
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
        self.norms = (self.latents ** 2).sum(1)  # ||m_n||^2

    def query(self, z, k: int = 10, exclude: int | None = None) -> Neighbours:
        """The k nearest to z (d,), without `exclude` (the selected image itself, usually at distance 0)."""
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= MAX_K:
            raise NeighbourError(f"the number of neighbours must be a whole number in 1..{MAX_K}, got {k!r}")
        z = np.asarray(z, dtype=np.float64)
        if z.shape != self.latents.shape[1:] or not np.isfinite(z).all():
            raise NeighbourError(f"neighbours need a finite latent of {self.latents.shape[1]} numbers")
        d2 = self.norms - 2 * self.latents @ z + z @ z  # ||z - m_n||^2
        if exclude is not None:
            d2[int(exclude)] = np.inf
        k = min(int(k), len(d2) - (exclude is not None))
        near = np.argpartition(d2, k - 1)[:k]
        near = near[np.lexsort((near, d2[near]))]  # nearest first, ties by index
        return Neighbours(near, np.sqrt(np.maximum(d2[near], 0.0)))
