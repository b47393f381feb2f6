"""What the playground's scenes (scenes.py, image_scenes.py) are built of: numbers as binary arrays, point layers,
square ranges, curve series, and their colours."""
import numpy as np

from explorer.figures.binary_arrays import binary_array

ELLIPSES = 60  # posteriors drawn as ellipses
COLORS = {"data": "#1f77b4", "recon": "#ff7f0e", "samples": "#2ca02c", "kl": "#9467bd", "loss": "#111111",
          "recon_curve": "#d62728", "pull": "#888888", "code_step": "#d62728"}


def xy(a) -> dict:
    """(n, 2) coordinates as one f4 binary array."""
    return binary_array(np.asarray(a, dtype=np.float32).reshape(-1, 2), "f4")


def points(a, color: str, name: str, r: float = 1.6) -> dict:
    return {"type": "points", "xy": xy(a), "color": color, "name": name, "r": r}


def square_range(*arrays, pad: float = 0.15, at_least: float = 1.0) -> list[float]:
    """A square range around every finite point of `arrays`."""
    a = np.concatenate([np.asarray(x, dtype=np.float64).reshape(-1, 2) for x in arrays if x is not None])
    a = a[np.isfinite(a).all(1)]
    if not len(a):
        return [-at_least, at_least, -at_least, at_least]
    lo, hi = a.min(0), a.max(0)
    c, half = (lo + hi) / 2, max(float((hi - lo).max()) / 2 * (1 + pad), at_least)
    return [float(c[0] - half), float(c[0] + half), float(c[1] - half), float(c[1] + half)]


def series(name: str, values, color: str) -> dict:
    return {"name": name, "color": color, "y": binary_array(np.asarray(values, dtype=np.float32), "f4")}
