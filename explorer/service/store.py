"""What the explorer holds, shared by every tab and every browser session: the models (by name, with the kind check),
the images each shows, their projections and the posteriors the projections recorded. All read-only once computed;
what a person has selected lives in their session's state, never here.

The tab services (latent_map.py, maths.py, codes.py, generate.py, compare.py) ask the store for what they need and
call one function of explorer/compute/ with it.
"""
import threading
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from explorer.compute.bounded_cache import BoundedCache
from explorer.compute.directions import Directions, principal_directions
from explorer.compute.inverse import LatentMap
from explorer.compute.neighbours import NeighbourIndex
from explorer.compute.posterior import dims_by_kl, mean_kl_per_dim
from explorer.errors import DataUnavailable, IndexRangeError, LatentError
from explorer.figures.pictures import load_upload
from explorer.models import FoundModel, Model
from explorer.service.encoding import posterior_batch
from explorer.service.gpu import on_gpu
from explorer.service.image_sets import ImageSet, sample_dataset
from explorer.service.map_jobs import MapJobs
from explorer.service.parquet_images import GivenMap
from explorer.service.projection import (
    ENCODING,
    CodebookProjection,
    LatentCache,
    LatentProjection,
    batches,
    cache_path,
    encode,
    given_codes,
    given_latents,
    given_umap,
    load_or_compute,
    no_progress,
)
from explorer.service.registry import Registry
from explorer.service.sample_figures import checkpoint_note
from vae_core.data import Dataset, load_dataset, to_float
from vae_core.data.idx import DataError

MAX_ABS_LATENT = 50.0  # |z| beyond this is far outside N(0, I): refused as a likely mistake
POSTERIOR_CACHE = 16  # checkpoints whose test-set posteriors (and principal directions) are kept in memory
MAX_SLIDER_DIMS = 64  # latents with more numbers get sliders on their principal directions instead
KIND_NAMES = {"vae": "VAE", "vqvae": "VQ-VAE", "prior": "prior"}
PROGRESS_POLL = 0.25  # seconds between looks at another session's progress while it computes a projection


@dataclass
class LatentView:
    proj: LatentProjection
    mapping: LatentMap  # map position <-> latent
    data: Dataset


@dataclass
class Posteriors:
    mu: np.ndarray  # (N, d) float32 posterior means of the test images (= the projection's latents)
    sigma: np.ndarray  # (N, d) float32 posterior standard deviations
    neighbours: NeighbourIndex  # over mu


def validate_latent(values, dim: int) -> np.ndarray:
    try:
        z = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise LatentError(f"latent must be a list of {dim} numbers ({e})") from e
    if z.shape != (dim,):
        raise LatentError(f"latent must be a list of {dim} numbers, got shape {z.shape}")
    if not np.isfinite(z).all():
        raise LatentError("latent holds NaN or inf; send finite numbers")
    if np.abs(z).max() > MAX_ABS_LATENT:
        raise LatentError(f"latent values must lie within +-{MAX_ABS_LATENT:g} (the prior is N(0, I))")
    return z


