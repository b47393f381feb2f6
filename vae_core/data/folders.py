"""Read a folder of images (class sub-folders become labels) or an .npz with `x` (and optional `y`)."""
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .idx import DataError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}
UNREADABLE = (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError)  # open_image's


def open_image(source) -> np.ndarray:
    """An image file (a path or a binary file object) as an H x W (grey) or H x W x 3 (RGB) uint8 array; any other
    mode (palette, alpha, CMYK) becomes RGB. Raises one of UNREADABLE when it is not a readable image."""
    with Image.open(source) as im:
        im = im.convert("RGBA").convert("RGB") if im.mode not in ("L", "RGB") else im.convert(im.mode)
        return np.asarray(im)


def image_files(folder: Path) -> list[Path]:
    """The image files under `folder` (any depth), in the order read_image_folder reads them."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def list_image_folder(folder: Path) -> tuple[list[Path], list[int], list[str]]:
    """(image files, sorted; label of each, -1 without class folders; label names), without opening a file."""
    files = image_files(folder)
    if not files:
        raise DataError(f"{folder}: no images found (looked for {sorted(IMAGE_SUFFIXES)}); point --data at a "
                        "folder of images, with one sub-folder per class for labels")
    classes = sorted({p.parent.relative_to(folder).parts[0] for p in files if p.parent != folder})
    labels = [classes.index(p.relative_to(folder).parts[0]) if p.parent != folder else -1 for p in files]
    if classes and min(labels) < 0:
        raise DataError(f"{folder}: some images lie beside the class folders; move them into a class folder")
    return files, labels, classes


def read_image_folder(folder: Path, skip=None) -> tuple[list[np.ndarray], np.ndarray | None, list[str]]:
    """(images as HxWxC uint8 arrays, labels or None, label names). Sub-folders are classes. An unreadable file is a
    DataError, or, given `skip`, is left out and passed to skip(path)."""
    files, all_labels, classes = list_image_folder(folder)
    images, labels = [], []
    for p, label in zip(files, all_labels):
        try:
            images.append(open_image(p))
        except UNREADABLE as e:
            if skip:
                skip(p)
                continue
            raise DataError(f"{p}: not a readable image ({e}); remove it from the folder") from e
        labels.append(label)
    return images, (np.array(labels, dtype=np.int64) if classes else None), classes


def fit_image(im: np.ndarray, channels: int, size: int) -> tuple[np.ndarray, bool]:
    """One H x W (x 3) image as (channels, size, size) uint8, bilinear (PIL widens it to an area filter when
    shrinking); and whether it was resized."""
    pil = Image.fromarray(im)
    resized = pil.size != (size, size)
    if resized:
        pil = pil.resize((size, size), Image.BILINEAR)
    a = np.asarray(pil.convert("L" if channels == 1 else "RGB"))
    return (a[None] if channels == 1 else a.transpose(2, 0, 1)), resized


def stack_images(images: list[np.ndarray], channels: int | None, size: int | None) -> tuple[np.ndarray, str]:
    """Stack HxW(xC) arrays into (N, C, S, S) uint8, resizing and converting; returns a note of what changed."""
    if channels is None:
        channels = 3 if any(im.ndim == 3 for im in images) else 1
    if size is None:
        (h, w), _ = Counter(im.shape[:2] for im in images).most_common(1)[0]
        size = max(8, (min(h, w) // 4) * 4)
    out, resized = np.empty((len(images), channels, size, size), dtype=np.uint8), 0
    for i, im in enumerate(images):
        out[i], r = fit_image(im, channels, size)
        resized += r
    note = f"resized {resized} of {len(images)} images to {size}x{size}" if resized else ""
    return out, note


def read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: not a readable .npz without pickles ({e})") from e
    if "x" not in arrays:
        raise DataError(f"{path}: an .npz data set needs an array 'x' of images (and optionally 'y' of labels); "
                        f"found {sorted(arrays)}")
    return arrays


def to_nchw_uint8(x: np.ndarray, where: str) -> np.ndarray:
    """(N, H, W), (N, H, W, C) or (N, C, H, W), uint8 or float in [0, 1] -> (N, C, H, W) uint8."""
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4 and x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):
        x = x.transpose(0, 3, 1, 2)
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise DataError(f"{where}: images must be shaped (N, H, W), (N, H, W, C) or (N, C, H, W) with C in 1 or 3; "
                        f"got {x.shape}")
    if x.dtype != np.uint8:
        x = x.astype(np.float64)
        if not np.isfinite(x).all():
            raise DataError(f"{where}: images hold NaN or inf")
        if x.max() > 1.0:
            x = x / 255.0
        x = np.clip(np.round(x * 255), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(x)
