"""The Maths tab's service: a VAE's posteriors on two latent axes, the Monte Carlo estimate of the ELBO beside the
IWAE bound, the decoder's distribution p(x|z), traversals, and its priors' samples and holes. Each method checks
what the user sent, then calls explorer/compute/ with the store's data.
"""
from dataclasses import replace

import numpy as np
import torch

from explorer.compute.bounded_cache import BoundedCache
from explorer.compute.decoder import DecoderOutput, decoder_output
from explorer.compute.montecarlo import IWAE_K, MonteCarlo, check_samples, iwae_bound, monte_carlo
from explorer.compute.plane import plane_axes, plane_latent, project
from explorer.compute.posterior import LatentAxes, click_latent, latent_axes
from explorer.compute.prior_hole import PriorHole, prior_hole
from explorer.compute.traversal import Traversal, traversal
from explorer.errors import MissingCapability
from explorer.service.export import validate_indices
from explorer.service.gpu import on_gpu
from explorer.service.store import POSTERIOR_CACHE, Store

MAX_ELLIPSES = 100  # selected posteriors drawn as ellipses (the first ones of a larger selection)
IWAE_CACHE = 4096  # IWAE bounds kept, per (checkpoint, image, seed)
PRIOR_SAMPLES = 500  # z drawn from each prior for the Maths tab's point sets and its prior-hole scores


class MathsService:
    def __init__(self, store: Store):
        self.store = store
        self._iwae = BoundedCache(IWAE_CACHE)
        self._prior_holes = BoundedCache(POSTERIOR_CACHE)

    def posterior_means(self, name: str) -> np.ndarray:
        """(N, d) mu(x) of every test image."""
        return self.store.posteriors(name).mu

    def latent_axes(self, name: str, i: int, j: int, selected=()) -> LatentAxes:
        """Dims (i, j) of every test image's mu, the first MAX_ELLIPSES selected posteriors' ellipses, the prior's
        contours and the aggregate posterior's density; for a model with directions, i and j number directions."""
        post, proj = self.store.posteriors(name), self.store.latent_view(name).proj
        dirs = self.store.directions(name)
        sel = validate_indices(selected, len(post.mu))[:MAX_ELLIPSES] if len(selected) else ()
        if dirs is not None:
            return plane_axes(post.mu, post.sigma, proj.labels, dirs, i, j, sel)
        return latent_axes(post.mu, post.sigma, proj.labels, self.store.kl_per_dim(name), i, j, sel)

    def axes_latent(self, name: str, i: int, j: int, x: float, y: float, index=None, base=None) -> np.ndarray:
        """The latent of a click at (x, y) on axes (i, j): the other dims (or, for a model with directions, the
        components off the plane of directions i and j) held at image `index`'s mu (or `base`)."""
        if index is not None:
            self.store.image(name, index)  # checks the range
            base = self.store.posteriors(name).mu[int(index)]
        dirs = self.store.directions(name)
        if dirs is not None:
            return self.store.latent(name, plane_latent(self.store.latent(name, base), dirs, i, j, x, y))
        return self.store.latent(name, click_latent(base, i, j, x, y))

    def axes_positions(self, name: str, i: int, j: int, latents) -> np.ndarray:
        """(L, 2): latents (L, d) where the latent axes (i, j) draw them: (z_i, z_j), or their coefficients on
        directions i and j for a model with directions."""
        z = np.asarray(latents, dtype=np.float64).reshape(-1, self.store.model(name, "vae").latent_dim)
        dirs = self.store.directions(name)
        return z[:, [i, j]] if dirs is None else project(z, dirs, i, j)

    def monte_carlo(self, name: str, index: int, samples: int, seed: int = 0) -> MonteCarlo:
        """L reparameterised samples of test image `index`, their decodes and the MC estimate, beside the IWAE
        estimate (R independent IWAE-k estimates, drawn apart from the L samples, with their standard error). It does
        not depend on L: it is kept per (image, seed), so moving the L slider costs only the L decodes."""
        self._with_scale(name)  # the checks, here: before any GPU is asked for
        self.store.stored_image(name, index)
        r = self.draws(name, index, check_samples(samples), seed)
        iwae = self._iwae.get((name, int(index), r.seed, IWAE_K), lambda: self.iwae(name, index, r.seed))
        return replace(r, iwae=iwae)

    @on_gpu(duration=30)
    def draws(self, name: str, index: int, samples: int, seed: int = 0) -> MonteCarlo:
        """The L-sample Monte Carlo estimate of test image `index` (compute/montecarlo.py), without the IWAE one."""
        return monte_carlo(self._with_scale(name), self.store.stored_image(name, index), samples, seed, iwae_k=0)

    @on_gpu(duration=60)
    def iwae(self, name: str, index: int, seed: int = 0):
        """R independent IWAE-k estimates of -log p(x) for test image `index` (compute/montecarlo.py)."""
        return iwae_bound(self._with_scale(name), self.store.stored_image(name, index), IWAE_K, seed)

    def decoder_output(self, name: str, latent, seed: int = 0) -> DecoderOutput:
        """E[x|z], the decoder's location, the per-pixel scale (and its heat map) and a sample from p(x|z)."""
        return decoder_output(self._with_scale(name), self.store.latent(name, latent), seed)

    def _with_scale(self, name: str):
        """A VAE whose decoder gives p(x|z) with a scale (the Monte Carlo estimate and the decoder panel need it)."""
        model = self.store.model(name, "vae")
        if model.missing("decoder scale"):
            raise MissingCapability(f"{name}: {model.missing('decoder scale')}")
        return model

    def traversal(self, name: str, latent, k: int = 4, steps: int = 7, preview: bool = False) -> Traversal:
        """Decodes of `latent` with each of the top-k dimensions by KL set to `steps` values in -3..3; by the model's
        preview decoder with `preview` (a slow model's)."""
        model = self.store.model(name, "vae")
        decoder = model.preview if preview and model.preview is not None else model
        return traversal(decoder, self.store.latent(name, latent), self.store.dims_by_kl(name), k, steps,
                         directions=self.store.directions(name))

    def prior_samples(self, name: str, n: int = PRIOR_SAMPLES, seed: int = 0) -> dict:
        """n seeded draws of z (n, d) from N(0, I) ("standard") and, when VAE `name` has one, from its fitted prior
        ("fitted")."""
        model = self.store.model(name, "vae", "the prior's samples")
        priors = ["standard"] + (["fitted"] if model.fitted_prior is not None else [])
        return {p: model.sample_latents(n, torch.Generator().manual_seed(seed), prior=p).numpy() for p in priors}

    def prior_hole(self, name: str) -> PriorHole:
        """Each prior's samples' (prior_samples) mean percentile of distance to the nearest test image's posterior
        mean among other test images' latents, with its standard error (compute/prior_hole.py); kept per
        checkpoint."""
        def compute():
            post = self.store.posteriors(name)
            return prior_hole(post.mu, post.sigma, self.prior_samples(name))
        return self._prior_holes.get(name, compute)
