"""One loader for every data set the trainer and the explorer take.

`load_dataset(spec)` accepts a name (`fashion-mnist`, `mnist`, `digits`) or a path (a folder of IDX files,
a folder of images, an `.npz`) and returns a `Dataset` of uint8 images shaped (N, C, H, W). `hold_out` takes a
seeded validation split out of its training split (data/validation.py).
"""
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .download import cache_dir, download
from .folders import read_image_folder, read_npz, stack_images, to_nchw_uint8
from .idx import DataError, find_idx_pair, read_idx
from .validation import VALIDATION_STREAM, validation_size

FASHION_LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                  "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
NAMED = {"fashion-mnist": FASHION_LABELS, "mnist": [str(i) for i in range(10)]}
SYSTEM_DIR = Path("/usr/share/datasets")


@dataclass
class Dataset:
    name: str
    x_train: np.ndarray  # (N, C, H, W) uint8
    y_train: np.ndarray | None
    x_test: np.ndarray
    y_test: np.ndarray | None
    label_names: list[str] = field(default_factory=list)
    source: str = ""  # where it was found, for humans
    x_val: np.ndarray | None = None  # held out of the training split by hold_out (None: no validation split)
    y_val: np.ndarray | None = None

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])

    def split(self, which: str) -> tuple[np.ndarray, np.ndarray | None]:
        """(images, labels) of "train", "validation" or "test"."""
        if which == "validation":
            if self.x_val is None:
                raise DataError(f"{self.name} has no validation split: hold one out with vae_core.data.hold_out")
            return self.x_val, self.y_val
        return (self.x_train, self.y_train) if which == "train" else (self.x_test, self.y_test)

    def describe(self) -> str:
        c, h, w = self.image_shape
        labels = f", {len(self.label_names)} classes" if self.label_names else ", no labels"
        val = f" / {len(self.x_val)} validation" if self.x_val is not None else ""
        return (f"{self.name}: {len(self.x_train)} train{val} / {len(self.x_test)} test images of {c}x{h}x{w}"
                f"{labels}, from {self.source}")


