"""Fast maps between latent space and the 2-D projection, for the interactive path (no UMAP calls).

Both directions blend the k nearest known points with inverse-distance weights:
    f(q) = sum_i w_i v_i / sum_i w_i,   w_i = 1 / (||q - p_i|| + eps)^2,   i over the k nearest p_i to q
"""
import numpy as np
from scipy.spatial import cKDTree


def _blend(points: np.ndarray, values: np.ndarray, query: np.ndarray, k: int) -> np.ndarray:
    d = np.sqrt(((points - query) ** 2).sum(1))
    k = min(k, len(points))
    nearest = np.argpartition(d, k - 1)[:k]
    w = 1.0 / (d[nearest] + 1e-6 * (1 + np.median(d[nearest]))) ** 2
    return (w[:, None] * values[nearest]).sum(0) / w.sum()


class LatentMap:
    """Known pairs (latent z_i, map position p_i) of a data set; maps new points either way."""

    def __init__(self, latents: np.ndarray, coords: np.ndarray, k: int = 8):
        self.latents = np.asarray(latents, dtype=np.float64)
        self.coords = np.asarray(coords, dtype=np.float64)
        self.k = k

    def to_latent(self, x: float, y: float) -> np.ndarray:
        """A latent for map position (x, y): blend of the latents of the nearest projected points."""
        return _blend(self.coords, self.latents, np.array([x, y], dtype=np.float64), self.k)

    def to_map(self, z: np.ndarray) -> np.ndarray:
        """Map position for latent z: blend of the positions of the nearest latents."""
        return _blend(self.latents, self.coords, np.asarray(z, dtype=np.float64), self.k)

    def nearest_index(self, x: float, y: float) -> int:
        """The known point nearest to map position (x, y), by a KD-tree over the positions built on the first call
        (O(log N) a query where the full scan is O(N))."""
        if getattr(self, "_tree", None) is None:
            self._tree = cKDTree(self.coords)
        return int(self._tree.query([x, y])[1])
