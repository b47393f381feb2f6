"""A user's own images (`python app.py --images PATH`), read once and converted to each model's input.

PATH takes one of five forms: a folder of images (class sub-folders become labels), an `.npz` with `x` (and
optional `y`), a folder of IDX files, a vae_core data set name (its test split), or a `.parquet` table of images
(parquet_images.py: which may also give a model's latents and map). vae_core/data reads the first four forms;
this module checks the form at start (a bad PATH stops the app with a message), leaves unreadable image files out
(counted, never a crash), and converts the images to a model's channels (grey <-> RGB) and size, once per
(channels, size), with a one-line note of what was changed. The converted images are a vae_core `Dataset` whose
test split is the whole set, so every view reads them as it reads a checkpoint's own test images. A folder is read
as a stream: its files are listed (and their sizes read from their headers) first, then each image is decoded and
converted at once, so a folder of large images never sits in memory at full size. `--sample N` keeps a seeded
random N of the images (the same N every run), chosen before any image of a folder is decoded.
"""
import threading
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image

from explorer.errors import ImageSetError
from explorer.service.parquet_images import GivenMap, read_parquet_images
from vae_core.data import NAMED, Dataset, conform, load_dataset
from vae_core.data.folders import (
    IMAGE_SUFFIXES,
    UNREADABLE,
    fit_image,
    list_image_folder,
    open_image,
    read_npz,
    stack_images,
    to_nchw_uint8,
)
from vae_core.data.idx import DataError, find_idx_pair, read_idx

NAMES = (*NAMED, "digits")  # the data sets vae_core knows by name
FORMS = ("--images takes a folder of images (class sub-folders become labels), an .npz with 'x' (and optional "
         f"'y'), a folder of IDX files, a data set name ({', '.join(NAMES)}), or a .parquet with an 'image' (PNG or "
         "JPEG bytes) or 'path' column")
SAMPLE_SEED = 0  # --sample N: the seed of the images chosen


def sample_indices(n: int, k: int | None, seed: int = SAMPLE_SEED) -> np.ndarray:
    """Sorted indices of a seeded random k of n items (all of them when k is None or k >= n)."""
    if k is None or k >= n:
        return np.arange(n)
    if k < 1:
        raise ImageSetError(f"--sample takes a positive number of images, got {k}")
    return np.sort(np.random.default_rng(seed).choice(n, size=k, replace=False))


def sample_dataset(ds: Dataset, k: int) -> Dataset:
    """The data set with a seeded random k of its test images (--sample k)."""
    keep = sample_indices(len(ds.x_test), k)
    return replace(ds, x_test=ds.x_test[keep], y_test=None if ds.y_test is None else ds.y_test[keep])


@dataclass
class RawImages:
    """The images as read, before any conversion."""

    images: np.ndarray | list[np.ndarray] | list[Path]  # (N, C, H, W) uint8, H x W (x 3) arrays, or a folder's files
    labels: np.ndarray  # (N,) int64, -1 for unlabelled
    label_names: list[str]
    skipped: int = 0  # unreadable files left out
    file_shapes: list[tuple[int, int, int]] | None = None  # (channels, height, width) of each file, from its header
    paths: list[str] | None = None  # each image's file, when they came from files
    given: GivenMap | None = None  # latents (and a map) computed elsewhere: a Parquet's

    def shapes(self) -> list[tuple[int, int, int]]:
        """(channels, height, width) of every image."""
        if self.file_shapes is not None:
            return self.file_shapes
        if isinstance(self.images, np.ndarray):
            return [self.images.shape[1:]] * len(self.images)
        return [(3 if im.ndim == 3 else 1, *im.shape[:2]) for im in self.images]


