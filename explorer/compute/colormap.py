"""Arrays -> RGB heat maps, without matplotlib: viridis (matplotlib's, 9 anchors, linearly interpolated)."""
import numpy as np

# matplotlib's viridis at 0, 1/8, ..., 1
VIRIDIS = np.array([
    [0.267004, 0.004874, 0.329415], [0.282623, 0.140926, 0.457517], [0.253935, 0.265254, 0.529983],
    [0.206756, 0.371758, 0.553117], [0.163625, 0.471133, 0.558148], [0.127568, 0.566949, 0.550556],
    [0.134692, 0.658636, 0.517649], [0.266941, 0.748751, 0.440573], [0.993248, 0.906157, 0.143936],
])


def heat_map(values: np.ndarray, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """(H, W) numbers -> (H, W, 3) uint8: t = (v - lo) / (hi - lo) clipped to [0, 1], coloured by viridis
    (lo, hi default to the array's min and max; a constant array is coloured as t = 0)."""
    v = np.asarray(values, dtype=np.float64)
    lo = float(np.nanmin(v)) if lo is None else float(lo)
    hi = float(np.nanmax(v)) if hi is None else float(hi)
    t = np.clip((v - lo) / (hi - lo), 0.0, 1.0) if hi > lo else np.zeros_like(v)
    t = np.nan_to_num(t, nan=0.0)
    pos = t * (len(VIRIDIS) - 1)
    k = np.minimum(pos.astype(np.int64), len(VIRIDIS) - 2)
    frac = (pos - k)[..., None]
    rgb = VIRIDIS[k] * (1 - frac) + VIRIDIS[k + 1] * frac  # linear between the two anchors around t
    return (rgb * 255).round().astype(np.uint8)


def enlarge(rgb: np.ndarray, factor: int) -> np.ndarray:
    """Each pixel as a factor x factor block (sharp pixels for display)."""
    return np.repeat(np.repeat(rgb, factor, axis=0), factor, axis=1)
