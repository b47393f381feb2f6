"""What the playground's scenes (scenes.py, image_scenes.py) are built of: numbers as binary arrays, point layers,
grids and arrows, square ranges, curve series, and their colours."""
import math

import numpy as np

from explorer.figures.binary_arrays import binary_array

ELLIPSES = 60  # posteriors drawn as ellipses
COLORS = {"data": "#1f77b4", "recon": "#ff7f0e", "samples": "#2ca02c", "kl": "#9467bd", "loss": "#111111",
          "recon_curve": "#d62728", "pull": "#888888", "code_step": "#d62728", "grid": "#9aa5b1",
          "step": "#111111"}
ARROW_LENGTH = 0.25  # a step's arrows are drawn this long (data units, the median arrow) by a power of ten


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


def grid(g, color: str, name: str) -> dict:
    """A (rows, cols, 2) grid of points as the polylines through its rows and its columns (the canvas draws both)."""
    g = np.asarray(g, dtype=np.float32)
    return {"type": "grid", "xy": xy(g), "rows": int(g.shape[0]), "cols": int(g.shape[1]), "color": color,
            "name": name}


def arrow_scale(move) -> float:
    """The power of ten (at least 1) that draws the median of the arrows `move` (n, 2) about ARROW_LENGTH long."""
    m = float(np.median(np.linalg.norm(np.asarray(move, dtype=np.float64).reshape(-1, 2), axis=1))) if len(move) \
        else 0.0
    if not math.isfinite(m) or m <= 0:
        return 1.0
    return float(10 ** max(0, round(math.log10(ARROW_LENGTH / m))))


def step_arrows(step_move: dict) -> dict:
    """The reconstructions' moves over one step as arrows from where they were, scaled by arrow_scale."""
    k = arrow_scale(step_move["move"])
    times = f" x{k:g}" if k > 1 else ""
    return {"type": "arrows", "xy": xy(step_move["from"]), "d": xy(k * np.asarray(step_move["move"])),
            "color": COLORS["step"], "name": f"each reconstruction's move over step {step_move['step']}{times}",
            "scale": k, "role": "step"}
