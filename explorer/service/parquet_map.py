"""One model's map as a Parquet file: a row per image, for Embedding Atlas (`embedding-atlas m.parquet --x x --y y`),
pandas (`pd.read_parquet`) and the app itself (`--images m.parquet` opens the map again without encoding).

Columns: index, x, y (the map position), label (the class name, null when unlabelled), label_id (-1 when
unlabelled), latent (a VAE's posterior mean mu(x) as list<float32>, or a VQ-VAE's code grid row by row as
list<int32>), log_sigma (a VAE's posterior log standard deviations), image (PNG bytes of the image as the model
sees it, at most THUMBNAIL pixels a side) and path (each image's file, when the images came from files). A VQ-VAE's
x, y is the mean codebook-map position of the image's codes. The schema's metadata names the model (parquet_images.py
reads it back). Rows are written ROWS at a time, to a temporary name renamed into place when complete.
"""
import io
import json
import os
from pathlib import Path

import numpy as np
from PIL import Image

from explorer.service.parquet_images import IMAGE, LABEL, LABEL_ID, LATENT, LOG_SIGMA, METADATA, PATH, X, Y
from explorer.service.projection import no_progress
from explorer.service.store import Store

THUMBNAIL = 64  # the longest side of an image in the file; larger images are shrunk to it
ROWS = 10_000  # rows per row group: the PNGs of one group are held at a time


def png(image: np.ndarray) -> bytes:
    """A (C, H, W) uint8 image as PNG bytes, shrunk to THUMBNAIL pixels on its longest side when larger."""
    im = Image.fromarray(image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0))
    if max(im.size) > THUMBNAIL:
        im.thumbnail((THUMBNAIL, THUMBNAIL), Image.BILINEAR)
    buf = io.BytesIO()
    im.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def map_rows(store: Store, name: str) -> dict:
    """What the file holds for checkpoint `name`, as arrays: coords (N, 2), labels (N,), names, latents (N, k),
    log_sigma (N, d) or None, the images (N, C, H, W), their paths or None, and the model's kind and map method."""
    kind = store.model(name).kind
    if kind == "vae":
        view = store.latent_view(name)
        proj, data = view.proj, view.data
        log_sigma = proj.log_sigma if proj.log_sigma is not None else np.log(store.posteriors(name).sigma)
        coords, latents, labels, method = proj.coords, proj.latents, proj.labels, proj.method
    else:
        cb, data = store.codebook_view(name), store.data(name)
        latents = cb.grids.reshape(len(cb.grids), -1).astype(np.int32)
        coords = cb.coords[latents].mean(1)  # mean map position of the image's codes
        labels, log_sigma, method = data.y_test, None, f"mean position of the codes on the codebook {cb.method}"
    labels = np.full(len(latents), -1) if labels is None else np.asarray(labels, np.int64)
    return {"coords": np.asarray(coords, np.float32), "labels": labels, "names": list(data.label_names),
            "latents": latents, "log_sigma": log_sigma, "images": data.x_test,
            "paths": store.images.paths() if store.images else None, "kind": kind, "method": method}


def _lists(a: np.ndarray):
    """An (N, k) array as an Arrow list<...> column (one list of k numbers per row)."""
    import pyarrow as pa

    offsets = np.arange(0, a.size + 1, a.shape[1], dtype=np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(np.ascontiguousarray(a).reshape(-1)))


def write_map(store: Store, name: str, path: str | Path, progress=no_progress) -> Path:
    """Write checkpoint `name`'s map (its projection, computed first if need be) to `path` as Parquet; progress hears
    each row group. Returns the path."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows, path = map_rows(store, name), Path(path)
    n, names = len(rows["latents"]), rows["names"]
    text = np.array([*names, None], dtype=object)  # -1, or an id beyond the names: null
    ids = rows["labels"]
    label = text[np.where((ids >= 0) & (ids < len(names)), ids, len(names))]
    meta = {METADATA: json.dumps({"model": name, "kind": rows["kind"], "map": rows["method"]}).encode()}
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = None
    try:
        for start in range(0, n, ROWS):
            progress(start / n, f"writing {name}'s map: rows {start + 1} to {min(n, start + ROWS)} of {n}")
            part = slice(start, start + ROWS)
            columns = {"index": pa.array(np.arange(n)[part]), X: pa.array(rows["coords"][part, 0]),
                       Y: pa.array(rows["coords"][part, 1]), LABEL: pa.array(label[part], pa.string()),
                       LABEL_ID: pa.array(ids[part]), LATENT: _lists(rows["latents"][part])}
            if rows["log_sigma"] is not None:
                columns[LOG_SIGMA] = _lists(np.asarray(rows["log_sigma"][part], np.float32))
            columns[IMAGE] = pa.array([png(im) for im in rows["images"][part]], pa.binary())
            if rows["paths"] is not None:
                columns[PATH] = pa.array(rows["paths"][part], pa.string())
            table = pa.table(columns).replace_schema_metadata(meta)
            writer = writer or pq.ParquetWriter(tmp, table.schema)
            writer.write_table(table)
        writer.close()
        os.replace(tmp, path)  # a reader sees no file or the whole file
    finally:
        tmp.unlink(missing_ok=True)
    progress(1.0, f"{name}'s map written")
    return path
