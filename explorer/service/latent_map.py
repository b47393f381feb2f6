"""The Latent map tab's service: a VAE's test images on the map, what a click or a latent decodes to, the nearest
images, and selections. Each method checks what the user sent, then calls explorer/compute/ with the store's data.

A slow model (one with a preview decoder, or whose fastest full decode took over SLOW_SECONDS) is decoded in two
steps: `decode_preview` at once, `decode_full` when the page asks for it; a long one (a preview, or over
LONG_SECONDS) one full decode at a time across every visitor (each holds a core: two would leave none for the other
visitors' clicks). A test image's full decode is kept (`stored_reconstruction`) so that clicking it again shows it
at once.

A model's map may change while it is shown: its linear (PCA) map first, UMAP's once computed (store.py). Every
method that reads or gives map positions takes the `version` (the projection method) of the map they belong to:
a click made on the linear map is read on the linear map even after UMAP's has replaced it; without a version, the
map shown now.
"""
import threading
import time
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from explorer.compute.bounded_cache import BoundedCache
from explorer.compute.neighbours import Neighbours
from explorer.errors import LatentError, finite_position
from explorer.figures.pictures import DISPLAY, show
from explorer.service.export import ExportTable, SelectionSummary, export_table, selection_summary
from explorer.service.gpu import on_gpu
from explorer.service.map_note import click_note
from explorer.service.store import Store
from vae_core.data.images import make_grid, to_pil

SLOW_SECONDS = 0.1  # a model whose full decode takes longer is decoded off the server's event loop
LONG_SECONDS = 2.0  # and one whose full decode takes longer than this (or that has a preview), one at a time
STORED = 256  # full reconstructions of test images kept (of slow models)


@dataclass
class MapPoints:
    """What the map draws: every test image's position and label."""

    coords: np.ndarray  # (N, 2)
    labels: np.ndarray  # (N,) class indices (-1: unlabelled)
    label_names: list[str]
    method: str  # "umap", "pca" (the linear map shown until UMAP's), or "identity" for a 2-D latent as it is
    note: str = ""  # what the map is waiting for ("linear (PCA) map: UMAP is being computed, ..."), or ""


@dataclass
class MapPoint:
    """One test image on the map."""

    index: int
    latent: np.ndarray  # mu(x), (d,)
    xy: tuple[float, float]  # where the map draws it
    label_name: str  # its class, or "unlabelled"
    version: str  # the map xy is on (its projection method)