def image_form(spec: str | Path) -> str:
    """Which of the five forms `spec` is ("name", "npz", "idx", "folder" or "parquet"), from a cheap look at it (no
    image is read); an ImageSetError naming the five forms when it is none of them."""
    if str(spec) in NAMES:
        return "name"
    path = Path(spec).expanduser()
    if not path.exists():
        raise ImageSetError(f"{spec}: not found. {FORMS}")
    if path.is_file() and path.suffix.lower() in (".npz", ".parquet"):
        return path.suffix.lower()[1:]
    if path.is_dir():
        if idx_images(path):
            return "idx"
        if any(p.suffix.lower() in IMAGE_SUFFIXES and p.is_file() for p in path.rglob("*")):
            return "folder"
        raise ImageSetError(f"{spec}: a folder with neither images ({', '.join(sorted(IMAGE_SUFFIXES))}) nor IDX "
                            f"files in it. {FORMS}")
    raise ImageSetError(f"{spec}: neither a folder nor an .npz or .parquet file. {FORMS}")


def idx_images(folder: Path) -> tuple[Path, Path | None] | None:
    """The IDX (images, labels or None) of a folder: its test split, else its training split, else any file named
    like "*images*idx*" (labels: the same name with "labels")."""
    pair = find_idx_pair(folder, "test") or find_idx_pair(folder, "train")
    if pair:
        return pair
    for p in sorted(folder.iterdir()):
        n = p.name.lower()
        if p.is_file() and "images" in n and ("idx" in n or "ubyte" in n):
            labels = p.with_name(p.name.replace("images", "labels"))
            return p, (labels if labels.is_file() else None)
    return None


def _labels(y: np.ndarray | None, n: int, where: str) -> tuple[np.ndarray, list[str]]:
    """Labels as int64 (-1 for none) and names "0".."max" for numbered classes."""
    if y is None:
        return np.full(n, -1, dtype=np.int64), []
    y = np.asarray(y).reshape(-1)
    if len(y) != n:
        raise ImageSetError(f"{where}: {len(y)} labels for {n} images; give one label per image")
    y = y.astype(np.int64)
    return y, [str(i) for i in range(int(y.max()) + 1)] if n and y.max() >= 0 else []


def list_folder(path: Path, sample: int | None, log=print) -> RawImages:
    """A folder's images (a seeded sample of them) as files with their shapes read from their headers; files that
    are not images (or are truncated) are left out and counted. The images are decoded later, one at a time
    (convert)."""
    files, labels, classes = list_image_folder(path)
    keep = sample_indices(len(files), sample)
    kept, kept_labels, shapes, skipped = [], [], [], 0
    for i in keep:
        try:
            with Image.open(files[i]) as im:  # the header, and the file's integrity (verify: no decoding)
                shape = (1 if im.mode in ("L", "1", "I;16", "I", "F") else 3, im.height, im.width)
                im.verify()
            shapes.append(shape)
        except UNREADABLE:
            skipped += 1
            if skipped <= 3:
                log(f"--images: skipped {files[i]}: not a readable image")
            continue
        kept.append(files[i])
        kept_labels.append(labels[i])
    y = np.array(kept_labels, dtype=np.int64) if classes else None
    return RawImages(kept, _labels(y, len(kept), str(path))[0], classes, skipped=skipped, file_shapes=shapes,
                     paths=[str(p) for p in kept])


def read_images(spec: str | Path, form: str, log=print, sample: int | None = None) -> RawImages:
    """The images of `spec` in `form` (see image_form), as read (a folder: listed); unreadable image files are left
    out and counted; with `sample`, a seeded random `sample` of them."""
    path = Path(spec).expanduser()
    try:
        if form == "name":
            ds = load_dataset(str(spec), log=log)
            y, _ = _labels(ds.y_test, len(ds.x_test), str(spec))
            raw = RawImages(ds.x_test, y, list(ds.label_names))
        elif form == "npz":
            a = read_npz(path)
            x = to_nchw_uint8(a["x"], str(path))
            raw = RawImages(x, *_labels(a.get("y"), len(x), f"{path} 'y'"))
        elif form == "idx":
            images, labels = idx_images(path)
            x = to_nchw_uint8(read_idx(images), str(images))
            raw = RawImages(x, *_labels(read_idx(labels) if labels else None, len(x), str(labels)))
        elif form == "parquet":
            t = read_parquet_images(path)
            y, names = _labels(t.labels, len(t.images), str(path))
            raw = RawImages(_stacked(t.images), y, t.label_names if t.labels is not None else names, t.skipped,
                            paths=t.paths, given=t.given)
        else:
            raw = list_folder(path, sample, log)
    except DataError as e:
        raise ImageSetError(f"--images {spec}: {e}") from e
    if not len(raw.images):
        skipped = f" ({raw.skipped} unreadable files skipped)" if raw.skipped else ""
        raise ImageSetError(f"--images {spec}: no images to show{skipped}. {FORMS}")
    if form != "folder" and sample is not None:
        raw = take(raw, sample_indices(len(raw.images), sample))
    return raw


