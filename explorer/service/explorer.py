"""Everything the app's views and API endpoints ask of the models, as methods of one `Explorer` (no Gradio here).

One `Explorer` serves all browser sessions: it holds read-only things (checkpoints, data sets, projections, and
bounded caches of what it computed); what a person has selected lives in their session's state, never here.
Every method follows one pattern: check what the user sent, then call one function of explorer/compute/ (or of
sampling.py, projection.py, export.py) with the model and the data. The maths lives there, not here.
"""
import threading
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from explorer.compute.bounded_cache import BoundedCache
from explorer.compute.code_grid import validate_grid
from explorer.compute.decoder import DecoderOutput, decoder_output
from explorer.compute.directions import DIRECTIONS, Directions, principal_directions
from explorer.compute.fit_images import fit
from explorer.compute.interpolation import linear_path, slerp_path
from explorer.compute.inverse import LatentMap
from explorer.compute.montecarlo import IWAE_K, MonteCarlo, check_samples, iwae_bound, monte_carlo
from explorer.compute.neighbours import NeighbourIndex, Neighbours
from explorer.compute.plane import plane_axes, plane_latent, project
from explorer.compute.posterior import LatentAxes, click_latent, dims_by_kl, latent_axes
from explorer.compute.prior_hole import PriorHole, prior_hole
from explorer.compute.quantization import Quantization, quantization
from explorer.compute.traversal import Traversal, traversal
from explorer.errors import (
    DataUnavailable,
    IndexRangeError,
    LatentError,
    MissingCapability,
    UserError,
    finite_position,
)
from explorer.figures.pictures import DISPLAY, error_map, load_upload, show, strip
from explorer.service import sampling
from explorer.service.export import ExportTable, SelectionSummary, export_table, selection_summary, validate_indices
from explorer.service.image_sets import ImageSet
from explorer.service.projection import CodebookProjection, LatentProjection, batches, load_or_compute, no_progress
from explorer.service.registry import Registry
from explorer.service.sampling import Samples, SampleSettings
from explorer.service.url_state import ViewState, from_query_lenient
from vae_core.data import Dataset, load_dataset, to_float
from vae_core.data.idx import DataError
from vae_core.data.images import make_grid, to_pil
from vae_core.evaluation.metrics import psnr

MAX_ABS_LATENT = 50.0  # |z| beyond this is far outside N(0, I): refused as a likely mistake
MAX_ELLIPSES = 100  # selected posteriors drawn as ellipses (the first ones of a larger selection)
IWAE_CACHE = 4096  # IWAE bounds kept, per (checkpoint, image, seed)
POSTERIOR_CACHE = 16  # checkpoints whose test-set posteriors are kept in memory
QUANTIZATION_CACHE = 64  # quantisations kept, per (checkpoint, test image)
PRIOR_SAMPLES = 500  # z drawn from each prior for the Maths tab's point sets and its prior-hole shares
MAX_SLIDER_DIMS = 64  # latents with more numbers get sliders on their principal directions instead
KIND_NAMES = {"vae": "VAE", "vqvae": "VQ-VAE", "prior": "prior"}


@dataclass
class LatentView:
    proj: LatentProjection
    mapping: LatentMap
    data: Dataset


@dataclass
class Posteriors:
    mu: np.ndarray  # (N, d) float32 posterior means of the test images (= the projection's latents)
    sigma: np.ndarray  # (N, d) float32 posterior standard deviations
    neighbours: NeighbourIndex  # over mu


@dataclass
class Reconstruction:
    """One image reconstructed by a VAE and a VQ-VAE: the images shown, |error| maps, MSE and PSNR (dB). The VAE's
    reconstruction is the decoder's location at z = mu(x) (not E[x|z]); MSE and PSNR are measured on it."""

    original: Image.Image
    vae: Image.Image
    vqvae: Image.Image
    vae_error: Image.Image
    vqvae_error: Image.Image
    vae_mse: float
    vae_psnr: float
    vqvae_mse: float
    vqvae_psnr: float


@dataclass
class Interpolation:
    """Decodes along paths between two test images, each a row of images."""

    linear: Image.Image  # VAE: z(t) = (1 - t) z_a + t z_b
    spherical: Image.Image  # VAE: slerp between z_a and z_b
    vq: Image.Image  # VQ-VAE: quantise((1 - t) z_e(a) + t z_e(b))


@dataclass
class RestoredState:
    state: ViewState  # what the URL asked for, with what does not fit the models dropped
    messages: list[str]  # one line per value dropped, for the page to show


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


