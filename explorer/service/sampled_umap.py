"""UMAP of many points at a bounded cost: fit on a seeded random sample, then place the rest with `transform`.

A full UMAP fit grows with N (its k-NN graph and its epochs over every edge); above `above` points the fit runs on
`sample` of them, chosen by a seeded generator (the same points every run, so the cache stays reproducible), and
the others are placed by the fitted model in batches of `batch`: each batch's k nearest sample points in latent
space, then a short optimisation against the fixed sample embedding. Each batch reports its progress with an
estimate of the time left: (elapsed / points placed) * points left.
"""
import time

import numpy as np

SAMPLED = {"above": 20_000, "sample": 20_000, "batch": 10_000, "seed": 0}  # see benchmarks/map_scale_benchmark.py
FIT_SHARE = 0.5  # the share of UMAP's part of the progress bar for the fit on the sample; transforming gets the rest


def sampled_settings(n: int) -> dict:
    """What the cache key adds for n points: nothing at or below the threshold (caches made before stay valid)."""
    return {"sampled_umap": SAMPLED} if n > SAMPLED["above"] else {}


def seconds(s: float) -> str:
    return f"about {s:.0f} s left" if s < 120 else f"about {s / 60:.1f} min left"


def sampled_umap_2d(points: np.ndarray, settings: dict, start: float, progress) -> np.ndarray:
    """(N, 2) map of points: UMAP(**settings) fitted on SAMPLED["sample"] of them, the rest transformed. Progress
    runs from `start` to 1 (the bar's share before it is the encoding's)."""
    import umap  # slow import (numba): only here, never at app start

    n, m = len(points), min(SAMPLED["sample"], len(points))
    chosen = np.sort(np.random.default_rng(SAMPLED["seed"]).choice(n, size=m, replace=False))
    rest = np.setdiff1d(np.arange(n), chosen)
    span = 1.0 - start
    progress(start, f"UMAP of {n} points: compiling (numba, first run only) and fitting a sample of {m}")
    epochs = {"disable": False, "desc": f"UMAP of a {m}-point sample: epochs"}  # tqdm: followed by gr.Progress
    model = umap.UMAP(n_components=2, tqdm_kwds=epochs, **settings)
    out = np.empty((n, 2), dtype=np.float32)
    out[chosen] = model.fit_transform(points[chosen])
    nb = -(-len(rest) // SAMPLED["batch"])
    began = time.perf_counter()
    for b in range(nb):
        left = "estimating the time left" if b == 0 else seconds(
            (time.perf_counter() - began) / (b * SAMPLED["batch"]) * (len(rest) - b * SAMPLED["batch"]))
        progress(start + span * (FIT_SHARE + (1 - FIT_SHARE) * b / nb),
                 f"UMAP: transforming {len(rest)} points, batch {b + 1} of {nb}, {left}")
        part = rest[b * SAMPLED["batch"]:(b + 1) * SAMPLED["batch"]]
        out[part] = model.transform(points[part])
    progress(1.0, "UMAP done")
    return out