def to_float(x: np.ndarray, device="cpu") -> torch.Tensor:
    """uint8 (N, C, H, W) -> float in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(x)).to(device).float().div_(255.0)


def conform(x: np.ndarray, channels: int, size: int) -> np.ndarray:
    """Convert uint8 images to `channels` (grey <-> RGB) and `size`x`size` (area/bilinear resampling)."""
    if x.shape[1] == 3 and channels == 1:
        x = np.round(np.tensordot(x.astype(np.float32), [0.299, 0.587, 0.114], axes=([1], [0])))[:, None]
    elif x.shape[1] == 1 and channels == 3:
        x = np.repeat(x, 3, axis=1)
    if x.shape[2:] != (size, size):
        t = F.interpolate(torch.from_numpy(x.astype(np.float32)), size=(size, size), mode="bilinear",
                          antialias=True, align_corners=False)
        x = t.round().clamp(0, 255).numpy()
    return np.ascontiguousarray(x.astype(np.uint8))


def seeded_split(x, y, seed: int, test_fraction: float = 0.1):
    n = len(x)
    if n < 2:
        raise DataError(f"need at least 2 images to make a train/test split, found {n}")
    perm = np.random.default_rng(seed).permutation(n)
    n_test = max(1, round(n * test_fraction))
    test, train = perm[:n_test], perm[n_test:]
    return x[train], (y[train] if y is not None else None), x[test], (y[test] if y is not None else None)


def _from_idx_folder(folder: Path, name: str, label_names: list[str]) -> Dataset | None:
    train, test = find_idx_pair(folder, "train"), find_idx_pair(folder, "test")
    if not train or not test:
        return None
    x_tr, y_tr = read_idx(train[0]), (read_idx(train[1]).astype(np.int64) if train[1] else None)
    x_te, y_te = read_idx(test[0]), (read_idx(test[1]).astype(np.int64) if test[1] else None)
    for x, y, p in ((x_tr, y_tr, train[1]), (x_te, y_te, test[1])):
        if y is not None and len(y) != len(x):
            raise DataError(f"{p}: {len(y)} labels for {len(x)} images")
    if not label_names and y_tr is not None:
        label_names = [str(i) for i in range(int(y_tr.max()) + 1)]
    return Dataset(name, to_nchw_uint8(x_tr, str(train[0])), y_tr, to_nchw_uint8(x_te, str(test[0])), y_te,
                   label_names, f"{folder} (IDX)")


def local_folder(name: str, data_dir: str = "") -> Path | None:
    """The folder holding named set `name`'s IDX files on this machine (data_dir, /usr/share/datasets, the download
    cache: where load_dataset looks before downloading), or None."""
    candidates = [Path(data_dir) / name, Path(data_dir)] if data_dir else []
    for folder in candidates + [SYSTEM_DIR / name, cache_dir() / name]:
        if folder.is_dir() and find_idx_pair(folder, "train") and find_idx_pair(folder, "test"):
            return folder
    return None


def _named(name: str, data_dir: str, log) -> Dataset:
    folder = local_folder(name, data_dir) or download(name, cache_dir() / name, log=log)
    return _from_idx_folder(folder, name, NAMED[name])


def _digits(seed: int) -> Dataset:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = np.round(d.images * (255.0 / 16.0)).astype(np.uint8)[:, None]
    x_tr, y_tr, x_te, y_te = seeded_split(x, d.target.astype(np.int64), seed, 0.2)
    return Dataset("digits", x_tr, y_tr, x_te, y_te, [str(i) for i in range(10)],
                   "scikit-learn's bundled 8x8 digits (seeded 80/20 split)")


DATA_HINT = "--data takes fashion-mnist, mnist, digits, a folder of IDX files, a folder of images or an .npz file"


def _from_path(path: Path, seed: int, channels, size) -> Dataset:
    if not path.exists():
        raise DataError(f"{path}: not found. {DATA_HINT}")
    if path.suffix == ".npz":
        a = read_npz(path)
        x = to_nchw_uint8(a["x"], str(path))
        y = a["y"].astype(np.int64) if "y" in a else None
        if y is not None and len(y) != len(x):
            raise DataError(f"{path}: {len(y)} labels in 'y' for {len(x)} images in 'x'")
        if "x_test" in a:
            x_te = to_nchw_uint8(a["x_test"], str(path))
            y_te = a["y_test"].astype(np.int64) if "y_test" in a else None
            split = (x, y, x_te, y_te)
            how = "its own x_test"
        else:
            split, how = seeded_split(x, y, seed), "seeded 90/10 split"
        names = [str(i) for i in range(int(y.max()) + 1)] if y is not None else []
        return Dataset(path.stem, *split, names, f"{path} (.npz, {how})")
    if not path.is_dir():
        raise DataError(f"{path}: neither a folder nor an .npz file. {DATA_HINT}")
    ds = _from_idx_folder(path, path.name, [])
    if ds:
        return ds
    images, labels, classes = read_image_folder(path)
    x, note = stack_images(images, channels, size)
    note = f", {note}" if note else ""
    return Dataset(path.name, *seeded_split(x, labels, seed), classes,
                   f"{path} (image folder{note}, seeded 90/10 split)")


def load_dataset(spec: str, data_dir: str = "", channels: int | None = None, image_size: int | None = None,
                 seed: int = 0, log=print) -> Dataset:
    """Load a data set by name or path; images converted to `channels` and `image_size` when given."""
    if spec in NAMED:
        ds = _named(spec, data_dir, log)
    elif spec == "digits":
        ds = _digits(seed)
    else:
        ds = _from_path(Path(spec).expanduser(), seed, channels, image_size)
    c, h, _ = ds.image_shape
    channels, image_size = channels or c, image_size or max(8, (h // 4) * 4)
    if (channels, image_size) != (c, h) or ds.image_shape[1] != ds.image_shape[2]:
        ds.x_train, ds.x_test = conform(ds.x_train, channels, image_size), conform(ds.x_test, channels, image_size)
        ds.source += f"; converted to {channels}x{image_size}x{image_size}"
    return ds


def hold_out(ds: Dataset, size: int, seed: int) -> Dataset:
    """A copy of `ds` whose training split lacks `size` images, seeded by `seed`: they are its validation split
    (x_val, y_val). Both keep the images' order; size 0 leaves the training split whole, with no validation split."""
    if size <= 0:
        return ds
    n = len(ds.x_train)
    if size >= n:
        raise DataError(f"cannot hold out {size} of {n} training images for validation: pass a smaller "
                        "--validation (0: none)")
    perm = np.random.default_rng([seed, VALIDATION_STREAM]).permutation(n)
    val, train = np.sort(perm[:size]), np.sort(perm[size:])
    y = ds.y_train
    return dataclasses.replace(ds, x_train=ds.x_train[train], y_train=None if y is None else y[train],
                               x_val=ds.x_train[val], y_val=None if y is None else y[val])


__all__ = ["DataError", "Dataset", "conform", "download", "hold_out", "load_dataset", "local_folder", "read_idx",
           "to_float", "validation_size"]
