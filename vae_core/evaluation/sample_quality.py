"""How close a set of generated samples is to the real data, measured on feature vectors (one row per image).

Two views, since one number hides the trade-off between them:

    FD = ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^{1/2})    (Frechet distance of the two fitted Gaussians)
    precision = share of fake points inside the real manifold    (are the samples realistic?)
    recall    = share of real points inside the fake manifold    (do the samples cover the data?)

The manifold of a set is the union of balls around its points, each ball's radius that point's distance to its
k-th nearest neighbour in the same set (Kynkaanniemi et al. 2019, "Improved precision and recall metric for
assessing generative models"). Blurry samples (pulled toward the mean) keep a high precision but lose recall;
samples off the data keep neither.

Pure numpy/scipy on arrays the caller has already turned into features; which features (a classifier's
penultimate layer, raw pixels) is the caller's choice.
"""
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

# at most this many float64 differences (fake chunk x reals x D) are held at once in the exact ball test: 128 MiB
CHUNK_ELEMENTS = 1 << 24


@dataclass(frozen=True)
class SampleQuality:
    """The Frechet distance and the k-NN precision/recall of `n_fake` generated against `n_real` real features."""

    fd: float
    precision: float
    recall: float
    n_real: int
    n_fake: int
    k: int


def _features(x, name: str, min_rows: int) -> np.ndarray:
    """`x` as a finite float64 (N, D) array with N >= min_rows, or a ValueError that says what to pass instead."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array of features (N samples, D features), got shape {arr.shape}; "
                         f"flatten each sample to one row first")
    if arr.shape[0] < min_rows:
        raise ValueError(f"{name} has {arr.shape[0]} samples but at least {min_rows} are needed; pass more samples")
    if not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).any(axis=1).sum())
        raise ValueError(f"{name} has {bad} samples with NaN or infinite features; drop or fix them first")
    return arr


def _same_width(a: np.ndarray, b: np.ndarray, names: tuple[str, str]) -> None:
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"{names[0]} has {a.shape[1]} features per sample but {names[1]} has {b.shape[1]}; "
                         f"compute both with the same feature extractor")


def _psd_sqrt(s: np.ndarray) -> np.ndarray:
    """The symmetric square root of a symmetric PSD matrix, eigenvalues below zero (rounding) clipped to zero."""
    w, v = np.linalg.eigh(s)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T  # V diag(sqrt w) V^T


def frechet_distance(a, b) -> float:
    """The Frechet distance between Gaussians fitted to features a (N, D) and b (M, D), N, M >= 2.

    The trace of (S_a S_b)^{1/2} is taken as the trace of (S_a^{1/2} S_b S_a^{1/2})^{1/2}: the two matrices have
    the same eigenvalues (XY and YX do, with X = S_a^{1/2}, Y = S_a^{1/2} S_b), but the second is symmetric PSD,
    so `eigh` gives real eigenvalues and tiny negative ones from rounding can be clipped to zero. The usual
    `scipy.linalg.sqrtm(S_a @ S_b)` works on a non-symmetric matrix: it returns complex parts and NaNs when the
    covariances are singular (fewer samples than features), which here cost nothing.
    """
    a = _features(a, "a", 2)
    b = _features(b, "b", 2)
    _same_width(a, b, ("a", "b"))
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    s_a = np.atleast_2d(np.cov(a, rowvar=False))  # unbiased: 1/(N-1) sum (x - mu)(x - mu)^T
    s_b = np.atleast_2d(np.cov(b, rowvar=False))
    root_a = _psd_sqrt(s_a)
    middle = root_a @ s_b @ root_a
    middle = (middle + middle.T) / 2  # symmetric up to rounding; make it exactly so for eigh
    tr_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh(middle), 0.0, None)).sum()  # Tr (S_a^{1/2} S_b S_a^{1/2})^{1/2}
    dmu = mu_a - mu_b
    fd = dmu @ dmu + np.trace(s_a) + np.trace(s_b) - 2.0 * tr_sqrt
    return max(float(fd), 0.0)  # FD >= 0; a rounding residue of -1e-15 for identical sets reads as 0


def _knn_radii(x: np.ndarray, k: int) -> np.ndarray:
    """Each point's distance to its k-th nearest neighbour among the others in x (itself excluded)."""
    dist, _ = cKDTree(x).query(x, k=k + 1)  # neighbour 0 is the point itself, at distance 0
    return dist[:, k]


def _share_inside(points: np.ndarray, centres: np.ndarray, radii: np.ndarray) -> float:
    """Share of `points` within radius radii[i] of at least one centres[i] (boundary included), exactly."""
    # quick accept: a point inside its nearest centre's ball is inside the union; most are, for good samples
    dist, nearest = cKDTree(centres).query(points, k=1)
    inside = dist <= radii[nearest]
    rest = np.flatnonzero(~inside)
    chunk = max(1, CHUNK_ELEMENTS // (centres.shape[0] * centres.shape[1]))
    for start in range(0, rest.size, chunk):
        idx = rest[start:start + chunk]
        diff = points[idx, None, :] - centres[None, :, :]  # (chunk, n_centres, D)
        d = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))  # ||p - c_i||
        inside[idx] = (d <= radii[None, :]).any(axis=1)
    return float(inside.mean())


def precision_recall(real, fake, k: int = 3) -> tuple[float, float]:
    """(precision, recall) of fake features (M, D) against real ones (N, D), Kynkaanniemi et al. 2019.

    precision = share of fake points inside at least one real point's ball, of radius that real point's distance
    to its k-th nearest other real point; recall = the same with real and fake swapped. Exact: a KD-tree for the
    radii, then every ball is tested. Both sets need more than k samples.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a whole number >= 1 (the neighbour that sets each ball's radius), got {k!r}")
    real = _features(real, "real", k + 1)
    fake = _features(fake, "fake", k + 1)
    _same_width(real, fake, ("real", "fake"))
    precision = _share_inside(fake, real, _knn_radii(real, k))
    recall = _share_inside(real, fake, _knn_radii(fake, k))
    return precision, recall


def sample_quality(real, fake, k: int = 3) -> SampleQuality:
    """FD, precision and recall of fake features against real ones, with the sizes and k they were taken at."""
    precision, recall = precision_recall(real, fake, k)
    real, fake = np.asarray(real), np.asarray(fake)
    return SampleQuality(fd=frechet_distance(real, fake), precision=precision, recall=recall,
                         n_real=int(real.shape[0]), n_fake=int(fake.shape[0]), k=int(k))

