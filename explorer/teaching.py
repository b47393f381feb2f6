"""The Explorer's methods for the teaching and projector-like views (issue #14): thin, each validates what a user
sends and calls one module (posterior, montecarlo, decoder, quantization, traversal, neighbours, export, url_state).

A mixin of `Explorer` (service.py), so the views call `ex.latent_axes(...)` like the other Explorer methods. The
posteriors (mu, sigma) of a VAE's test images are encoded once, on first use (0.2 s for 10,000 Fashion-MNIST images
on the 2-core EPYC), and kept in memory beside the projection; nothing here recomputes UMAP.
"""
from dataclasses import dataclass, replace

import numpy as np
import torch

from .decoder import DecoderOutput, decoder_output
from .errors import UserError
from .export import (
    ExportTable,
    SelectionSummary,
    export_table,
    selection_summary,
    to_csv,
    to_npz,
)
from .montecarlo import IWAE_K, MonteCarlo, check_samples, iwae_bound, monte_carlo
from .neighbours import NeighbourIndex, Neighbours
from .outputs import data_file
from .posterior import LatentAxes, click_latent, dims_by_kl, latent_axes
from .projection import batches
from .quantization import Quantization, quantization
from .traversal import Traversal, traversal
from .url_state import ViewState, from_query_lenient

MAX_ELLIPSES = 100  # selected posteriors drawn as ellipses (the first ones of a larger selection)
IWAE_CACHE = 4096  # IWAE bounds kept, per (checkpoint, image, seed)


@dataclass
class Posteriors:
    mu: np.ndarray  # (N, d) float32 posterior means of the test images (= the projection's latents)
    sigma: np.ndarray  # (N, d) float32 posterior standard deviations
    neighbours: NeighbourIndex  # over mu


@dataclass
class ExportFiles:
    csv: str  # paths of files written once (outputs.data_file)
    npz: str
    rows: int


@dataclass
class RestoredState:
    state: ViewState  # what the URL asked for, with what does not fit the models dropped
    messages: list[str]  # one line per value dropped, for the page to show


