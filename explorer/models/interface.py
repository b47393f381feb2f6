"""The one door between the explorer and any model: two kinds, each an abstract class listing every attribute and
method the explorer uses. A new way to run a model (another library, ONNX, a device) is a subclass here, and nothing
above this folder changes.

    LatentModel (continuous latents):  encode(x) -> (mu, log sigma) of q(z|x), flattened to (B, d) whatever the
        latent's own shape (d,) or (C, h, w); decode_location(z) -> images in [0, 1]; sample_latents / sample from
        its prior. Optional (`has_decoder_scale`): a decoder distribution p(x|z) with a location and a scale per
        pixel (`decode`, `likelihood`, `log_importance_weights`: the Maths tab's decoder panel, its Monte Carlo
        estimate and the IWAE bound); a prior over z fitted to the aggregate posterior (`fitted_prior`); a preview
        decoder (`preview`: a small fast stand-in for a slow decoder, its own `decode_location` and `label`).
    CodeModel (discrete codes): encode(x) -> z_e (B, D, h, w); quantize(z_e) -> (z_q, indices (B, h, w));
        decode(z_q) -> images in [0, 1]; a codebook (K, D). Optional: a prior over code grids (`prior`: sampling, the
        prior's suggestions for a cell, resampling).
Images going in and out are floats in [0, 1], (B, C, H, W), at the model's `image_shape`. Every method takes CPU
tensors and gives CPU tensors, floats as float32, whatever device and precision the model runs in (device.py): nothing
above this folder knows where a model runs. Each model declares what
it can do (`has_decoder_scale`, `fitted_prior`, `prior`); a view that needs something a model lacks shows one line
saying so (`missing`, `prior_problem`), never an error or an empty panel.

How a model is found and opened (a folder of some kind, or a module given from Python) is `found.py`.
"""
import math
from abc import ABC, abstractmethod
from collections.abc import Iterator

import torch

from vae_core.models.gaussian import DiagonalGaussian

PRIORS = ("fitted", "standard")  # a VAE's fitted prior over z (when it has one), or N(0, I)


class Model(ABC):
    """What both kinds share: the images they take, one line describing them, and their weights."""

    kind: str  # "vae" (continuous latents) or "vqvae" (discrete codes)
    image_shape: tuple[int, int, int]  # (C, H, W) of the images it takes and makes
    description = ""  # one line for the Models tab
    prior_problem: str | None = None  # why a prior found beside the model is not used (stale), with the fix

    @abstractmethod
    def parameters(self) -> Iterator[torch.Tensor]:
        """Its weights (where they live says which device runs it: the adapters' business, not their callers')."""

    @property
    def device(self) -> torch.device:
        return next(iter(self.parameters()), torch.zeros(0)).device

    @abstractmethod
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, C, H, W) in [0, 1] -> its reconstruction, the decoder's image clamped to [0, 1]."""

    def missing(self, what: str) -> str | None:
        """One line saying why `what` ("decoder scale") is off for this model, or None when it has it."""
        return None


class LatentModel(Model):
    """A model with continuous latents. Subclasses set image_shape and latent_shape and implement `encode`,
    `decode_location` and `parameters`; with `has_decoder_scale` also `decode`, `likelihood` and
    `log_importance_weights`."""

    kind = "vae"
    latent_shape: tuple[int, ...]  # the latent's own shape: (d,) or (C, h, w)
    has_decoder_scale = False  # a location and a scale per pixel (Maths tab: decoder panel, Monte Carlo, IWAE)
    likelihood = None  # p(x|z) (vae_core's Likelihood: log_prob, mean, expectation, sample) when it has a scale
    fitted_prior = None  # a density over z fitted to the aggregate posterior (vae_core's fitted prior), if any
    preview = None  # a fast stand-in decoder (models/preview.py: decode_location, label), if one was trained

    @property
    def latent_dim(self) -> int:
        """d: the numbers in one latent, flattened (the map, the sliders and the API's latents are this long)."""
        return math.prod(self.latent_shape)

    @abstractmethod
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, log sigma) of q(z|x), each (B, d)."""

    @abstractmethod
    def decode_location(self, z: torch.Tensor) -> torch.Tensor:
        """The decoder's image for latents z (B, d): its location clamped to [0, 1] (not E[x|z])."""

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The parameters of p(x|z) (a model with `has_decoder_scale` only)."""
        raise NotImplementedError(self.missing("decoder scale"))

    def log_importance_weights(self, x: torch.Tensor, k: int, generator: torch.Generator | None = None):
        """log p(x|z_i) + log p(z_i) - log q(z_i|x) for k draws z_i ~ q(z|x), (B, k) (with `has_decoder_scale`)."""
        raise NotImplementedError(self.missing("decoder scale"))

    def posterior(self, x: torch.Tensor) -> DiagonalGaussian:
        return DiagonalGaussian(*self.encode(x))  # q(z|x) = N(mu, diag(sigma^2))

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """The decoder's location at z = mu(x), clamped to [0, 1] (what MSE and PSNR are measured on)."""
        return self.decode_location(self.encode(x)[0])

    def sample_latents(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0,
                       prior: str = "fitted") -> torch.Tensor:
        """n draws of z (n, d): from the fitted prior when the model has one and prior is "fitted", else
        z ~ N(0, temperature^2 I)."""
        if prior not in PRIORS:
            raise ValueError(f"prior must be one of {PRIORS}, got {prior!r}")
        if prior == "fitted" and self.fitted_prior is not None:
            return self.fitted_prior.sample(n, generator, temperature)
        return temperature * torch.randn(n, self.latent_dim, generator=generator)

    def sample(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0,
               prior: str = "fitted") -> torch.Tensor:
        """n images: the decoder's location at z drawn by `sample_latents`."""
        return self.decode_location(self.sample_latents(n, generator, temperature, prior))

    def missing(self, what: str) -> str | None:
        if what == "decoder scale" and not self.has_decoder_scale:
            return (f"this {self.description or 'model'} has no decoder scale (its decoder gives an image, not a "
                    "distribution over pixels): the decoder panel, the Monte Carlo estimate and the IWAE bound are off")
        return None


class CodeModel(Model):
    """A model with a grid of discrete codes. Subclasses set image_shape and implement encode, quantize, decode,
    codebook, grid_size and parameters; `prior` is a prior over code grids (vae_core's CodePrior) or None."""

    kind = "vqvae"
    prior = None  # a prior over code grids, or None

    @property
    @abstractmethod
    def codebook(self) -> torch.Tensor:
        """(K, D) code vectors."""

    @property
    def num_codes(self) -> int:
        return int(self.codebook.shape[0])

    @property
    @abstractmethod
    def grid_size(self) -> int:
        """Cells per side of the (square) code grid."""

    @abstractmethod
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """z_e: (B, D, h, w), before quantisation."""

    @abstractmethod
    def quantize(self, z_e: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(z_q, indices): the nearest code of each cell, (B, D, h, w) and (B, h, w)."""

    @abstractmethod
    def decode(self, z_q: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] for quantised (or any) vectors (B, D, h, w)."""

    def encode_indices(self, x: torch.Tensor) -> torch.Tensor:
        return self.quantize(self.encode(x))[1]

    def decode_indices(self, grid: torch.Tensor) -> torch.Tensor:
        """Images for code grids (B, h, w): e[c] at each cell, decoded."""
        z_q = self.codebook[grid.long()].permute(0, 3, 1, 2)  # (B, D, h, w)
        return self.decode(z_q)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.quantize(self.encode(x))[0])