def take(raw: RawImages, keep: np.ndarray) -> RawImages:
    """The images at indices `keep`, with their labels, files and given latents (--sample)."""
    g = raw.given
    given = None if g is None else replace(g, latents=g.latents[keep],
                                           log_sigma=None if g.log_sigma is None else g.log_sigma[keep],
                                           coords=None if g.coords is None else g.coords[keep])
    images = raw.images[keep] if isinstance(raw.images, np.ndarray) else [raw.images[i] for i in keep]
    return replace(raw, images=images, labels=raw.labels[keep], given=given,
                   paths=None if raw.paths is None else [raw.paths[i] for i in keep])


def _stacked(images: list[np.ndarray]) -> np.ndarray | list[np.ndarray]:
    """Images of one shape as one (N, C, H, W) array (converted as an .npz's are); of mixed shapes, the list."""
    if len({im.shape for im in images}) != 1:
        return images
    x = np.stack(images)
    return np.ascontiguousarray(x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2))


def convert(raw: RawImages, channels: int, size: int) -> np.ndarray:
    """(N, channels, size, size) uint8. Arrays go through vae_core's `conform` (the conversion its trainer applies:
    antialiased bilinear resizing, grey = 0.299 R + 0.587 G + 0.114 B, RGB = grey thrice); a folder's images, each of
    its own size, through PIL (`stack_images`: bilinear, which PIL widens to an area filter when shrinking)."""
    if isinstance(raw.images, np.ndarray):
        return conform(raw.images, channels, size)
    if raw.file_shapes is None:
        return stack_images(raw.images, channels, size)[0]
    out = np.zeros((len(raw.images), channels, size, size), dtype=np.uint8)
    for i, path in enumerate(raw.images):  # one image decoded at a time
        try:
            out[i] = fit_image(open_image(path), channels, size)[0]
        except UNREADABLE as e:  # a header that reads but a body that does not
            raise ImageSetError(f"--images: {path} is damaged ({e}); remove it from the folder") from e
    return out


def _sizes(shapes) -> str:
    sizes = Counter(f"{w}x{h}" for _, h, w in shapes)  # width x height, as image sizes are written
    return next(iter(sizes)) if len(sizes) == 1 else f"mixed sizes (mostly {sizes.most_common(1)[0][0]})"


def _colours(shapes) -> str:
    names = sorted({"RGB" if c == 3 else "grey" for c, _, _ in shapes})
    return " and ".join(names)


def conversion_note(raw: RawImages, spec, channels: int, size: int) -> str:
    """One line: how many images, from where, what was changed to fit (channels, size), and how many files were
    unreadable, e.g. "1,234 images from PATH, resized from 64x64 RGB to 28x28 grey; 3 unreadable files skipped"."""
    shapes = raw.shapes()
    target = f"{size}x{size} {'RGB' if channels == 3 else 'grey'}"
    resized = any((h, w) != (size, size) for _, h, w in shapes)
    recoloured = any(c != channels for c, _, _ in shapes)
    if resized or recoloured:
        change = f"{'resized' if resized else 'converted'} from {_sizes(shapes)} {_colours(shapes)} to {target}"
    else:
        change = f"{target} as the model takes them, unchanged"
    skipped = f"; {raw.skipped:,} unreadable file{'s' if raw.skipped != 1 else ''} skipped" if raw.skipped else ""
    return f"{len(shapes):,} images from {spec}, {change}{skipped}"


