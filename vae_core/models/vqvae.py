"""VQ-VAE: conv encoder -> grid of D-dim vectors -> one of K codes -> conv decoder.

The quantizer (cfg.quantizer): "vq", the nearest of K learned codes (quantize.py), or "fsq", each of the cell's
d = len(levels) numbers bounded and rounded to its levels (fsq.py; the encoder's last 1x1 convolution projects to d).

    loss = recon + VQ loss (quantize.py; 0 for FSQ), each term summed over the elements of an image (pixels; latent
           grid cells x D), then averaged over the batch, where recon (cfg.vq_likelihood) is
        mse:                    ||x - x_hat||^2, x_hat the decoder's output
        discretized_logistic:   -log p(x|z_q), nats per image: the decoder outputs a location and a log scale per
        (or _gaussian)          pixel, the VAE's likelihood with scale "decoder" (likelihood.py)
"""
import torch

from ..config import Config, parse_levels
from . import code_iwae
from .base import EvaluationTerms, LatentVariableModel
from .fsq import FiniteScalarQuantizer
from .likelihood import Likelihood
from .nets import conv_decoder, conv_encoder, run_float32_head
from .quantize import VectorQuantizer


class NoPriorError(RuntimeError):
    """Sampling from a VQ-VAE that has no prior over its code grids; the message says how to train one."""


