"""Principal directions of a set of latents: what the sliders move when a latent has too many numbers to give each
its own slider (a diffusers 4 x 8 x 8 latent has 256).

    centred latents Z - m = U S V^T (SVD);  direction k: v_k (row k of V^T), a unit vector in latent space
    its share of the variance: s_k^2 / sum_j s_j^2
    a latent's coefficient on it: a_k(z) = v_k . (z - m)
    a slider set to a moves z along v_k only: z' = z + (a - a_k(z)) v_k
"""
from dataclasses import dataclass

import numpy as np

SLIDER_SDS = 4.0  # a direction's slider spans +-4 standard deviations of the latents along it
DIRECTIONS = 16  # principal directions offered (sliders, the Maths tab's axes)


@dataclass(frozen=True)
class Directions:
    mean: np.ndarray  # (d,) m
    vectors: np.ndarray  # (k, d) orthonormal rows v_k, the largest variance first
    share: np.ndarray  # (k,) share of the total variance along each
    sd: np.ndarray  # (k,) standard deviation of the latents along each

    def coefficients(self, z) -> np.ndarray:
        """a(z) = V (z - m): (k,)."""
        return self.vectors @ (np.asarray(z, np.float64) - self.mean)

    def move(self, z, k: int, value: float) -> np.ndarray:
        """z moved along direction k alone until its coefficient there is `value`."""
        z = np.asarray(z, np.float64)
        return z + (float(value) - float(self.vectors[k] @ (z - self.mean))) * self.vectors[k]  # z + (a - a_k) v_k

    def label(self, k: int) -> str:
        return f"direction {k} ({100 * self.share[k]:.1f}% of the variance)"


def principal_directions(latents: np.ndarray, k: int = DIRECTIONS) -> Directions:
    """The top-k principal directions of latents (N, d)."""
    z = np.asarray(latents, np.float64)
    mean = z.mean(0)
    _, s, vt = np.linalg.svd(z - mean, full_matrices=False)
    k = min(k, len(s))
    var = s ** 2
    return Directions(mean, vt[:k], var[:k] / max(var.sum(), 1e-300), np.sqrt(var[:k] / max(len(z) - 1, 1)))
