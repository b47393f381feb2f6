"""--images maps.parquet: a Parquet table of images, one row each, and what else it holds for the map.

The images come from an `image` column (PNG or JPEG bytes, or Hugging Face's {bytes, path} struct) or, without one,
a `path` column of image files (relative paths: from the working folder, else from the Parquet's folder). Optional:
`label` (text or whole numbers; with `label_id` beside text, the ids name the classes), and precomputed latents:
`latent` (one list of numbers per row: a VAE's posterior mean mu(x), or a VQ-VAE's code grid, row by row),
`log_sigma` (the posterior's log standard deviations, same length) and map positions `x`, `y`. A model whose latent
fits takes them instead of encoding the images (store.py); the file's metadata may name that model (parquet_map.py
writes it). Columns are read one at a time and the images decoded a batch at a time: 70,000 rows are never held
twice. Unreadable images are skipped and counted, as in a folder; anything else amiss is an ImageSetError saying what
the file needs.
"""
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from explorer.errors import ImageSetError
from vae_core.data.folders import UNREADABLE, open_image

IMAGE, PATH, LABEL, LABEL_ID, LATENT, LOG_SIGMA, X, Y = "image", "path", "label", "label_id", "latent", "log_sigma", \
    "x", "y"
METADATA = b"vae_explorer"  # the schema's metadata key: JSON {"model": name, "kind": "vae" | "vqvae", ...}
EXPECTED = ("A Parquet for --images needs an 'image' column (PNG or JPEG bytes) or a 'path' column (image files), "
            "one row per image; optional: 'label' (text or whole numbers), 'latent' (one list of numbers per row, "
            "from the model's encoder) with 'log_sigma' beside it, and 'x', 'y' (map positions).")
BATCH = 4096  # rows decoded at a time


@dataclass
class GivenMap:
    """Latents (and map positions) computed elsewhere, for a model to take instead of encoding the images."""

    latents: np.ndarray  # (N, d) float32 posterior means, or (N, h * w) int64 code grids row by row
    log_sigma: np.ndarray | None  # (N, d) float32, or None (not given)
    coords: np.ndarray | None  # (N, 2) float32 map positions, or None (the model's map is fitted on the latents)
    model: str | None  # the model the file says they come from; None: any model whose latent fits

    @property
    def codes(self) -> bool:
        """Whether the latents are code grids (whole numbers) rather than a VAE's means."""
        return self.latents.dtype.kind in "iu"


@dataclass
class ParquetImages:
    images: list[np.ndarray]  # H x W (x 3) uint8 arrays, each its own size
    labels: np.ndarray | None  # (N,) int64, -1 for unlabelled; None: no label column
    label_names: list[str]
    paths: list[str] | None  # the `path` column, when there is one
    skipped: int  # unreadable images left out
    given: GivenMap | None


def _fail(path, what: str):
    raise ImageSetError(f"--images {path}: {what}. {EXPECTED}")


def read_parquet_images(path: Path) -> ParquetImages:
    """The rows of the Parquet at `path` (see above); an ImageSetError saying what is expected when it does not fit."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        f = pq.ParquetFile(path)
        names = f.schema_arrow.names
    except (pa.ArrowException, OSError) as e:
        _fail(path, f"not a readable Parquet file ({e})")
    if IMAGE not in names and PATH not in names:
        _fail(path, f"it has no 'image' or 'path' column (its columns: {', '.join(names) or 'none'})")
    if f.metadata.num_rows == 0:
        _fail(path, "it has no rows")
    def column(name):  # one column, read alone
        return f.read(columns=[name]).column(0).combine_chunks() if name in names else None

    try:
        images, keep = _images(f, path)
        labels, label_names = _labels(column(LABEL), column(LABEL_ID), path)
        paths = column(PATH).to_pylist() if PATH in names else None
        given = _given(f, names, column, path)
    except pa.ArrowException as e:
        _fail(path, f"a column could not be read ({e})")
    kept = np.flatnonzero(keep)
    if not len(kept):
        _fail(path, f"none of its {len(keep)} images is readable")
    if given is not None and len(kept) < len(keep):
        given = GivenMap(given.latents[kept], None if given.log_sigma is None else given.log_sigma[kept],
                         None if given.coords is None else given.coords[kept], given.model)
    return ParquetImages(images, None if labels is None else labels[kept], label_names,
                         None if paths is None else [paths[i] for i in kept], len(keep) - len(kept), given)


def _images(f, path: Path) -> tuple[list[np.ndarray], np.ndarray]:
    """Every readable image, decoded a batch at a time, and which rows were readable."""
    import pyarrow as pa

    source = IMAGE if IMAGE in f.schema_arrow.names else PATH
    images, keep = [], []
    for batch in f.iter_batches(batch_size=BATCH, columns=[source]):
        col = batch.column(0)
        if pa.types.is_struct(col.type):  # Hugging Face's image feature: {bytes, path}
            if col.type.get_field_index("bytes") < 0:
                _fail(path, f"its '{source}' column is a struct without a 'bytes' field")
            col = col.field("bytes")
        if source == IMAGE and not (pa.types.is_binary(col.type) or pa.types.is_large_binary(col.type)):
            _fail(path, f"its 'image' column holds {col.type}, not image bytes")
        if source == PATH and not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
            _fail(path, f"its 'path' column holds {col.type}, not text")
        for value in col.to_pylist():
            try:
                images.append(open_image(io.BytesIO(value) if source == IMAGE else _file(value, path)))
                keep.append(True)
            except (*UNREADABLE, TypeError):  # TypeError: a null
                keep.append(False)
    return images, np.array(keep)


def _file(value: str, parquet: Path) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() or p.exists() else parquet.parent / p


def _labels(label, label_id, path) -> tuple[np.ndarray | None, list[str]]:
    """Labels as int64 (-1: none) and their names, from `label` (text or numbers) and/or `label_id` (numbers)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def ids(col, what):
        if not pa.types.is_integer(col.type):
            _fail(path, f"its '{what}' column holds {col.type}; give whole numbers")
        return col.fill_null(-1).to_numpy().astype(np.int64)

    text = label is not None and (pa.types.is_string(label.type) or pa.types.is_large_string(label.type))
    if label_id is not None:
        y = ids(label_id, LABEL_ID)
        names = [str(i) for i in range(int(y.max()) + 1)]
        if text:
            for i, name in zip(y.tolist(), label.to_pylist()):
                if i >= 0 and name is not None:
                    names[i] = name
        return y, names
    if label is None:
        return None, []
    if text:
        names = sorted(pc.unique(label.drop_null()).to_pylist())
        index = pc.index_in(label, value_set=pa.array(names, label.type))
        return index.fill_null(-1).to_numpy().astype(np.int64), names
    y = ids(label, LABEL)
    return y, [str(i) for i in range(int(y.max()) + 1)]