class Teaching:
    """Mixed into Explorer: uses its registry, data, latent_view, image, and validation."""

    @torch.no_grad()
    def posteriors(self, name: str) -> Posteriors:
        with self._computing[("posteriors", name)]:
            cache = self.__dict__.setdefault("_posteriors", {})
            if name not in cache:
                self._vae(name)
                model, proj = self.registry.model(name), self.latent_view(name).proj
                sig = [torch.exp(model.encode(xb)[1]) for xb in batches(self.data(name).x_test, 1000, "", lambda *a: 0)]
                cache[name] = Posteriors(proj.latents, torch.cat(sig).numpy(), NeighbourIndex(proj.latents))
        return cache[name]

    def _vae(self, name: str):
        from .service import LatentError

        model = self.registry.model(name)
        if model.cfg.model != "vae":
            raise LatentError(f"{name} is a {model.cfg.model.upper()}: this view takes a VAE checkpoint")
        return model

    def _x(self, name: str, index) -> np.ndarray:
        self.image(name, index)  # checks the range
        return self.data(name).x_test[int(index)]

    def _z(self, name: str, latent) -> np.ndarray:
        from .service import validate_latent

        return validate_latent(latent, self._vae(name).cfg.latent_dim)

    # --- teach the maths ---------------------------------------------------------------------------------
    def dims_by_kl(self, name: str) -> np.ndarray:
        """Latent dimensions, the most active (mean KL over the test set) first: the order of the axis pickers."""
        return dims_by_kl(self.latent_view(name).proj.kl_per_dim)

    def latent_axes(self, name: str, i: int, j: int, selected=()) -> LatentAxes:
        """Dims (i, j) of every test image's mu, the first MAX_ELLIPSES selected posteriors' ellipses, the prior's
        contours and the aggregate posterior's density."""
        from .export import validate_indices

        post, proj = self.posteriors(name), self.latent_view(name).proj
        sel = validate_indices(selected, len(post.mu))[:MAX_ELLIPSES] if len(selected) else ()
        return latent_axes(post.mu, post.sigma, proj.labels, proj.kl_per_dim, i, j, sel)

    def axes_latent(self, name: str, i: int, j: int, x: float, y: float, index=None, base=None) -> np.ndarray:
        """The latent of a click at (x, y) on axes (i, j): the other dims held at image `index`'s mu (or `base`)."""
        if index is not None:
            self.image(name, index)  # checks the range
            base = self.posteriors(name).mu[int(index)]
        return self._z(name, click_latent(base, i, j, x, y))

    def monte_carlo(self, name: str, index: int, samples: int, seed: int = 0) -> MonteCarlo:
        """L reparameterised samples of test image `index`, their decodes and the MC estimate vs the IWAE bound.
        The bound does not depend on L: it is kept per (image, seed), so moving the L slider costs only the L decodes."""
        model, x = self._vae(name), self._x(name, index)
        r = monte_carlo(model, x, check_samples(samples), seed, iwae_k=0)
        key = (name, int(index), r.seed, IWAE_K)
        with self._lock:
            cache = self.__dict__.setdefault("_iwae", {})
            known = cache.get(key)
        if known is None:
            known = iwae_bound(model, x, IWAE_K, r.seed)
            with self._lock:
                if len(cache) >= IWAE_CACHE:
                    cache.pop(next(iter(cache)))  # the oldest first
                cache[key] = known
        return replace(r, iwae=known)

    def decoder_output(self, name: str, latent, seed: int = 0) -> DecoderOutput:
        """E[x|z], the per-pixel scale (and its heat map) and a sample from p(x|z) for a latent."""
        return decoder_output(self._vae(name), self._z(name, latent), seed)

    def quantization(self, vq: str, index: int) -> Quantization:
        """Cell-by-cell quantisation error, margin, top-3 codes and the decodes of z_q and z_e of image `index`."""
        from .service import LatentError

        model = self.registry.model(vq)
        if model.cfg.model != "vqvae":
            raise LatentError(f"{vq} is a {model.cfg.model.upper()}: quantisation takes a VQ-VAE checkpoint")
        return quantization(model, self._x(vq, index))

    def traversal(self, name: str, latent, k: int = 4, steps: int = 7) -> Traversal:
        """Decodes of `latent` with each of the top-k dimensions by KL set to `steps` values in -3..3."""
        return traversal(self._vae(name), self._z(name, latent), self.dims_by_kl(name), k, steps)

    # --- explore like the projectors -----------------------------------------------------------------------
    def neighbours(self, name: str, latent, k: int = 10, exclude: int | None = None) -> Neighbours:
        """The k test images nearest to `latent` in latent space (without image `exclude`)."""
        if exclude is not None:
            self.image(name, exclude)
        return self.posteriors(name).neighbours.query(self._z(name, latent), k, exclude)

    def export_selection(self, name: str, indices) -> ExportTable:
        view = self.latent_view(name)
        return export_table(view.proj.latents, view.proj.coords, view.proj.labels, view.data.label_names, indices)

    def export_files(self, name: str, indices, cache_dir) -> ExportFiles:
        """The selection as CSV and NPZ files, each written once under cache_dir (Gradio's cache, for downloads)."""
        t = self.export_selection(name, indices)
        stem = f"{name.replace('/', '-')}-selection-{len(t.indices)}"
        return ExportFiles(data_file(to_csv(t), f"{stem}.csv", cache_dir),
                           data_file(to_npz(t), f"{stem}.npz", cache_dir), len(t.indices))

    def selection_summary(self, name: str, indices) -> SelectionSummary:
        view = self.latent_view(name)
        return selection_summary(self._vae(name), view.data.x_test, view.proj.latents, indices)

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
            d = self.registry.get(vae).cfg.latent_dim
            check("z", lambda z: len(z) == d, f"the URL's latent does not have the {d} numbers {vae} takes: dropped")
            check("axes", lambda a: max(a) < d and a[0] != a[1],
                  f"latent axes {state.axes} do not fit {vae}: pick two different dimensions in 0..{d - 1}")
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
            g = self.registry.get(vq).cfg.image_size // 4
            check("cell", lambda c: max(c) < g, f"code grid cell {state.cell} is outside the {g}x{g} grid of {vq}")
        return RestoredState(replace(state, **drop), messages)
