"""Latent traversals: decode z with one dimension at a time set to values across the prior, -3..3 (its sigma is 1).
Each decode is the decoder's location clamped to [0, 1] (VAE.decode_location), as the map shows, not the exact E[x|z].

Row r varies dimension dims[r] (the top-k by KL: the dimensions the model uses), column c sets it to values[c];
every other dimension keeps its value in z:  z^(r, c) = z with z[dims[r]] = values[c]. For a latent with principal
directions (compute/directions.py), row r moves along direction r instead, its coefficient set to values[c] of that
direction's standard deviations:  z^(r, c) = z + (values[c] sd_r - a_r(z)) v_r.
"""
import io
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from explorer.errors import TraversalError
from vae_core.data.images import make_grid, to_uint8

SPAN = 3.0  # +- this many prior standard deviations
MAX_ROWS, MAX_STEPS = 16, 15


@dataclass
class Traversal:
    dims: np.ndarray  # (k,) the dimension varied in each row
    values: np.ndarray  # (n,) the values it is set to, -SPAN..SPAN
    images: np.ndarray  # (k, n, C, H, W) the decoder's locations in [0, 1]
    grid: np.ndarray  # (H', W', C) uint8: the decodes in k rows of n on a white background (2 px gaps)
    png: bytes  # the grid as a PNG file, for download


def check_count(value, limit: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= value <= limit:
        raise TraversalError(f"{what} must be a whole number in 1..{limit}, got {value!r}")
    return int(value)


def png_bytes(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb[..., 0] if rgb.shape[-1] == 1 else rgb).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def traversal_latents(z: np.ndarray, dims: np.ndarray, values: np.ndarray) -> np.ndarray:
    """(k * n, d): z^(r, c) = z with z[dims[r]] = values[c], row-major."""
    out = np.repeat(np.asarray(z, np.float32)[None], len(dims) * len(values), 0).reshape(len(dims), len(values), -1)
    out[np.arange(len(dims)), :, dims] = values  # each row r: its own dimension dims[r] across the columns
    return out.reshape(len(dims) * len(values), -1)


@torch.no_grad()
def traversal(model, z, dims_by_kl: np.ndarray, k: int = 4, steps: int = 7, span: float = SPAN,
              directions=None) -> Traversal:
    """The top-k dimensions of `dims_by_kl` (or the top-k `directions`) each set to `steps` values in -span..span,
    decoded."""
    rows = len(dims_by_kl) if directions is None else len(directions.vectors)
    k = check_count(k, min(MAX_ROWS, rows), "the number of dimensions")
    steps = check_count(steps, MAX_STEPS, "the number of steps")
    values = np.linspace(-span, span, steps)
    if directions is None:
        dims, latents = np.asarray(dims_by_kl[:k]), traversal_latents(z, np.asarray(dims_by_kl[:k]), values)
    else:
        dims = np.arange(k)
        latents = np.stack([directions.move(z, r, v * directions.sd[r]) for r in dims for v in values])
    x = model.decode_location(torch.from_numpy(latents.astype(np.float32)))
    grid = to_uint8(make_grid(x, nrow=steps))
    return Traversal(dims, values, x.numpy().reshape(k, steps, *x.shape[1:]), grid, png_bytes(grid))
