"""The sample-quality figures of a model that can sample: its samples against the test split, in a classifier's
feature space, beside the floor that real images reach.

    sample_fd, sample_precision, sample_recall = FD, precision, recall of f(test) against f(samples)
    sample_floor_fd (..._precision, ..._recall)  = the same of f(test) against f(training images)

f is the classifier's penultimate layer (vae_core.evaluation.classifier); FD and the k-NN precision/recall are
vae_core.evaluation.sample_quality's. Both comparisons take n images a side: a seeded draw of n test images (all, when
the split is smaller), n samples, n training images; the radii of the k-NN balls depend on the size of a set, so equal
sizes keep the floor comparable to the figures. Samples come in batches from `model.sample(batch, generator=g)`,
g seeded, and are rounded to the 256 grey levels the real images have. Seeded throughout: the same call gives the
same figures, and the global RNG is not moved.
"""
from dataclasses import dataclass

import numpy as np
import torch

from .sample_quality import sample_quality

SUBSET_STREAM = 2  # the test/training images are drawn from numpy's stream (seed, 2, split)


@dataclass(frozen=True)
class Reference:
    """The real side of the figures: the features of the test and training images drawn, and the floor."""

    test: np.ndarray  # (n_test, F)
    train: np.ndarray  # (n_train, F)
    floor: dict  # sample_floor_fd, sample_floor_precision, sample_floor_recall
    n: int
    seed: int
    k: int


def as_float_images(x) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float in [0, 1]; float images pass through (as float32)."""
    t = torch.as_tensor(np.ascontiguousarray(x)) if isinstance(x, np.ndarray) else torch.as_tensor(x)
    return t.float().div(255.0) if t.dtype == torch.uint8 else t.float()


def drawn(x: np.ndarray, n: int, seed: int, split: int) -> np.ndarray:
    """min(n, len(x)) of the images x, drawn without replacement, seeded by (seed, split)."""
    if n >= len(x):
        return x
    idx = np.random.default_rng([seed, SUBSET_STREAM, split]).choice(len(x), n, replace=False)
    return x[np.sort(idx)]


def feature_rows(clf, x) -> np.ndarray:
    """The classifier's features of images x, float64 (N, F)."""
    return clf.features(as_float_images(x)).double().numpy()


def reference(clf, test_x: np.ndarray, train_x: np.ndarray, n: int = 5000, seed: int = 0, k: int = 3) -> Reference:
    """The features of n test and n training images, and the floor: the test images against the training ones."""
    test = feature_rows(clf, drawn(test_x, n, seed, 0))
    train = feature_rows(clf, drawn(train_x, n, seed, 1))
    q = sample_quality(test, train, k)
    floor = {"sample_floor_fd": q.fd, "sample_floor_precision": q.precision, "sample_floor_recall": q.recall}
    return Reference(test, train, floor, n, seed, k)


@torch.no_grad()
def draw_samples(model, n: int, seed: int = 0, batch_size: int = 500, **sample_kwargs) -> torch.Tensor:
    """n samples (n, C, H, W) on the CPU, in batches from one generator seeded by `seed`, rounded to 1/255."""
    generator = torch.Generator().manual_seed(seed)  # a CPU generator: model.sample moves its draws to the device
    out = [model.sample(min(batch_size, n - i), generator=generator, **sample_kwargs).float().cpu()
           for i in range(0, n, batch_size)]
    return (torch.cat(out).clamp(0, 1) * 255).round() / 255  # as the images are stored: 256 grey levels


def sample_figures(model, clf, test_x: np.ndarray, train_x: np.ndarray, n: int = 5000, seed: int = 0, *,
                   k: int = 3, batch_size: int = 500, ref: Reference | None = None, **sample_kwargs) -> dict:
    """The figures of the module docstring for n samples of `model` (sample_kwargs go to model.sample), with
    sample_n, sample_k and the classifier's test accuracy. `ref` (from `reference`, same n, seed, k) saves
    recomputing the real side when one model is scored several ways."""
    if n < k + 1:
        raise ValueError(f"n must exceed k = {k} (the k-NN balls need k other points), got {n}")
    if ref is None:
        ref = reference(clf, test_x, train_x, n, seed, k)
    elif (ref.n, ref.seed, ref.k) != (n, seed, k):
        raise ValueError(f"ref was made for n={ref.n}, seed={ref.seed}, k={ref.k}, not n={n}, seed={seed}, k={k}")
    fake = feature_rows(clf, draw_samples(model, n, seed, batch_size, **sample_kwargs))
    q = sample_quality(ref.test, fake, k)
    return {"sample_fd": q.fd, "sample_precision": q.precision, "sample_recall": q.recall, **ref.floor,
            "sample_n": n, "sample_k": k, "classifier_accuracy": float(clf.test_accuracy)}
