"""UMAP of many points at a bounded cost: fit on a seeded random sample, then place the rest with `transform`.

A full UMAP fit grows with N (its k-NN graph and its epochs over every edge); above `above` points the fit runs on
`sample` of them, chosen by a seeded generator (the same points every run, so the cache stays reproducible), and
the others are placed in batches of `batch` where their k = `near` nearest sample points in latent space lie on the
map, blended with inverse-distance weights (a KD-tree over the sample's latents):
    p(z) = sum_i w_i p_i / sum_i w_i,   w_i = 1 / (||z - z_i|| + eps)^2,   i over the k nearest sample points z_i
UMAP's own `transform` starts from this blend and then optimises each batch against the sample for a few epochs:
measured at 70,000 Fashion-MNIST latents, it took 4 times as long as the full fit it was to replace, while the blend
takes seconds and keeps the map's trustworthiness (benchmarks/map_scale_benchmark.py). Each batch reports its
progress with an estimate of the time left: (elapsed / points placed) * points left.
"""
import time

import numpy as np
from scipy.spatial import cKDTree

SAMPLED = {"above": 20_000, "sample": 20_000, "batch": 10_000, "near": 10, "seed": 0}  # map_scale_benchmark
FIT_SHARE = 0.5  # the share of UMAP's part of the progress bar for the fit on the sample; placing gets the rest


def sampled_settings(n: int) -> dict:
    """What the cache key adds for n points: nothing at or below the threshold (caches made before stay valid)."""
    return {"sampled_umap": SAMPLED} if n > SAMPLED["above"] else {}


def seconds(s: float) -> str:
    return f"about {s:.0f} s left" if s < 120 else f"about {s / 60:.1f} min left"


def sampled_umap_2d(points: np.ndarray, settings: dict, start: float, progress, tqdm_kwds: dict | None = None
                    ) -> np.ndarray:
    """(N, 2) map of points: UMAP(**settings) fitted on SAMPLED["sample"] of them, the rest placed by the blend above.
    Progress runs from `start` to 1 (the bar's share before it is the encoding's); `tqdm_kwds` go to UMAP's epochs
    bar."""
    import umap  # slow import (numba): only here, never at app start

    n, m = len(points), min(SAMPLED["sample"], len(points))
    chosen = np.sort(np.random.default_rng(SAMPLED["seed"]).choice(n, size=m, replace=False))
    rest = np.setdiff1d(np.arange(n), chosen)
    span = 1.0 - start
    progress(start, f"UMAP of {n} points: compiling (numba, first run only) and fitting a sample of {m}")
    epochs = {"disable": False, "desc": f"UMAP of a {m}-point sample: epochs", **(tqdm_kwds or {})}
    model = umap.UMAP(n_components=2, tqdm_kwds=epochs, **settings)
    out = np.empty((n, 2), dtype=np.float32)
    out[chosen] = model.fit_transform(points[chosen])
    tree, k = cKDTree(points[chosen]), min(SAMPLED["near"], m)
    nb = -(-len(rest) // SAMPLED["batch"])
    began = time.perf_counter()
    for b in range(nb):
        left = "estimating the time left" if b == 0 else seconds(
            (time.perf_counter() - began) / (b * SAMPLED["batch"]) * (len(rest) - b * SAMPLED["batch"]))
        progress(start + span * (FIT_SHARE + (1 - FIT_SHARE) * b / nb),
                 f"UMAP: placing {len(rest)} more points, batch {b + 1} of {nb}, {left}")
        part = rest[b * SAMPLED["batch"]:(b + 1) * SAMPLED["batch"]]
        d, near = tree.query(points[part], k=k)  # (b, k) distances and sample rows, nearest first
        d, near = d.reshape(len(part), k), near.reshape(len(part), k)
        w = 1.0 / (d + 1e-6 * (1 + np.median(d, axis=1, keepdims=True))) ** 2  # w_i
        out[part] = (w[:, :, None] * out[chosen][near]).sum(1) / w.sum(1, keepdims=True)
    progress(1.0, "UMAP done")
    return out
