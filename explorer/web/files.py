"""Image files the app hands out: each written once, atomically, under a name no other response uses.

Gradio's own path for a PIL image output (`save_pil_to_cache`) names the file by a hash of its bytes and rewrites it
in place on every call: two identical requests at once share one file, and the second truncates it while the first
response is still streaming it (`h11 LocalProtocolError: Too little data for declared Content-Length`). Here every
output gets its own folder in the Gradio cache and is written to a temporary name, then renamed into place, so a
file that has been handed out never changes size; Gradio serves a path inside its cache as it is. The cache sweeper
(cache.py) removes it only once it is older than the sweep age (30 minutes), far beyond the longest response.
"""
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from explorer.service.export import ExportTable, to_csv, to_npz
from explorer.service.parquet_map import write_map
from explorer.service.store import Store


def png_file(image: Image.Image, cache_dir: str | Path) -> str:
    """Write `image` as <cache_dir>/vx-<random>/image.png (temporary name, then rename); return the path."""
    folder = Path(cache_dir) / f"vx-{uuid.uuid4().hex}"
    folder.mkdir(parents=True)
    path, tmp = folder / "image.png", folder / ".image.png.tmp"
    image.save(tmp, format="PNG", compress_level=1)
    os.replace(tmp, path)  # atomic: a reader sees no file or the whole file
    return str(path)


def data_file(data: bytes, filename: str, cache_dir: str | Path) -> str:
    """Write `data` as <cache_dir>/vx-<random>/<filename> (temporary name, then rename), once; return the path.
    For downloads (CSV, NPZ, PNG bytes): the file name is what the browser saves it as."""
    if Path(filename).name != filename or filename.startswith("."):
        raise ValueError(f"a plain file name is needed, got {filename!r}")
    folder = Path(cache_dir) / f"vx-{uuid.uuid4().hex}"
    folder.mkdir(parents=True)
    path, tmp = folder / filename, folder / f".{filename}.tmp"
    tmp.write_bytes(data)
    os.replace(tmp, path)  # atomic: a reader sees no file or the whole file
    return str(path)


@dataclass
class ExportFiles:
    csv: str  # paths of files written once (data_file)
    npz: str
    rows: int


def export_files(table: ExportTable, name: str, cache_dir) -> ExportFiles:
    """A selection of checkpoint `name` as CSV and NPZ files, each written once under cache_dir (for downloads)."""
    stem = f"{name.replace('/', '-')}-selection-{len(table.indices)}"
    return ExportFiles(data_file(to_csv(table), f"{stem}.csv", cache_dir),
                       data_file(to_npz(table), f"{stem}.npz", cache_dir), len(table.indices))


def map_file(store: Store, name: str, cache_dir, progress) -> str:
    """Checkpoint `name`'s map as <cache_dir>/vx-<random>/<name>-map.parquet (parquet_map.write_map: temporary name,
    then rename), for a download; its path."""
    folder = Path(cache_dir) / f"vx-{uuid.uuid4().hex}"
    folder.mkdir(parents=True)
    return str(write_map(store, name, folder / f"{name.replace('/', '-')}-map.parquet", progress))
