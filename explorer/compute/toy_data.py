"""Seeded 2-D toy data sets whose data space is a plane: two moons, a ring of 8 Gaussians, a spiral.

    moons:   two interleaved half circles, noise sd 0.1
    ring:    8 Gaussians (sd 0.1) at radius 2, angles 2 pi k / 8
    spiral:  r = theta / (2 pi) over 2 turns, noise sd 0.05 r + 0.05
Every set is standardised to mean 0 and unit variance per coordinate, so one learning rate suits all.
"""
import numpy as np

TOY_SETS = ("moons", "ring", "spiral")
POINTS = 2000  # points per set


def moons(rng: np.random.Generator, n: int) -> np.ndarray:
    t = rng.uniform(0, np.pi, n)
    upper = rng.random(n) < 0.5
    x = np.where(upper, np.cos(t), 1 - np.cos(t))
    y = np.where(upper, np.sin(t), 0.5 - np.sin(t))
    return np.stack([x, y], 1) + rng.normal(0, 0.1, (n, 2))


def ring(rng: np.random.Generator, n: int, modes: int = 8) -> np.ndarray:
    k = rng.integers(0, modes, n)
    angle = 2 * np.pi * k / modes
    return 2 * np.stack([np.cos(angle), np.sin(angle)], 1) + rng.normal(0, 0.1, (n, 2))


def spiral(rng: np.random.Generator, n: int) -> np.ndarray:
    theta = np.sqrt(rng.random(n)) * 4 * np.pi
    r = theta / (2 * np.pi)
    xy = np.stack([r * np.cos(theta), r * np.sin(theta)], 1)
    return xy + rng.normal(0, 1, (n, 2)) * (0.05 * r + 0.05)[:, None]


def toy_points(name: str, seed: int = 0, n: int = POINTS) -> np.ndarray:
    """(n, 2) float32 points of set `name`, the same for the same seed, standardised per coordinate."""
    if name not in TOY_SETS:
        raise ValueError(f"unknown toy data set {name!r}: pick one of {', '.join(TOY_SETS)}")
    rng = np.random.default_rng(seed)
    x = {"moons": moons, "ring": ring, "spiral": spiral}[name](rng, n)
    x = (x - x.mean(0)) / x.std(0)
    return x.astype(np.float32)