class ImageSet:
    """The images of `--images spec` for every model: the form checked now, the images read on first use, and one
    converted Dataset (with its note) per (channels, size), all thread-safe."""

    def __init__(self, spec: str | Path, log=print, sample: int | None = None):
        self.spec, self.log, self.sample = str(spec), log, sample
        self.form = image_form(spec)  # raises ImageSetError now: a bad PATH stops the app at start
        self._raw: RawImages | None = None
        self._converted: dict[tuple[int, int], tuple[Dataset, str]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_arrays(cls, x, y=None, names: list[str] | None = None, name: str = "images", log=print) -> "ImageSet":
        """Images given from Python: x (N, C, H, W) or (N, H, W) as uint8, or floats in [0, 1]; y (N,) optional
        integer labels, named by `names`."""
        x = np.asarray(x)
        if x.dtype != np.uint8:
            if not np.isfinite(x).all() or x.min() < 0 or x.max() > 1:
                raise ImageSetError("images given as floats must lie in [0, 1]; give uint8 for 0..255")
            x = np.round(x * 255).astype(np.uint8)
        if x.ndim == 3:
            x = x[:, None]
        if x.ndim != 4 or x.shape[1] not in (1, 3) or len(x) == 0:
            raise ImageSetError(f"images must be an array (N, C, H, W) with C = 1 or 3 (or (N, H, W)), got {x.shape}")
        labels, label_names = _labels(None if y is None else np.asarray(y), len(x), name)
        self = cls.__new__(cls)
        self.spec, self.log, self.form, self.sample = name, log, "arrays", None
        self._raw = RawImages(x, labels, list(names) if names is not None else label_names)
        self._converted, self._lock = {}, threading.Lock()
        return self

    def _read(self) -> RawImages:
        with self._lock:
            if self._raw is None:
                self._raw = read_images(self.spec, self.form, self.log, self.sample)
            return self._raw

    def _get(self, channels: int, size: int) -> tuple[Dataset, str]:
        self._read()
        with self._lock:
            key = (int(channels), int(size))
            if key not in self._converted:
                raw, x = self._raw, convert(self._raw, *key)
                note = conversion_note(raw, self.spec, *key)
                empty = x[:0]  # no training split: the views read x_test, the whole set
                ds = Dataset(Path(self.spec).name or self.spec, empty, None, x, raw.labels, list(raw.label_names),
                             source=note)
                self._converted[key] = (ds, note)
                self.log(f"--images: {note}")
            return self._converted[key]

    def dataset(self, channels: int, size: int) -> Dataset:
        """The images converted to channels x size x size, as the test split of a Dataset (labels -1: unlabelled)."""
        return self._get(channels, size)[0]

    def note(self, channels: int, size: int) -> str:
        """What `dataset(channels, size)` changed, in one line."""
        return self._get(channels, size)[1]

    def paths(self) -> list[str] | None:
        """Each image's file (a folder's, or a Parquet's 'path' column), in the order of the images; else None."""
        return self._read().paths

    def given_map(self, name: str, kind: str, size: int, codes: int = 0) -> GivenMap | None:
        """The latents (and map) a Parquet gives for model `name` of `kind` ("vae": `size` numbers; "vqvae": a code
        grid of `size` cells, codes below `codes`), or None: the model encodes the images itself. A file that names
        the model must fit it (else an ImageSetError); one that names none is taken by every model it fits."""
        given = self._read().given
        if given is None or given.model not in (None, name):
            return None
        want = f"{size} {'codes (its code grid, row by row)' if kind == 'vqvae' else 'numbers'}"
        have = f"{given.latents.shape[1]} {'codes' if given.codes else 'numbers'}"
        fits = given.latents.shape[1] == size and given.codes == (kind == "vqvae")
        if fits and given.codes and not (given.latents.min() >= 0 and given.latents.max() < codes):
            raise ImageSetError(f"--images {self.spec}: its 'latent' codes lie in {given.latents.min()}.."
                                f"{given.latents.max()}, but {name} has codes 0..{codes - 1}; write them with this "
                                "model's encoder")
        if fits:
            self.log(f"--images: {name} takes the file's latents{' and map' if given.coords is not None else ''} "
                     "(no encoding)")
            return given
        if given.model is not None:
            raise ImageSetError(f"--images {self.spec}: its 'latent' rows hold {have}, but {name} (the model the file "
                                f"was written for) takes {want}; write the file again with this model")
        self.log(f"--images: the file's latents ({have}) do not fit {name} ({want}): it encodes the images itself")
        return None