class VQVAE(LatentVariableModel):
    # `prior`: p(c) over code grids (models/prior.py), or None: then it cannot sample (models/base.py)
    PRIOR_KIND = "prior"
    PRIOR_COMMAND = "retrain it with python -m vae_core.train_prior"

    def prior_mismatch(self, prior_cfg: Config) -> str | None:
        c = prior_cfg
        if (c.model, c.num_codes, c.image_size) != (self.PRIOR_KIND, self.cfg.num_codes, self.cfg.image_size):
            return (f"{c.model} over K={c.num_codes} codes, images of {c.image_size}, the VQ-VAE has "
                    f"K={self.cfg.num_codes}, {self.cfg.image_size}")
        return None

    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        c, width = cfg.channels, cfg.width
        if cfg.quantizer == "fsq":
            self.quantizer = FiniteScalarQuantizer(parse_levels(cfg.fsq_levels))
        else:
            self.quantizer = VectorQuantizer(cfg.num_codes, cfg.code_dim, cfg.commitment, cfg.codebook, cfg.ema_decay,
                                             cfg.dead_threshold, cfg.kmeans_init, cfg.codebook_weight)
        d = self.quantizer.code_dim
        # p(x|z_q) with the decoder's own scale, or None: squared error, the decoder's output an image
        self.likelihood = None if cfg.vq_likelihood == "mse" else Likelihood(cfg.vq_likelihood, cfg.image_shape)
        per_pixel = 1 if self.likelihood is None else self.likelihood.params_per_pixel
        self.encoder = conv_encoder(c, width, d, cfg.res_blocks)
        self.decoder = conv_decoder(d, width, c * per_pixel, cfg.res_blocks)

    @property
    def grid_size(self) -> int:
        """Side of the code grid: 7 for 28x28 images, 8 for 32x32."""
        return self.cfg.image_size // 4

    @property
    def codebook(self) -> torch.Tensor:
        """(K, D): the learned codes (VQ), or the grid of levels (FSQ)."""
        return self.quantizer.codebook if self.cfg.quantizer == "fsq" else self.quantizer.embedding

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """z_e(x): (B, D, h, w), in the codebook's units: for FSQ bounded, b(f(x)) / floor(L / 2) (fsq.py)."""
        z = self.encoder(x)
        if self.cfg.quantizer == "fsq":
            z = self.quantizer.squash(z.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)  # squash each cell's D numbers
        return z

    def quantize(self, z_e: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(z_q (B, D, h, w), indices (B, h, w), VQ loss per image)."""
        b, d, h, w = z_e.shape
        z_q, idx, vq_loss = self.quantizer(z_e.permute(0, 2, 3, 1).reshape(b, h * w, d))
        return z_q.view(b, h, w, d).permute(0, 3, 1, 2), idx.view(b, h, w), vq_loss

    def decode(self, z_q: torch.Tensor) -> torch.Tensor:
        """The decoder's output for quantized (or any) latents (B, D, h, w), the last layer in float32 under autocast:
        the image x_hat (mse), or the parameters of p(x|z_q), location and log scale per pixel."""
        return run_float32_head(self.decoder, z_q)

    def decode_location(self, z_q: torch.Tensor) -> torch.Tensor:
        """The image the decoder draws, clamped to [0, 1]: x_hat (mse), or the location of p(x|z_q)."""
        params = self.decode(z_q)
        return params.clamp(0.0, 1.0) if self.likelihood is None else self.likelihood.mean(params)

    def reconstruction_loss(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Per image: ||x - x_hat||^2 (mse) or -log p(x|z_q) in nats (a discretised likelihood)."""
        if self.likelihood is None:
            return (params - x).pow(2).flatten(1).sum(1)  # squared error summed over pixels
        return -self.likelihood.log_prob(params, x)

    def loss(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        z_q, _idx, vq_loss = self.quantize(self.encode(x))
        recon = self.reconstruction_loss(self.decode(z_q), x)
        return {"loss": (recon + vq_loss).mean(), "recon": recon.mean(), "vq": vq_loss.mean()}

    forward = loss  # so DistributedDataParallel sees the loss as forward()

    @property
    def data_likelihood(self):
        """p(x|z_q): the decoder's own, or (trained for squared error) the scale its prior fitted; None without."""
        return self.likelihood or getattr(self.prior, "decoder_likelihood", None)

    def evaluation_terms(self, x: torch.Tensor, generator: torch.Generator | None = None) -> EvaluationTerms:
        """With q(z|x) a point mass on the encoder's grid c*(x): recon = -log p(x|c*) (with a p(x|z)) and
        prior_nll = -log p(c*) (with a prior) of each image; their sum bounds -log p(x) (vae_core.evaluate)."""
        z_q, codes, _ = self.quantize(self.encode(x))
        params = self.decode(z_q)
        likelihood, nats = self.data_likelihood, {}
        if likelihood is not None:
            nats["recon"] = -likelihood.log_prob(params, x)
        if self.prior is not None:
            nats["prior_nll"] = -self.prior.log_prob(codes)
        location = params.clamp(0, 1) if self.likelihood is None else self.likelihood.mean(params)
        return EvaluationTerms(nats, len(nats) == 2, params, likelihood, location, codes)

    def log_importance_weights(self, x: torch.Tensor, k: int,
                               generator: torch.Generator | None = None) -> torch.Tensor:
        """log w_i = log p(c_i) + log p(x|c_i) - log q(c_i|x) of k code grids c_i per image from the proposal of
        models/code_iwae.py: (B, k). Needs the prior."""
        return code_iwae.log_weights(self, x, k, generator)

    @torch.no_grad()
    def encode_indices(self, x: torch.Tensor) -> torch.Tensor:
        """Code grid (B, h, w) of long indices for images x."""
        return self.quantize(self.encode(x))[1]

    @torch.no_grad()
    def decode_indices(self, grid: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] for a code grid (B, h, w) of indices in [0, K)."""
        grid = torch.as_tensor(grid, dtype=torch.long, device=self.codebook.device)
        return self.decode_location(self.codebook[grid].permute(0, 3, 1, 2))

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0,
               top_k: int | None = None) -> torch.Tensor:
        """n images in [0, 1]: a code grid c ~ p(c) from the prior (softmax temperature, top_k codes), decoded."""
        if self.prior is None:
            if self.prior_problem:
                raise NoPriorError(f"this VQ-VAE cannot sample: {self.prior_problem}, then load again")
            where = self.folder or "CKPT"
            raise NoPriorError(f"this VQ-VAE has no prior over its code grids, so it cannot sample: train one with "
                               f"python -m vae_core.train_prior {where} (it writes {where}/prior/), then load again")
        return self.decode_indices(self.prior.sample(n, generator, temperature, top_k))

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode_location(self.quantize(self.encode(x))[0])