class LatentMapService:
    def __init__(self, store: Store):
        self.store = store
        self._seconds: dict[str, float] = {}  # each model's fastest full decode so far
        self._long_decode = threading.Lock()  # one long full decode at a time
        self._stored = BoundedCache(STORED)  # (name, index) -> full reconstruction

    def version(self, name: str) -> str:
        """The map shown now (its projection method)."""
        return self.store.latent_view(name).proj.method

    def points(self, name: str, version: str | None = None) -> MapPoints:
        view = self.store.latent_view(name, version=version)
        note = self.store.map_note(name) if view.proj.method == "pca" else ""
        return MapPoints(view.proj.coords, view.proj.labels, view.data.label_names, view.proj.method, note)

    def point(self, name: str, index: int, version: str | None = None) -> MapPoint:
        """Test image `index` on the map (its latent, position and class)."""
        self.store.image(name, index)  # checks the range
        view, i = self.store.latent_view(name, version=version), int(index)
        label, names = int(view.proj.labels[i]), view.data.label_names
        return MapPoint(i, view.proj.latents[i], tuple(float(c) for c in view.proj.coords[i]),
                        names[label] if 0 <= label < len(names) else "unlabelled", view.proj.method)

    def map_latent(self, name: str, index=None, x=None, y=None, version: str | None = None) -> np.ndarray:
        """The latent for a click on the map: test image `index`'s mu(x), or the inverse map at (x, y) of the map
        `version`."""
        if index is not None:
            return self.point(name, index).latent
        mapping = self.store.latent_view(name, version=version).mapping
        return mapping.to_latent(*finite_position(x, y, LatentError, "a map position"))

    def position(self, name: str, latent, version: str | None = None) -> tuple[float, float]:
        """Where the map `version` draws a latent (the marker of the current latent)."""
        x, y = self.store.latent_view(name, version=version).mapping.to_map(self.store.latent(name, latent))
        return float(x), float(y)

    def click_note(self, name: str, x: float, y: float, version: str | None = None) -> str:
        """The info line for a click at (x, y) on the map `version` that hit no point: which images its latent
        blends."""
        view = self.store.latent_view(name, version=version)
        x, y = finite_position(x, y, LatentError, "a map position")
        return click_note(view.mapping, x, y, view.proj.labels, view.data.label_names)

    @on_gpu(duration=20)
    @torch.no_grad()
    def decode_latent(self, name: str, latent, side: int = DISPLAY) -> Image.Image:
        """The decoder's location at z (clamped to [0, 1]), as an image."""
        model = self.store.model(name, "vae", "decode_latent")
        z = torch.tensor(self.store.latent(name, latent), dtype=torch.float32)[None]
        return show(model.decode_location(z)[0], side)

    def preview_label(self, name: str) -> str | None:
        """How VAE `name`'s preview images are labelled ("preview, 27.3 dB"), or None when it has no preview."""
        preview = self.store.model(name, "vae", "decode_latent").preview
        return None if preview is None else preview.label

    def is_slow(self, name: str) -> bool:
        """Whether VAE `name` is decoded in two steps (preview, then full) and off the event loop."""
        return self.preview_label(name) is not None or self._seconds.get(name, 0.0) > SLOW_SECONDS

    def is_long(self, name: str) -> bool:
        """Whether VAE `name`'s full decodes wait for each other and for other long models' (each holds a core for
        seconds: two would leave none for the other visitors). A decode that was slow only because the machine was
        busy (a small model first decoded while a large one runs) must not queue behind a large model's."""
        return self.preview_label(name) is not None or self._seconds.get(name, 0.0) > LONG_SECONDS

    @torch.no_grad()
    def decode_preview(self, name: str, latent) -> Image.Image | None:
        """The preview decoder's image at z, or None when VAE `name` has none."""
        preview = self.store.model(name, "vae", "decode_latent").preview
        if preview is None:
            return None
        z = torch.tensor(self.store.latent(name, latent), dtype=torch.float32)[None]
        return show(preview.decode_location(z)[0], 0)

    def decode_full(self, name: str, latent, index: int | None = None) -> tuple[Image.Image, float]:
        """The full decoder's image at z and the seconds it took (waiting for another slow decode not counted);
        with `index`, z is test image `index`'s mu and the image is kept as its stored reconstruction."""
        long = self.is_long(name)
        if long:
            self._long_decode.acquire()
        try:
            start = time.perf_counter()
            image = self.decode_latent(name, latent, side=0)
            seconds = time.perf_counter() - start
        finally:
            if long:
                self._long_decode.release()
        # a model's cost is its fastest decode: a busy machine slows every decode, and must not make a small model
        # slow for good
        self._seconds[name] = min(seconds, self._seconds.get(name, seconds))
        if index is not None:
            self._stored.get((name, int(index)), lambda: image)
        return image, seconds

    def stored_reconstruction(self, name: str, index: int) -> Image.Image | None:
        """Test image `index`'s full reconstruction when it was decoded before, else None."""
        key = (name, int(index))
        return self._stored.get(key, lambda: None) if key in self._stored else None

    @torch.no_grad()
    def manifold(self, name: str, n: int = 15) -> Image.Image | None:
        """For a 2-D latent: decodes over an n x n grid spanning the data's latent range."""
        model = self.store.model(name, "vae")
        if model.latent_dim != 2:
            return None
        lo, hi = np.percentile(self.store.latent_view(name).proj.latents, [1, 99], axis=0)
        xs, ys = np.linspace(lo[0], hi[0], n), np.linspace(hi[1], lo[1], n)  # top row = high y, as on the map
        z = torch.tensor([[x, y] for y in ys for x in xs], dtype=torch.float32)
        return to_pil(make_grid(model.decode_location(z), nrow=n, pad=0), 2)

    def neighbours(self, name: str, latent, k: int = 10, exclude: int | None = None) -> Neighbours:
        """The k test images nearest to `latent` in latent space (without image `exclude`)."""
        if exclude is not None:
            self.store.image(name, exclude)
        return self.store.posteriors(name).neighbours.query(self.store.latent(name, latent), k, exclude)

    def export_selection(self, name: str, indices) -> ExportTable:
        view = self.store.latent_view(name)
        return export_table(view.proj.latents, view.proj.coords, view.proj.labels, view.data.label_names, indices)

    def selection_summary(self, name: str, indices) -> SelectionSummary:
        view = self.store.latent_view(name)
        return selection_summary(self.store.model(name, "vae"), view.data.x_test, view.proj.latents, indices)
