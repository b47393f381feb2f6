"""A selection of test images (any size, up to the whole test set): validate it, export it, show it.

Exports hold, per selected image: index, label, label name, map position (x, y) and posterior mean z_0..z_{d-1};
as CSV (floats to 7 significant digits) and as NPZ (the same arrays, float32). Files are written once
(outputs.data_file). The selection's summary images: a gallery of the first MAX_GALLERY thumbnails, the pixel mean
of the selected images, the decode of their mean latent loc(z = mean_n mu(x_n)), and the mean of their decodes
1/M sum_m loc(z = mu(x_m)) over at most MAX_MEAN_DECODES of them (evenly spaced: M = min(N, 256)). A decode here is
the decoder's location loc(z) clamped to [0, 1] (VAE.decode_location, as the map shows), not the exact E[x|z].
"""
import gc
import io
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from explorer.errors import SelectionError
from vae_core.data.images import make_grid, to_uint8

MAX_GALLERY = 100
MAX_MEAN_DECODES = 256  # the mean of decodes over more would cost more than the view's time budget


@dataclass
class ExportTable:
    indices: np.ndarray  # (N,) int64 test image indices, ascending
    labels: np.ndarray  # (N,) int64, -1 when unlabelled
    label_names: np.ndarray  # (N,) str ("" when unnamed)
    coords: np.ndarray  # (N, 2) float32 map position
    latents: np.ndarray  # (N, d) float32 posterior means


@dataclass
class SelectionSummary:
    gallery: np.ndarray  # (H', W', C) uint8: thumbnails of the first MAX_GALLERY selected images, 10 per row
    shown: int  # images in the gallery
    total: int  # images selected
    mean_image: np.ndarray  # (C, H, W) pixel mean of the selected images, in [0, 1]
    mean_latent_decode: np.ndarray  # (C, H, W) the decoder's location at z = mean of the selected mu
    mean_of_decodes: np.ndarray  # (C, H, W) mean of the location at z = mu over `averaged` of the selected images
    averaged: int


def validate_indices(indices, n: int) -> np.ndarray:
    """The selection as sorted unique int64 indices in 0..n-1, or SelectionError saying what is wrong."""
    if isinstance(indices, (str, bytes)) or indices is None:
        raise SelectionError(f"a selection is a list of test image indices in 0..{n - 1}, got {indices!r}")
    try:
        a = np.asarray(list(indices) if not isinstance(indices, np.ndarray) else indices)
    except (TypeError, ValueError) as e:
        raise SelectionError(f"a selection is a list of test image indices in 0..{n - 1} ({e})") from e
    if a.size == 0:
        raise SelectionError("the selection is empty: select some points on the map first")
    if a.ndim != 1 or a.dtype.kind not in "iuf" or a.dtype == bool:
        raise SelectionError(f"a selection is a flat list of whole numbers in 0..{n - 1}")
    if a.dtype.kind == "f" and not (np.isfinite(a).all() and (a == np.round(a)).all()):
        raise SelectionError("a selection holds whole numbers only (no fractions, NaN or inf)")
    if a.min() < 0 or a.max() >= n:
        raise SelectionError(f"selected indices must lie in 0..{n - 1}, got {a.min():g}..{a.max():g}")
    return np.unique(a.astype(np.int64))


def export_table(latents: np.ndarray, coords: np.ndarray, labels: np.ndarray, names: list[str],
                 indices) -> ExportTable:
    idx = validate_indices(indices, len(latents))
    lab = np.asarray(labels, dtype=np.int64)[idx]
    named = np.array(list(names) + [""], dtype=str)  # label -1 (or beyond the names) -> ""
    return ExportTable(idx, lab, named[np.where((lab >= 0) & (lab < len(names)), lab, len(names))],
                       np.asarray(coords, np.float32)[idx], np.asarray(latents, np.float32)[idx])


def _csv_field(s: str) -> str:
    """RFC 4180 quoting: a field with a comma, quote or line break goes in quotes, its quotes doubled."""
    return f'"{s.replace(chr(34), chr(34) * 2)}"' if any(c in s for c in ',"\r\n') else s


@contextmanager
def gc_paused():
    """No cyclic garbage collection inside: formatting 10,000 rows allocates enough objects to set off full
    collections of the whole heap (a third of the time, p95 doubled), and it makes no reference cycles."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def to_csv(t: ExportTable) -> bytes:
    """index,label,label_name,x,y,z0..z{d-1}: one row per selected image."""
    with gc_paused():
        return _csv(t)


def _csv(t: ExportTable) -> bytes:
    d = t.latents.shape[1]
    head = ",".join(["index", "label", "label_name", "x", "y", *(f"z{k}" for k in range(d))])
    row = "%d,%d,%s," + ",".join(["%.7g"] * (2 + d))
    quoted = {s: _csv_field(s) for s in set(t.label_names.tolist())}
    nums = np.hstack([t.coords, t.latents]).astype(np.float64).tolist()
    lines = [row % (i, lab, quoted[s], *v) for i, lab, s, v in
             zip(t.indices.tolist(), t.labels.tolist(), t.label_names.tolist(), nums)]
    return ("\n".join([head, *lines]) + "\n").encode()


def to_npz(t: ExportTable) -> bytes:
    """The same arrays as the CSV: index, label, label_name, coords (N, 2), latents (N, d); no pickles. Not
    compressed: compressing halves the file for many times the time (docs/benchmarks.md)."""
    buf = io.BytesIO()
    np.savez(buf, index=t.indices, label=t.labels, label_name=t.label_names, coords=t.coords,
                        latents=t.latents)
    return buf.getvalue()


def evenly(idx: np.ndarray, m: int) -> np.ndarray:
    """At most m of idx, evenly spaced (all when there are m or fewer)."""
    return idx if len(idx) <= m else idx[np.linspace(0, len(idx) - 1, m).round().astype(np.int64)]


@torch.no_grad()
def selection_summary(model, x_test: np.ndarray, latents: np.ndarray, indices) -> SelectionSummary:
    """Gallery, pixel mean, decode of the mean latent and mean of decodes of a selection (see above)."""
    idx = validate_indices(indices, len(x_test))
    shown = idx[:MAX_GALLERY]
    thumbs = torch.from_numpy(x_test[shown]).float() / 255
    mean_image = x_test[idx].mean(0, dtype=np.float64) / 255
    mu = torch.from_numpy(np.asarray(latents, np.float32)[idx])
    mean_latent = model.decode_location(mu.mean(0, keepdim=True))[0]  # loc(z = mean_n mu_n)
    some = evenly(np.arange(len(idx)), MAX_MEAN_DECODES)
    mean_decodes = model.decode_location(mu[torch.from_numpy(some)]).mean(0)  # 1/M sum_m loc(z = mu_m)
    return SelectionSummary(to_uint8(make_grid(thumbs, nrow=min(10, len(shown)))), len(shown), len(idx),
                            mean_image.astype(np.float32), mean_latent.numpy(), mean_decodes.numpy(), len(some))