class Store:
    def __init__(self, folders: list[str | Path], log=print, images=None, models: dict | None = None,
                 device: str = "auto", sample: int | None = None, background: bool = False, umap=None):
        """folders: where to find model folders; images: a path (--images) or an ImageSet shown by every model
        (else each shows its own test split); models: {name: (module, image_shape)} given from Python; device:
        where the models run (--device); sample: show a seeded random `sample` of the images (--sample); background:
        a VAE's map is linear (PCA) at once and UMAP follows from a background job (the app), else UMAP is computed
        before the map is returned (precompute, scripts); umap(points, progress) -> (N, 2): the map function
        (default projection.umap_2d)."""
        self.registry = Registry(folders, log, models, device)  # first: a device that is not here fails at once
        if images is not None and not isinstance(images, ImageSet):
            images = ImageSet(images, log, sample=sample)
        self.images, self.sample = images, sample
        self.log = log
        self.background, self._umap = background, umap
        self.jobs = MapJobs(log)
        self._data: dict[tuple, Dataset] = {}
        self._views: dict[str, object] = {}  # the view each model's map shows now
        self._versions: dict[tuple[str, str], LatentView] = {}  # every map a model has shown, by (name, method)
        self._progress: dict[str, tuple[float, str]] = {}  # a first computation's progress, for every session
        self._lock = threading.Lock()
        self._computing = defaultdict(threading.Lock)  # one projection computed once, even if asked for twice
        self._posteriors = BoundedCache(POSTERIOR_CACHE)
        self._directions = BoundedCache(POSTERIOR_CACHE)

    # --- the models, by name and kind: the one place that checks what kind a checkpoint is ------------------------
    def names(self, kind: str) -> list[str]:
        """The checkpoints of a kind ("vae" or "vqvae"), in the order found."""
        return self.registry.names(kind)

    def found(self, name: str) -> FoundModel:
        return self.registry.get(name)

    def model(self, name: str, kind: str | None = None, what: str = "this view") -> Model:
        """The model of checkpoint `name`; with `kind` ("vae" or "vqvae") it must be one, else a LatentError naming
        what needs which kind."""
        model = self.registry.model(name)
        self._check_kind(name, model.kind, kind, what)
        return model

    def cpu_model(self, name: str, kind: str | None = None, what: str = "this view") -> Model:
        """Model `name` on the CPU in float32, whatever the device (what the static site traces); `kind` as model()."""
        self._check_kind(name, self.found(name).kind, kind, what)
        return self.registry.cpu_model(name)

    @staticmethod
    def _check_kind(name: str, found: str, kind: str | None, what: str) -> None:
        if kind is not None and found != kind:
            raise LatentError(f"{name} is a {KIND_NAMES[found]}: {what} takes a {KIND_NAMES[kind]} checkpoint")

    def add_folder(self, path: str | Path) -> str:
        """Offer a model folder saved while the app runs (the Playground's save); its name."""
        return self.registry.add(path, self.log)

    def summary(self, name: str) -> str:
        """Markdown for the Models tab: what the model is, its recorded figures and its sample figures."""
        found = self.found(name)
        return f"{found.summary()}  \n{checkpoint_note(found)}"

    def sample_note(self, name: str) -> str:
        """One line: the sample figures checkpoint `name` recorded, or how to compute them."""
        return checkpoint_note(self.found(name))

    def history(self, name: str) -> list[dict]:
        return self.found(name).history()

    def missing(self, name: str, what: str) -> str | None:
        """One line saying why `what` (e.g. "decoder scale") is off for checkpoint `name`, or None."""
        return self.model(name).missing(what)

    # --- the images each model shows --------------------------------------------------------------------------
    def data(self, name: str) -> Dataset:
        """The test images checkpoint `name` shows: --images converted to its input when given, else its own test
        split."""
        found = self.found(name)
        if self.images:
            channels, size, _ = found.image_shape
            return self.images.dataset(channels, size)
        split = found.test_split()
        if split is None:
            raise DataUnavailable(f"{name} has no data set of its own (a diffusers model or a module from Python): "
                                  "start the app with --images PATH to show it images")
        with self._lock:
            if split not in self._data:
                try:
                    ds = load_dataset(split.data, split.data_dir, split.channels, split.image_size, split.seed,
                                      log=self.log)
                    self._data[split] = sample_dataset(ds, self.sample) if self.sample else ds
                except (DataError, FileNotFoundError) as e:
                    raise DataUnavailable(f"the data set of {name!r} ({split.data}) is not available: {e}") from e
            return self._data[split]

    def data_note(self, name: str) -> str:
        """One line on what --images held and what was changed to fit checkpoint `name` ("" without --images)."""
        channels, size, _ = self.found(name).image_shape
        return self.images.note(channels, size) if self.images else ""

    def image(self, name: str, index: int) -> torch.Tensor:
        """Test image `index` as a float batch of one (1, C, H, W), after checking the range."""
        x = self.data(name).x_test
        if not isinstance(index, (int, np.integer, float)) or index != int(index) or not 0 <= int(index) < len(x):
            raise IndexRangeError(f"image index must be an integer in 0..{len(x) - 1}, got {index!r}")
        return to_float(x[int(index):int(index) + 1])

    def stored_image(self, name: str, index) -> np.ndarray:
        """Test image `index` as stored (uint8, C x H x W), after checking the range."""
        self.image(name, index)
        return self.data(name).x_test[int(index)]

    def label_names(self, name: str) -> list[str]:
        return self.data(name).label_names

    def latent(self, name: str, values) -> np.ndarray:
        """A latent a user sent for VAE `name`, checked: d finite numbers within +-MAX_ABS_LATENT."""
        return validate_latent(values, self.model(name, "vae").latent_dim)

    def load_upload(self, name: str, source) -> tuple[torch.Tensor, str]:
        """An uploaded image fitted to checkpoint `name`'s input, as a float batch of one, and a note on what was
        changed."""
        channels, size, _ = self.found(name).image_shape
        a, note = load_upload(source, channels, size)
        return to_float(a[None]), note

    # --- projections and posteriors, computed once per checkpoint -------------------------------------------------
    def _projection(self, name: str, progress=no_progress):
        """The view shown now, computed when none is held yet. Every session asking meanwhile waits for the one that
        computes it and hears the same progress (fraction, what), polled from self._progress."""
        lock = self._computing[name]
        while not lock.acquire(timeout=PROGRESS_POLL):
            progress(*self._progress.get(name, (0.0, f"waiting while another session opens {name}")))
        try:
            if name not in self._views:
                def report(fraction: float, what: str) -> None:
                    self._progress[name] = (fraction, what)
                    progress(fraction, what)
                ds, found, model = self.data(name), self.found(name), self.model(name)
                given = self._given(name, model)
                if given is not None and model.kind == "vae":  # latents (and a map) encoded elsewhere: a Parquet's
                    proj = given_latents(found.folder, found.weights, given.latents, given.log_sigma, given.coords,
                                         ds.y_test)
                    self._show_first(name, proj, ds, report, lambda proj, report: given_umap(
                        found.folder, found.weights, proj, report, self._umap))
                elif given is not None:
                    self._views[name] = given_codes(found.folder, found.weights, model, given.latents, report)
                elif model.kind == "vae":
                    self._open_latent(name, ds, LatentCache.of(found.folder, found.weights, ds.x_test), report)
                else:
                    self._views[name] = load_or_compute(
                        found.folder, found.weights, model, ds.x_test, ds.y_test, log=self.log, progress=report,
                        encoded=lambda progress: self.encode_test_set(name, progress=progress))
        finally:
            self._progress.pop(name, None)
            lock.release()
        return self._views[name]

    def _given(self, name: str, model: Model) -> GivenMap | None:
        """The latents (and map) --images gives for this model, computed elsewhere (a Parquet's), or None."""
        if not self.images:
            return None
        if model.kind == "vae":
            return self.images.given_map(name, "vae", model.latent_dim)
        return self.images.given_map(name, "vqvae", model.grid_size ** 2, model.num_codes)

    @on_gpu(duration=60)
    def encode_test_set(self, name: str, progress=no_progress) -> tuple:
        """Checkpoint `name`'s test images through its encoder (projection.encode; a VQ-VAE's code grids): the heavy
        part of a projection, on the GPU on a ZeroGPU Space."""
        return encode(self.model(name), self.data(name).x_test, progress)

    @on_gpu(duration=60)
    def encode_batch(self, name: str, start: int, end: int) -> tuple:
        """q(z|x) of a VAE's test images start..end-1 (encoding.posterior_batch): one batch of its resumable encoding,
        on the GPU on a ZeroGPU Space (one GPU call per batch)."""
        return posterior_batch(self.model(name), self.data(name).x_test[start:end])

    def _open_latent(self, name: str, ds: Dataset, cache: LatentCache, progress) -> None:
        """A VAE's first map: the cached final one, else the linear one (encoding the images now), with UMAP then
        computed in the background (background=True) or here."""
        share = 1.0 if self.background else ENCODING  # of the progress bar for the encoding
        computed = []

        def encoding(fraction: float, what: str) -> None:
            computed.append(fraction)
            progress(share * fraction, what)
        proj = cache.first(self.model(name), ds.x_test, ds.y_test, self.log, encoding,
                           batch=lambda start, end: self.encode_batch(name, start, end))
        self._show_first(name, proj, ds, progress, lambda proj, report: cache.finish(proj, report, self._umap))
        if computed:
            progress(1.0, "map drawn")

    def _show_first(self, name: str, proj: LatentProjection, ds: Dataset, progress, finish) -> None:
        """Show a first map; a linear one (PCA) is redrawn by finish(proj, progress) (UMAP, cached): in the background
        (background=True), else before it is shown."""
        if proj.method == "pca" and not self.background:
            proj = finish(proj, progress)
        self._show(name, proj, ds)
        if proj.method == "pca":
            self.jobs.submit(name, lambda report: self._show(name, finish(proj, report), ds))

    def _show(self, name: str, proj: LatentProjection, ds: Dataset) -> None:
        """Show `proj` as model `name`'s map from now on; the map it replaces still answers clicks made on it."""
        view = LatentView(proj, LatentMap(proj.latents, proj.coords), ds)
        self._versions[(name, proj.method)] = view
        self._views[name] = view

    def latent_view(self, name: str, progress=no_progress, version: str | None = None) -> LatentView:
        """A VAE's test images on the map: projection, the map <-> latent mapping, the data; progress(fraction, what)
        hears how a first computation goes. The map shown now, or with `version` (a projection method: "pca",
        "umap", "identity") the map of that method when this model has shown one (a click made on the linear map
        while UMAP's replaced it)."""
        self.model(name, "vae", "the latent map")
        view = self._projection(name, progress)
        return self._versions.get((name, version), view) if version else view

    def map_note(self, name: str) -> str:
        """What the map of model `name` is waiting for, with the time left ("" when its final map is shown)."""
        return self.jobs.note(name)

    def map_pending(self, name: str) -> bool:
        """Whether a newer map of model `name` (UMAP's) is still to come."""
        return self.jobs.pending(name)

    def codebook_view(self, name: str, progress=no_progress) -> CodebookProjection:
        """A VQ-VAE's codebook on a map, with its test images' code grids and usage."""
        self.model(name, "vqvae", "the codebook map")
        return self._projection(name, progress)

    def cached_latent_view(self, name: str) -> LatentView | None:
        """latent_view(name) when its projection is in memory or cached on disk already, else None (nothing is
        computed)."""
        self.model(name, "vae", "the latent map")
        if name not in self._views:
            found = self.found(name)
            if found.weights is None or not cache_path(found.folder, found.weights, self.data(name).x_test,
                                                       "latent").exists():
                return None
        return self.latent_view(name)

    @torch.no_grad()
    def posteriors(self, name: str) -> Posteriors:
        """mu and sigma of every test image's q(z|x), as the projection recorded them (projections cached by an
        older version hold mu only: the test set is then encoded once more for sigma)."""
        def gather():
            model, proj = self.model(name, "vae"), self.latent_view(name).proj
            log_sigma = proj.log_sigma
            if log_sigma is None:
                xs = batches(self.data(name).x_test, 1000, "", no_progress)
                log_sigma = torch.cat([model.posterior(xb).log_sigma for xb in xs]).numpy()
            return Posteriors(proj.latents, np.exp(log_sigma), NeighbourIndex(proj.latents))
        return self._posteriors.get(name, gather)

    def directions(self, name: str) -> Directions | None:
        """For a latent of more than MAX_SLIDER_DIMS numbers, the top principal directions of its images' latents
        (what the sliders and the latent axes move); None when every dimension can have a slider of its own."""
        if self.model(name, "vae").latent_dim <= MAX_SLIDER_DIMS:
            return None
        return self._directions.get(name, lambda: principal_directions(self.latent_view(name).proj.latents))

    def dims_by_kl(self, name: str) -> np.ndarray:
        """Latent dimensions, the most active (mean KL over the test set) first: the order of the axis pickers."""
        return dims_by_kl(self.kl_per_dim(name))

    def kl_per_dim(self, name: str) -> np.ndarray:
        """Each latent dimension's mean KL(q(z_i|x) || N(0, 1)) over the test images (latents given without their
        widths: from the posteriors, encoded once for them)."""
        kl = self.latent_view(name).proj.kl_per_dim
        if kl is None:
            post = self.posteriors(name)
            kl = mean_kl_per_dim(post.mu, np.log(post.sigma))
        return kl
