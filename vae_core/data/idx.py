"""Read IDX files (the MNIST format), gzipped or raw.

Header: two zero bytes, a type code (0x08 = uint8), the number of dimensions, then each size as big-endian int32.
"""
import gzip
from pathlib import Path

import numpy as np


class DataError(ValueError):
    """A data set that cannot be read; the message says what to do."""


def read_idx(path: str | Path) -> np.ndarray:
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise DataError(f"{path}: cannot read ({e}); delete it and fetch the file again") from e
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path}: not an IDX file of uint8 (bad header {raw[:4].hex()}); is it the right file?")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim < 1 or len(raw) < header:
        raise DataError(f"{path}: IDX header is truncated")
    shape = tuple(int(s) for s in np.frombuffer(raw[4:header], dtype=">i4"))
    expected = int(np.prod(shape))
    if len(raw) - header != expected:
        raise DataError(
            f"{path}: IDX header says shape {shape} ({expected} bytes) but the file holds {len(raw) - header}; "
            "the file is corrupt or truncated: delete it and fetch it again"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape).copy()


def find_idx_pair(folder: Path, split: str) -> tuple[Path, Path | None] | None:
    """(images, labels or None) for split 'train' or 'test' ('t10k') in folder, or None if absent."""
    prefixes = ("train",) if split == "train" else ("t10k", "test")

    def pick(kind: str) -> Path | None:
        for p in sorted(folder.iterdir()):
            n = p.name.lower()
            if n.startswith(prefixes) and kind in n and ("idx" in n or "ubyte" in n):
                return p
        return None

    images = pick("images")
    return (images, pick("labels")) if images else None
