"""The one door between the explorer and any model: two kinds, each a small class the views and the service call.

    LatentModel (continuous latents):  encode(x) -> (mu, log sigma) of q(z|x), flattened to (B, d) whatever the
        latent's own shape (d,) or (C, h, w); decode_location(z) -> images in [0, 1]; sample z ~ N(0, I) decoded.
        Optional: a decoder distribution p(x|z) with a location and a scale per pixel (`decode` and `likelihood`,
        for the Maths tab's decoder panel, its Monte Carlo estimate and the IWAE bound).
    CodeModel (discrete codes): encode(x) -> z_e (B, D, h, w); quantize(z_e) -> (z_q, indices (B, h, w));
        decode(z_q) -> images in [0, 1]; a codebook (K, D). Optional: a prior over code grids (sampling, the
        prior's suggestions for a cell, resampling).
Images going in and out are floats in [0, 1], (B, C, H, W), at the model's `image_shape`. Each model declares what
it can do (`has_decoder_scale`, `prior`); a view that needs something a model lacks shows one line saying so
(`missing`), never an error or an empty panel.
"""
import math

import torch

from vae_core.models.gaussian import DiagonalGaussian


class LatentModel:
    """A model with continuous latents. Subclasses set image_shape and latent_shape and implement `encode` and
    `decode_location`; with `has_decoder_scale` also `decode` (the parameters of p(x|z)) and `likelihood`."""

    kind = "vae"
    image_shape: tuple[int, int, int]  # (C, H, W) of the images it takes and makes
    latent_shape: tuple[int, ...]  # the latent's own shape: (d,) or (C, h, w)
    has_decoder_scale = False  # a location and a scale per pixel (Maths tab: decoder panel, Monte Carlo, IWAE)
    description = ""  # one line for the Models tab

    @property
    def latent_dim(self) -> int:
        """d: the numbers in one latent, flattened (the map, the sliders and the API's latents are this long)."""
        return math.prod(self.latent_shape)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, log sigma) of q(z|x), each (B, d)."""
        raise NotImplementedError

    def decode_location(self, z: torch.Tensor) -> torch.Tensor:
        """The decoder's image for latents z (B, d): its location clamped to [0, 1] (not E[x|z])."""
        raise NotImplementedError

    def posterior(self, x: torch.Tensor) -> DiagonalGaussian:
        return DiagonalGaussian(*self.encode(x))  # q(z|x) = N(mu, diag(sigma^2))

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """The decoder's location at z = mu(x), clamped to [0, 1] (what MSE and PSNR are measured on)."""
        return self.decode_location(self.encode(x)[0])

    fitted_prior = None  # a density over z fitted to the aggregate posterior (vae_core's fitted prior), if any

    def sample_latents(self, n: int, generator: torch.Generator | None = None, prior: str = "fitted") -> torch.Tensor:
        """n draws of z: from the fitted prior when the model has one and prior is "fitted", else N(0, I)."""
        if prior not in ("fitted", "standard"):
            raise ValueError(f"prior must be fitted or standard, got {prior!r}")
        if prior == "fitted" and self.fitted_prior is not None:
            return self.fitted_prior.sample(n, generator)
        return torch.randn(n, self.latent_dim, generator=generator)

    def sample(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0,
               prior: str = "fitted") -> torch.Tensor:
        """n images: the decoder's location at z ~ N(0, temperature^2 I) (a model with a fitted prior: from it)."""
        z = torch.randn(n, self.latent_dim, generator=generator)
        return self.decode_location(temperature * z)

    def missing(self, what: str) -> str | None:
        """One line saying why `what` ("decoder scale") is off for this model, or None when it has it."""
        if what == "decoder scale" and not self.has_decoder_scale:
            return (f"this {self.description or 'model'} has no decoder scale (its decoder gives an image, not a "
                    "distribution over pixels): the decoder panel, the Monte Carlo estimate and the IWAE bound are off")
        return None


class CodeModel:
    """A model with a grid of discrete codes. Subclasses set image_shape and implement encode, quantize, decode and
    codebook; `prior` is a prior over code grids (vae_core's CodePrior) or None."""

    kind = "vqvae"
    image_shape: tuple[int, int, int]
    prior = None  # a prior over code grids, or None
    prior_problem: str | None = None  # why a prior found beside the model is not used (stale), with the fix
    description = ""

    @property
    def codebook(self) -> torch.Tensor:
        """(K, D) code vectors."""
        raise NotImplementedError

    @property
    def num_codes(self) -> int:
        return int(self.codebook.shape[0])

    @property
    def grid_size(self) -> int:
        """Cells per side of the (square) code grid."""
        raise NotImplementedError

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """z_e: (B, D, h, w), before quantisation."""
        raise NotImplementedError

    def quantize(self, z_e: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(z_q, indices): the nearest code of each cell, (B, D, h, w) and (B, h, w)."""
        raise NotImplementedError

    def decode(self, z_q: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] for quantised (or any) vectors (B, D, h, w)."""
        raise NotImplementedError

    def encode_indices(self, x: torch.Tensor) -> torch.Tensor:
        return self.quantize(self.encode(x))[1]

    def decode_indices(self, grid: torch.Tensor) -> torch.Tensor:
        """Images for code grids (B, h, w): e[c] at each cell, decoded."""
        z_q = self.codebook[grid.long()].permute(0, 3, 1, 2)  # (B, D, h, w)
        return self.decode(z_q)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.quantize(self.encode(x))[0])
