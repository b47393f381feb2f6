"""Fast maps between latent space and the 2-D projection, for the interactive path (no UMAP calls).

Map -> latent blends the latents of the k points nearest the click with inverse-distance weights:
    to_latent(q) = sum_i w_i z_i / sum_i w_i,   w_i = 1 / (||q - p_i|| + eps)^2,   i over the k nearest p_i to q
Latent -> map is that blend's inverse by construction: the map position whose blend is nearest to z,
    to_map(z) = argmin_p ||to_latent(p) - z||^2,
started from the nearest of a precomputed grid of blends (and the position of the nearest known latent) and refined
by a few Gauss-Newton steps. So a click decodes a latent that maps back onto the click (the marker stays where it
was clicked), a known latent maps onto its own point, and a latent edited a little moves the marker a little.
"""
import numpy as np
from scipy.spatial import cKDTree

GRID = 64  # blends precomputed on a GRID x GRID lattice over the map, to start to_map's search
STARTS = 3  # grid cells (nearest in latent space) each refined by Gauss-Newton
STEPS = 8  # Gauss-Newton steps at most per start
RADIUS = 0.01  # empty space: no known point within this share of the map's larger side


class LatentMap:
    """Known pairs (latent z_i, map position p_i) of a data set; maps new points either way."""

    def __init__(self, latents: np.ndarray, coords: np.ndarray, k: int = 8, grid: int = GRID):
        self.latents = np.asarray(latents, dtype=np.float64)
        self.coords = np.asarray(coords, dtype=np.float64)
        self.k = min(k, len(self.coords))
        self._map_tree, self._latent_tree = cKDTree(self.coords), cKDTree(self.latents)
        lo, hi = self.coords.min(0), self.coords.max(0)
        self.span = float((hi - lo).max()) or 1.0  # the map's larger side
        self.radius = RADIUS * self.span  # a click farther than this from every point is in empty space
        self._h = 1e-3 * self.span  # finite-difference step for the Jacobian d to_latent / dp
        gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], grid), np.linspace(lo[1], hi[1], grid))
        self._grid_p = np.stack([gx.ravel(), gy.ravel()], 1)
        self._grid_z = self.latents_at(self._grid_p)
        self._grid_tree = cKDTree(self._grid_z)

    # --- map -> latent ----------------------------------------------------------------------------------------
    def latents_at(self, points: np.ndarray) -> np.ndarray:
        """to_latent for n map positions at once (n x 2 -> n x D)."""
        d, nearest = self._map_tree.query(np.asarray(points, dtype=np.float64).reshape(-1, 2), self.k)
        d, nearest = d.reshape(len(d), -1), nearest.reshape(len(nearest), -1)
        w = 1.0 / (d + 1e-6 * (1 + d[:, -1:])) ** 2  # eps scales with the local spacing (the k-th distance)
        return (w[..., None] * self.latents[nearest]).sum(1) / w.sum(1, keepdims=True)

    def to_latent(self, x: float, y: float) -> np.ndarray:
        """A latent for map position (x, y): blend of the latents of the nearest projected points."""
        return self.latents_at(np.array([[x, y]], dtype=np.float64))[0]

    # --- latent -> map ----------------------------------------------------------------------------------------
    def to_map(self, z: np.ndarray) -> np.ndarray:
        """Map position whose blend (to_latent) is nearest to z: exact for a known latent and for any blend."""
        z = np.asarray(z, dtype=np.float64).ravel()
        d, i = self._latent_tree.query(z)
        if d <= 1e-9 * (1 + np.abs(z).max()):
            return self.coords[i].copy()  # a known point's own latent
        _, cells = self._grid_tree.query(z, STARTS)
        starts = np.vstack([self._grid_p[np.atleast_1d(cells)], self.coords[i]])
        return self._refine(starts, z)

    def _refine(self, p: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Gauss-Newton on e(p) = ||to_latent(p) - z||^2 from each of the start positions p (S x 2) at once,
        halving a step that does not lower e; the position of lowest e."""
        h, s = self._h, len(p)
        f = self.latents_at(p)
        err = ((f - z) ** 2).sum(1)
        for _ in range(STEPS):
            fd = self.latents_at((p[:, None] + np.array([[h, 0.0], [0.0, h]])).reshape(-1, 2)).reshape(s, 2, -1)
            jac = (fd - f[:, None]).transpose(0, 2, 1) / h  # J = d to_latent / dp, S x D x 2
            jtj = jac.transpose(0, 2, 1) @ jac + 1e-12 * np.eye(2)
            step = np.linalg.solve(jtj, (jac.transpose(0, 2, 1) @ (z - f)[..., None]))[..., 0]  # (J'J) s = J'(z - f)
            trials = p[:, None] + step[:, None] * np.array([1.0, 0.5, 0.25])[None, :, None]  # S x 3 x 2
            ft = self.latents_at(trials.reshape(-1, 2)).reshape(s, 3, -1)
            errs = ((ft - z) ** 2).sum(2)
            j = errs.argmin(1)
            better = errs[np.arange(s), j] < err
            if not better.any():
                break
            moved = np.abs(trials[np.arange(s), j] - p).max(1)
            p = np.where(better[:, None], trials[np.arange(s), j], p)
            f = np.where(better[:, None], ft[np.arange(s), j], f)
            err = np.where(better, errs[np.arange(s), j], err)
            if (moved[better] < 1e-4 * self.span).all():
                break
        return p[int(err.argmin())].copy()

    # --- the points near a map position -----------------------------------------------------------------------
    def nearest_index(self, x: float, y: float) -> int:
        return int(self._map_tree.query([x, y])[1])

    def nearest(self, x: float, y: float, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The n (default k: those to_latent blends) points nearest (x, y) on the map: (indices, distances),
        nearest first."""
        n = min(n or self.k, len(self.coords))
        d, i = self._map_tree.query([x, y], n)
        return np.atleast_1d(i), np.atleast_1d(d)

    def blend(self, x: float, y: float) -> tuple[np.ndarray, np.ndarray]:
        """The points to_latent(x, y) blends and their weights (summing to 1), heaviest first."""
        i, d = self.nearest(x, y)
        w = 1.0 / (d + 1e-6 * (1 + d[-1])) ** 2  # as latents_at weighs them
        order = np.argsort(-w, kind="stable")
        return i[order], (w / w.sum())[order]

    def nearest_distance(self, x: float, y: float) -> float:
        """Map distance from (x, y) to the nearest known point."""
        return float(self._map_tree.query([x, y])[0])
