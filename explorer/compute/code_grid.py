"""VQ-VAE code grids: validate what users send, and edit grids without touching the original."""
import numpy as np

from explorer.errors import GridError


def _is_integer(v) -> bool:
    """True for ints and for floats with no fractional part (JSON clients send 3.0); never for bools."""
    if isinstance(v, (bool, np.bool_)):
        return False
    if isinstance(v, (int, np.integer)):
        return True
    return isinstance(v, (float, np.floating)) and bool(np.isfinite(v)) and float(v).is_integer()


def validate_grid(grid, side: int, num_codes: int) -> np.ndarray:
    """A (side, side) int64 array of indices in [0, num_codes), or GridError saying what is wrong."""
    try:
        a = np.asarray(grid, dtype=object)
    except Exception as e:  # ragged nesting
        raise GridError(f"code grid must be a {side}x{side} list of lists of integers ({e})") from e
    if a.shape != (side, side):
        raise GridError(f"code grid must be {side}x{side} (rows x columns), got shape {a.shape}")
    out = np.empty((side, side), dtype=np.int64)
    for (r, c), v in np.ndenumerate(a):
        if not _is_integer(v):
            raise GridError(f"code grid cell ({r}, {c}) is {v!r}: every cell must be an integer code index")
        if not 0 <= int(v) < num_codes:
            raise GridError(f"code grid cell ({r}, {c}) is {int(v)}: indices must be in 0..{num_codes - 1}")
        out[r, c] = int(v)
    return out


def set_cell(grid: np.ndarray, row: int, col: int, code: int) -> np.ndarray:
    """A copy of grid with cell (row, col) set to code."""
    out = np.array(grid, dtype=np.int64, copy=True)
    out[row, col] = code
    return out


def paint(grid: np.ndarray, code: int) -> np.ndarray:
    """A grid of the same shape holding `code` everywhere."""
    return np.full_like(np.asarray(grid, dtype=np.int64), code)