class Explorer:
    def __init__(self, folders: list[str | Path], log=print, images=None, models: dict | None = None):
        """folders: where to find model folders; images: a path (--images) or an ImageSet shown by every model
        (else each shows its own test split); models: {name: (module, image_shape)} given from Python."""
        self.images = images if isinstance(images, ImageSet) or images is None else ImageSet(images, log)
        self.registry = Registry(folders, log, models)
        self.log = log
        self._data: dict[tuple, Dataset] = {}
        self._views: dict[str, object] = {}
        self._lock = threading.Lock()
        self._computing = defaultdict(threading.Lock)  # one projection computed once, even if asked for twice
        self._posteriors = BoundedCache(POSTERIOR_CACHE)
        self._iwae = BoundedCache(IWAE_CACHE)
        self._quantizations = BoundedCache(QUANTIZATION_CACHE)
        self._prior_holes = BoundedCache(POSTERIOR_CACHE)
        self._directions = BoundedCache(POSTERIOR_CACHE)

    # --- the models, by kind: the one place that checks what kind a checkpoint is ----------------------------------
    def model(self, name: str, kind: str, what: str = "this view"):
        """The model of checkpoint `name`, which must be a `kind` ("vae" or "vqvae"); else a LatentError naming
        what needs which kind."""
        model = self.registry.model(name)
        if model.kind != kind:
            raise LatentError(f"{name} is a {KIND_NAMES[model.kind]}: "
                              f"{what} takes a {KIND_NAMES[kind]} checkpoint")
        return model

    # --- cached, read-only resources ---------------------------------------------------------------------------
    def data(self, name: str) -> Dataset:
        """The test images checkpoint `name` shows: --images converted to its input when given, else its own test
        split."""
        cfg = self.registry.get(name).cfg
        if self.images:
            channels, size, _ = self.registry.get(name).image_shape
            return self.images.dataset(channels, size)
        if cfg is None:
            raise DataUnavailable(f"{name} has no data set of its own (a diffusers model or a module from Python): "
                                  "start the app with --images PATH to show it images")
        key = (cfg.data, cfg.data_dir, cfg.channels, cfg.image_size, cfg.seed)
        with self._lock:
            if key not in self._data:
                try:
                    self._data[key] = load_dataset(cfg.data, cfg.data_dir, cfg.channels, cfg.image_size, cfg.seed,
                                                   log=self.log)
                except (DataError, FileNotFoundError) as e:
                    raise DataUnavailable(f"the data set of {name!r} ({cfg.data}) is not available: {e}") from e
            return self._data[key]

    def data_note(self, name: str) -> str:
        """One line on what --images held and what was changed to fit checkpoint `name` ("" without --images)."""
        channels, size, _ = self.registry.get(name).image_shape
        return self.images.note(channels, size) if self.images else ""

    def _projection(self, name: str, progress=no_progress):
        with self._computing[name]:
            if name not in self._views:
                ds = self.data(name)
                ck = self.registry.get(name)
                proj = load_or_compute(ck.path, ck.weights, self.registry.model(name), ds.x_test, ds.y_test,
                                       log=self.log, progress=progress)
                self._views[name] = (LatentView(proj, LatentMap(proj.latents, proj.coords), ds)
                                     if isinstance(proj, LatentProjection) else proj)
        return self._views[name]

    def latent_view(self, name: str, progress=no_progress) -> LatentView:
        """A VAE's test images on the map: projection, the map <-> latent mapping, the data; progress(fraction, what)
        hears how a first computation goes."""
        return self._projection(name, progress)

    def codebook_view(self, name: str, progress=no_progress) -> CodebookProjection:
        return self._projection(name, progress)

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

    # --- test images and latents the user sends ----------------------------------------------------------------
    def image(self, name: str, index: int) -> torch.Tensor:
        x = self.data(name).x_test
        if not isinstance(index, (int, np.integer, float)) or index != int(index) or not 0 <= int(index) < len(x):
            raise IndexRangeError(f"image index must be an integer in 0..{len(x) - 1}, got {index!r}")
        return to_float(x[int(index):int(index) + 1])

    def _x(self, name: str, index) -> np.ndarray:
        """Test image `index` as stored (uint8, C x H x W), after checking the range."""
        self.image(name, index)
        return self.data(name).x_test[int(index)]

    def _z(self, name: str, latent) -> np.ndarray:
        return validate_latent(latent, self.model(name, "vae").latent_dim)

    def load_upload(self, name: str, source) -> tuple[torch.Tensor, str]:
        channels, size, _ = self.registry.get(name).image_shape
        a, note = load_upload(source, channels, size)
        return to_float(a[None]), note

    # --- the latent map ------------------------------------------------------------------------------------------
    def map_latent(self, name: str, index=None, x=None, y=None) -> np.ndarray:
        """The latent for a click on the map: test image `index`'s mu(x), or the inverse map at (x, y)."""
        view = self.latent_view(name)
        if index is not None:
            self.image(name, index)  # checks the range
            return view.proj.latents[int(index)]
        return view.mapping.to_latent(*finite_position(x, y, LatentError, "a map position"))

    @torch.no_grad()
    def decode_latent(self, name: str, latent, side: int = DISPLAY) -> Image.Image:
        """The decoder's location at z (clamped to [0, 1]), as an image."""
        model = self.model(name, "vae", "decode_latent")
        z = torch.tensor(self._z(name, latent), dtype=torch.float32)[None]
        return show(model.decode_location(z)[0], side)

    @torch.no_grad()
    def manifold(self, name: str, n: int = 15) -> Image.Image | None:
        """For a 2-D latent: decodes over an n x n grid spanning the data's latent range."""
        view, model = self.latent_view(name), self.model(name, "vae")
        if model.latent_dim != 2:
            return None
        lo, hi = np.percentile(view.proj.latents, [1, 99], axis=0)
        xs, ys = np.linspace(lo[0], hi[0], n), np.linspace(hi[1], lo[1], n)  # top row = high y, as on the map
        z = torch.tensor([[x, y] for y in ys for x in xs], dtype=torch.float32)
        return to_pil(make_grid(model.decode_location(z), nrow=n, pad=0), 2)

    def neighbours(self, name: str, latent, k: int = 10, exclude: int | None = None) -> Neighbours:
        """The k test images nearest to `latent` in latent space (without image `exclude`)."""
        if exclude is not None:
            self.image(name, exclude)
        return self.posteriors(name).neighbours.query(self._z(name, latent), k, exclude)

    def export_selection(self, name: str, indices) -> ExportTable:
        view = self.latent_view(name)
        return export_table(view.proj.latents, view.proj.coords, view.proj.labels, view.data.label_names, indices)

    def selection_summary(self, name: str, indices) -> SelectionSummary:
        view = self.latent_view(name)
        return selection_summary(self.model(name, "vae"), view.data.x_test, view.proj.latents, indices)

    # --- the maths of a VAE --------------------------------------------------------------------------------------
    def directions(self, name: str) -> Directions | None:
        """For a latent of more than MAX_SLIDER_DIMS numbers, the top principal directions of its images' latents
        (what the sliders move); None when every dimension can have a slider of its own."""
        if self.model(name, "vae").latent_dim <= MAX_SLIDER_DIMS:
            return None
        return self._directions.get(name, lambda: principal_directions(self.latent_view(name).proj.latents))

    def dims_by_kl(self, name: str) -> np.ndarray:
        """Latent dimensions, the most active (mean KL over the test set) first: the order of the axis pickers."""
        return dims_by_kl(self.latent_view(name).proj.kl_per_dim)

    def latent_axes(self, name: str, i: int, j: int, selected=()) -> LatentAxes:
        """Dims (i, j) of every test image's mu, the first MAX_ELLIPSES selected posteriors' ellipses, the prior's
        contours and the aggregate posterior's density; for a model with directions, i and j number directions."""
        post, proj, dirs = self.posteriors(name), self.latent_view(name).proj, self.directions(name)
        sel = validate_indices(selected, len(post.mu))[:MAX_ELLIPSES] if len(selected) else ()
        if dirs is not None:
            return plane_axes(post.mu, post.sigma, proj.labels, dirs, i, j, sel)
        return latent_axes(post.mu, post.sigma, proj.labels, proj.kl_per_dim, i, j, sel)

    def axes_latent(self, name: str, i: int, j: int, x: float, y: float, index=None, base=None) -> np.ndarray:
        """The latent of a click at (x, y) on axes (i, j): the other dims (or, for a model with directions, the
        components off the plane of directions i and j) held at image `index`'s mu (or `base`)."""
        if index is not None:
            self.image(name, index)  # checks the range
            base = self.posteriors(name).mu[int(index)]
        dirs = self.directions(name)
        if dirs is not None:
            return self._z(name, plane_latent(self._z(name, base), dirs, i, j, x, y))
        return self._z(name, click_latent(base, i, j, x, y))

    def axes_positions(self, name: str, i: int, j: int, latents) -> np.ndarray:
        """(L, 2): latents (L, d) where the latent axes (i, j) draw them: (z_i, z_j), or their coefficients on
        directions i and j for a model with directions."""
        z = np.asarray(latents, dtype=np.float64).reshape(-1, self.model(name, "vae").latent_dim)
        dirs = self.directions(name)
        return z[:, [i, j]] if dirs is None else project(z, dirs, i, j)

    def monte_carlo(self, name: str, index: int, samples: int, seed: int = 0) -> MonteCarlo:
        """L reparameterised samples of test image `index`, their decodes and the MC estimate, beside the IWAE
        estimate (R independent IWAE-k estimates, drawn apart from the L samples, with their standard error). It does
        not depend on L: it is kept per (image, seed), so moving the L slider costs only the L decodes."""
        model, x = self._with_scale(name), self._x(name, index)
        r = monte_carlo(model, x, check_samples(samples), seed, iwae_k=0)
        iwae = self._iwae.get((name, int(index), r.seed, IWAE_K), lambda: iwae_bound(model, x, IWAE_K, r.seed))
        return replace(r, iwae=iwae)

    def decoder_output(self, name: str, latent, seed: int = 0) -> DecoderOutput:
        """E[x|z], the decoder's location, the per-pixel scale (and its heat map) and a sample from p(x|z)."""
        return decoder_output(self._with_scale(name), self._z(name, latent), seed)

    def missing(self, name: str, what: str) -> str | None:
        """One line saying why `what` (e.g. "decoder scale") is off for checkpoint `name`, or None."""
        return self.registry.model(name).missing(what)

    def _with_scale(self, name: str):
        """A VAE whose decoder gives p(x|z) with a scale (the Monte Carlo estimate and the decoder panel need it)."""
        model = self.model(name, "vae")
        if model.missing("decoder scale"):
            raise MissingCapability(f"{name}: {model.missing('decoder scale')}")
        return model

    def traversal(self, name: str, latent, k: int = 4, steps: int = 7) -> Traversal:
        """Decodes of `latent` with each of the top-k dimensions by KL set to `steps` values in -3..3."""
        return traversal(self.model(name, "vae"), self._z(name, latent), self.dims_by_kl(name), k, steps,
                         directions=self.directions(name))

    # --- VQ-VAE codes ----------------------------------------------------------------------------------------------
    @torch.no_grad()
    def decode_codes(self, name: str, grid, side: int = DISPLAY) -> Image.Image:
        model = self.model(name, "vqvae", "decode_codes")
        g = validate_grid(grid, model.grid_size, model.num_codes)
        return show(model.decode_indices(torch.from_numpy(g)[None])[0], side)

    def quantization(self, vq: str, index: int) -> Quantization:
        """Cell-by-cell quantisation error, flip distance, top-3 codes and the decodes of z_q and z_e of image
        `index`; kept for the latest QUANTIZATION_CACHE images."""
        model, x = self.model(vq, "vqvae", "quantisation"), self._x(vq, index)
        return self._quantizations.get((vq, int(index)), lambda: quantization(model, x))

    # --- generation --------------------------------------------------------------------------------------------------
    def no_prior(self, name: str) -> str | None:
        """Why checkpoint `name` cannot sample, with the command that fixes it; None when it can."""
        return sampling.no_prior(self.registry.model(name), name)

    def prior_samples(self, name: str, n: int = PRIOR_SAMPLES, seed: int = 0) -> dict:
        """n seeded draws of z (n, d) from N(0, I) ("standard") and, when VAE `name` has one, from its fitted prior
        ("fitted")."""
        model = self.model(name, "vae", "the prior's samples")
        out = {"standard": model.sample_latents(n, torch.Generator().manual_seed(seed), "standard").numpy()}
        if getattr(model, "fitted_prior", None) is not None:
            out["fitted"] = model.sample_latents(n, torch.Generator().manual_seed(seed), "fitted").numpy()
        return out

    def prior_hole(self, name: str) -> PriorHole:
        """The share of each prior's samples (prior_samples) where the test images' aggregate posterior is below
        its threshold (compute/prior_hole.py); kept per checkpoint."""
        def compute():
            post = self.posteriors(name)
            return prior_hole(post.mu, post.sigma, self.prior_samples(name))
        return self._prior_holes.get(name, compute)

    def no_fitted_prior(self, name: str) -> str | None:
        """Why VAE checkpoint `name` has no fitted prior over z, with the command that fits one; None when it has."""
        return sampling.no_fitted_prior(self.registry.model(name), name)

    def sample(self, name: str, settings: SampleSettings) -> Samples:
        """settings.n samples of checkpoint `name`, reproducible from settings.seed."""
        return sampling.sample(self.registry.model(name), name, settings)

    def suggestions(self, name: str, grid, row: int, col: int, k: int = 8) -> list[tuple[int, float]]:
        """The prior's k most likely codes for cell (row, col) given the cells before it, most likely first."""
        return sampling.suggestions(self.model(name, "vqvae", "the prior's suggestions"), name, grid, row, col, k)

    def resample_from(self, name: str, grid, row: int, col: int, settings: SampleSettings) -> np.ndarray:
        """The grid with (row, col) and every cell after it drawn from the prior."""
        return sampling.resample_from(self.model(name, "vqvae", "resampling"), name, grid, row, col, settings)

    # --- both kinds ---------------------------------------------------------------------------------------------------
    @torch.no_grad()
    def reconstruct(self, vae: str, vq: str, x: torch.Tensor) -> Reconstruction:
        """Reconstructions of x (1, C, H, W) by both models, their error maps, MSE and PSNR; a model whose input
        differs from x's shape gets x fitted to it (channels and size), and is measured against that."""
        out = {"original": show(x[0])}
        for key, name, kind in (("vae", vae, "vae"), ("vqvae", vq, "vqvae")):
            model = self.model(name, kind, "reconstruct")
            xm = fit(x, model.image_shape)
            x_hat = model.reconstruct(xm)
            mse = float((x_hat - xm).pow(2).mean())  # MSE = mean (x_hat - x)^2
            out[key] = show(x_hat[0])
            out[f"{key}_error"] = error_map(xm[0], x_hat[0])
            out[f"{key}_mse"], out[f"{key}_psnr"] = mse, psnr(mse)
        return Reconstruction(**out)

    @torch.no_grad()
    def interpolate(self, vae: str, vq: str, i: int, j: int, steps: int = 10) -> Interpolation:
        """Decodes along the paths from image i to image j: VAE linear and spherical, VQ-VAE pre-quantisation."""
        m, q = self.model(vae, "vae", "interpolate"), self.model(vq, "vqvae", "interpolate")
        za, zb = m.encode(self.image(vae, i))[0][0], m.encode(self.image(vae, j))[0][0]  # mu(x), (d,)
        ea, eb = q.encode(fit(self.image(vae, i), q.image_shape)), q.encode(fit(self.image(vae, j), q.image_shape))
        vq_path = torch.cat([q.decode(q.quantize(e)[0]) for e in linear_path(ea, eb, steps)]).clamp(0, 1)
        return Interpolation(strip(m.decode_location(linear_path(za, zb, steps))),
                             strip(m.decode_location(slerp_path(za, zb, steps))), strip(vq_path))

    # --- the page's URL -----------------------------------------------------------------------------------------------
    def restore_state(self, query) -> RestoredState:
        """The view a URL asks for, checked against the checkpoints here; what does not fit is dropped, with a
        message each (never raises: a damaged link still opens the page)."""
        state, messages = from_query_lenient(query)
        drop = {}

        def check(key, fits, message):
            if getattr(state, key) is not None and key not in drop and not fits(getattr(state, key)):
                messages.append(message)
                drop[key] = None

        for key, kind in (("vae", "vae"), ("vq", "vqvae")):
            check(key, lambda v, kind=kind: v in self.registry.names(kind),
                  f"no {kind.upper()} checkpoint {getattr(state, key)!r} here: showing the default instead")
        vae = drop.get("vae", state.vae) or next(iter(self.registry.names("vae")), None)
        vq = drop.get("vq", state.vq) or next(iter(self.registry.names("vqvae")), None)
        if vae is not None:
            d = self.registry.model(vae).latent_dim
            check("z", lambda z: len(z) == d, f"the URL's latent does not have the {d} numbers {vae} takes: dropped")
            axes = d if d <= MAX_SLIDER_DIMS else min(DIRECTIONS, d)  # dimensions, or principal directions
            what = "dimensions" if d <= MAX_SLIDER_DIMS else "directions"
            check("axes", lambda a: max(a) < axes and a[0] != a[1],
                  f"latent axes {state.axes} do not fit {vae}: pick two different {what} in 0..{axes - 1}")
        for key, name in (("index", vae), ("code_index", vq)):
            if name is not None and getattr(state, key) is not None:
                try:
                    n = len(self.data(name).x_test)
                except UserError as e:  # the data set is missing: the view will say so when it opens
                    messages.append(str(e))
                    continue
                check(key, lambda i, n=n: i < n, f"test image {getattr(state, key)} is beyond the {n} test images "
                      f"of {name}: dropped")
        if vq is not None:
            g = self.registry.model(vq).grid_size
            check("cell", lambda c: max(c) < g, f"code grid cell {state.cell} is outside the {g}x{g} grid of {vq}")
        return RestoredState(replace(state, **drop), messages)
