"""The images a site shows, as one atlas per image set: every image at its own size in a grid of `cols` columns,
one PNG (grey or RGB). The page cuts a thumbnail or a test image out of it; models that show the same images share
it (named by a hash of the pixels).
"""
import hashlib
import math
from pathlib import Path

import numpy as np
from PIL import Image


def write_atlas(x: np.ndarray, out: Path) -> dict:
    """Write images x (N, C, H, W) uint8 as out/images/<hash>.png, once; the atlas's manifest entry."""
    x = np.ascontiguousarray(x, np.uint8)
    n, c, h, w = x.shape
    name = f"images/{hashlib.sha256(x.tobytes()).hexdigest()[:16]}.png"
    cols = math.ceil(math.sqrt(n))
    entry = {"file": name, "n": int(n), "cols": cols, "width": int(w), "height": int(h), "channels": int(c)}
    path = out / name
    if path.exists():
        return entry
    rows = math.ceil(n / cols)
    sheet = np.zeros((rows * h, cols * w, c), np.uint8)
    for i in range(n):
        r, k = divmod(i, cols)
        sheet[r * h:(r + 1) * h, k * w:(k + 1) * w] = np.moveaxis(x[i], 0, -1)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet[..., 0] if c == 1 else sheet).save(path, optimize=True)
    return entry
