"""What "stuck with a Gaussian" costs: at decoding time p(x|z) is one unimodal distribution per pixel (a discretised
logistic or Gaussian around the decoder's location), while the images whose latents lie near z may disagree about a
pixel (a sleeve there or not). For the k test images nearest a latent z (by the distance of their posterior means)
the pixel where they disagree most gets its empirical distribution beside the decoder's p(x_pixel|z):

    empirical   h_b = #{neighbours whose pixel falls in bin b} / k         (BINS bins over the 256 levels)
    decoder     p_b = sum_{levels k in bin b} P(x = k / 255 | z)
    TV = 1/2 sum_b |h_b - p_b|   (0: the decoder's distribution matches them; 1: no overlap)
"""
from dataclasses import dataclass

import numpy as np

BINS = 16  # of 16 levels each
NEIGHBOURS = 50


@dataclass(frozen=True)
class PixelNeighbourhood:
    neighbours: np.ndarray  # (k,) test images nearest the latent, nearest first
    pixel: tuple[int, int, int]  # (channel, row, column)
    values: np.ndarray  # (k,) that pixel's levels in the neighbours, 0..255
    empirical: np.ndarray  # (BINS,) h_b
    decoder: np.ndarray  # (BINS,) p_b
    total_variation: float


def nearest(latents: np.ndarray, z: np.ndarray, k: int) -> np.ndarray:
    """The k rows of latents (N, d) nearest z (d,), nearest first (ties: lower index)."""
    d = ((np.asarray(latents, np.float64) - np.asarray(z, np.float64)) ** 2).sum(1)
    return np.argsort(d, kind="stable")[:k]


def binned(probs: np.ndarray, bins: int = BINS) -> np.ndarray:
    """256 level probabilities summed into `bins` equal bins."""
    return np.asarray(probs, np.float64).reshape(bins, -1).sum(1)


def histogram(values: np.ndarray, bins: int = BINS) -> np.ndarray:
    """The share of uint8 values in each of `bins` equal bins of 0..255."""
    return np.bincount(np.asarray(values, np.int64) * bins // 256, minlength=bins) / len(values)


def pixel_neighbourhood(latents: np.ndarray, images: np.ndarray, z: np.ndarray, level_probs: np.ndarray,
                        k: int = NEIGHBOURS, pixel: tuple[int, int, int] | None = None) -> PixelNeighbourhood:
    """latents (N, d) and uint8 images (N, C, H, W) of the test set, a latent z (d,), the decoder's level
    probabilities at z (C, H, W, 256); the pixel (default: where the k nearest images' values spread most)."""
    near = nearest(latents, z, k)
    stack = np.asarray(images)[near].astype(np.float64)  # (k, C, H, W)
    if pixel is None:
        pixel = tuple(int(i) for i in np.unravel_index(np.argmax(stack.std(0)), stack.shape[1:]))
    values = np.asarray(images)[near][(slice(None), *pixel)].astype(np.int64)
    h, p = histogram(values), binned(level_probs[pixel])
    return PixelNeighbourhood(near, pixel, values, h, p, float(0.5 * np.abs(h - p).sum()))
