"""The data a playground run trains on: seeded 2-D toy sets whose data space is a plane, and small image sets.

    moons:   two interleaved half circles, noise sd 0.1
    ring:    8 Gaussians (sd 0.1) at radius 2, angles 2 pi k / 8
    spiral:  r = theta / (2 pi) over 2 turns, noise sd 0.05 r + 0.05
Every toy set is standardised to mean 0 and unit variance per coordinate, so one learning rate suits all.

The image sets: a seeded draw of at most IMAGES training images of Fashion-MNIST (28 x 28) or of scikit-learn's
8 x 8 digits (1,438 training images: all of them), read by vae_core.data, loaded once per process and shared,
read-only, by every run. Fashion-MNIST is never downloaded here: when it is not installed, choosing it is refused
with what to install, and the digits still work.
"""
import threading
from dataclasses import dataclass

import numpy as np
import torch

from explorer.errors import PlaygroundError
from vae_core.data import DataError, load_dataset, local_folder, to_float

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


# --- image sets ----------------------------------------------------------------------------------------------
IMAGE_SETS = {"fashion-mnist": "fashion-mnist (2,000 images)", "digits": "digits (8x8)"}  # value: its label
IMAGES = 2000
DATA_SEED = 0  # of the draw and of the digits' train/test split: a saved run's Config records it (to_checkpoint)
INSTALL = {"fashion-mnist": "apt-get install dataset-fashion-mnist"}


@dataclass(frozen=True)
class TrainingImages:
    """The images of one set that playground runs train on, with their labels."""

    name: str
    x: torch.Tensor  # (N, C, H, W) float in [0, 1]: shared by every run, never written
    labels: np.ndarray  # (N,) int64
    label_names: tuple[str, ...]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.x.shape[1:])

    @property
    def pixels(self) -> int:
        """D, the numbers per image (bits/dim = nats / (D ln 2))."""
        return int(np.prod(self.image_shape))


_sets: dict[str, TrainingImages] = {}
_lock = threading.Lock()


def missing(name: str) -> str:
    """'' when image set `name` can be loaded on this server, else a message saying what to install."""
    if name in INSTALL and name not in _sets and local_folder(name) is None:
        return (f"{name} is not installed on this server: install it with `{INSTALL[name]}` (it puts the files in "
                "/usr/share/datasets), or pick the digits")
    return ""


def image_set(name: str) -> TrainingImages:
    """The images of set `name` (IMAGE_SETS), loaded on the first call; PlaygroundError when it is not here."""
    if name not in IMAGE_SETS:
        raise PlaygroundError(f"unknown image set {name!r}: pick one of {', '.join(IMAGE_SETS)}")
    with _lock:
        if name not in _sets:
            problem = missing(name)
            if problem:
                raise PlaygroundError(problem)
            try:
                ds = load_dataset(name, seed=DATA_SEED, log=lambda *a: None)
            except (DataError, OSError) as e:
                raise PlaygroundError(f"{name} could not be read: {e}") from e
            n = min(IMAGES, len(ds.x_train))
            pick = np.sort(np.random.default_rng(DATA_SEED).choice(len(ds.x_train), n, replace=False))
            _sets[name] = TrainingImages(name, to_float(ds.x_train[pick]), ds.y_train[pick], tuple(ds.label_names))
        return _sets[name]