def _lists(col, what: str, path) -> np.ndarray:
    """A column of equal-length lists of numbers as an (N, d) array."""
    import pyarrow as pa

    if not (pa.types.is_list(col.type) or pa.types.is_large_list(col.type) or pa.types.is_fixed_size_list(col.type)):
        _fail(path, f"its '{what}' column holds {col.type}; give one list of numbers per row")
    if col.null_count:
        _fail(path, f"its '{what}' column has {col.null_count} empty rows; give a list for every row")
    lengths = np.unique(col.value_lengths().to_numpy())
    if len(lengths) != 1 or lengths[0] == 0:
        _fail(path, f"its '{what}' lists have {', '.join(map(str, lengths[:4]))} numbers; give the same number "
                    "(the model's latent size) in every row")
    values = col.flatten()
    if values.null_count or not (pa.types.is_floating(values.type) or pa.types.is_integer(values.type)):
        _fail(path, f"its '{what}' lists hold {values.type}{' with nulls' if values.null_count else ''}; give numbers")
    a = values.to_numpy(zero_copy_only=False).reshape(len(col), int(lengths[0]))
    if a.dtype.kind == "f":
        if not np.isfinite(a).all():
            _fail(path, f"its '{what}' column holds NaN or inf")
        return a.astype(np.float32)
    return a.astype(np.int64)


def _given(f, names, column, path) -> GivenMap | None:
    """The precomputed latents, their widths and map positions, when the file has a 'latent' column."""
    if (X in names) != (Y in names):
        _fail(path, "it has one of 'x' and 'y'; give both map positions or neither")
    if LATENT not in names:
        return None
    latents = _lists(column(LATENT), LATENT, path)
    log_sigma = _lists(column(LOG_SIGMA), LOG_SIGMA, path) if LOG_SIGMA in names else None
    if log_sigma is not None and (log_sigma.shape != latents.shape or latents.dtype.kind != "f"):
        _fail(path, f"its 'log_sigma' lists have {log_sigma.shape[1]} numbers beside 'latent' lists of "
                    f"{latents.shape[1]} {'numbers' if latents.dtype.kind == 'f' else 'codes'}; give one per number")
    coords = None
    if X in names:
        xy = [column(c) for c in (X, Y)]
        if any(c.null_count for c in xy) or not all(c.type.id == xy[0].type.id for c in xy):
            _fail(path, "its 'x' and 'y' columns need a number in every row")
        try:
            coords = np.stack([c.to_numpy().astype(np.float32) for c in xy], axis=1)
        except (TypeError, ValueError):
            _fail(path, f"its 'x' and 'y' columns hold {xy[0].type}; give numbers")
        if not np.isfinite(coords).all():
            _fail(path, "its 'x' and 'y' columns hold NaN or inf")
    meta = (f.schema_arrow.metadata or {}).get(METADATA)
    try:
        model = json.loads(meta).get("model") if meta else None
    except (ValueError, AttributeError):
        model = None
    return GivenMap(latents, log_sigma, coords, model)
