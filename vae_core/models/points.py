"""VAE and VQ-VAE for 2-D points (toy data sets whose data space is a plane), with MLP bodies, small enough to train
live. They reuse the image models' maths: PointVAE is a VAE (posterior, reparameterize, kl, loss: the same -ELBO
with L samples and beta) whose likelihood is a continuous Gaussian over the point's coordinates; PointVQVAE puts
one code vector per point through the same VectorQuantizer (straight-through gradient, commitment and codebook
losses or EMA, k-means init, dead-code restarts).

    PointVAE:    -ELBO = -E_q[log N(x; loc(z), diag(scale(z)^2))] + beta KL(q(z|x) || N(0, I))   (nats per point)
    PointVQVAE:  loss = ||x - dec(z_q)||^2 + VQ loss,  z_q = nearest code to z_e = enc(x)           (per point)
"""
import math

import torch
from torch import nn

from ..config import Config
from .likelihood import LOG_SCALE_FLOOR, soft_clamp
from .quantize import VectorQuantizer
from .vae import VAE

POINT_DIM = 2  # coordinates of a data point


def point_mlp(in_features: int, hidden: int, out_features: int) -> nn.Sequential:
    """in -> hidden -> hidden -> out, ReLU between."""
    return nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, out_features))


class PointGaussian(nn.Module):
    """p(x|z) = N(x; loc, diag(scale^2)) over a point's coordinates, loc and log scale from the decoder: a density,
    so -log p is in nats per point (not a code length, and not bits/dim)."""

    params_per_pixel = 2  # location and log scale of each coordinate

    @staticmethod
    def location_and_log_scale(params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        loc, raw = params.float().chunk(2, dim=1)
        return loc, soft_clamp(raw, LOG_SCALE_FLOOR)

    def log_prob(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """log N(x; loc, scale^2) = sum_d -1/2 ((x_d - loc_d) / s_d)^2 - log s_d - 1/2 log 2 pi: shape (batch,)."""
        loc, log_scale = self.location_and_log_scale(params)
        u = (x.float() - loc) * torch.exp(-log_scale)
        return (-0.5 * u.pow(2) - log_scale - 0.5 * math.log(2 * math.pi)).sum(1)

    def mean(self, params: torch.Tensor) -> torch.Tensor:
        """E[x|z] = loc."""
        return self.location_and_log_scale(params)[0]

    def sample(self, params: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """x = loc + scale * eps, eps ~ N(0, I)."""
        loc, log_scale = self.location_and_log_scale(params)
        return loc + log_scale.exp() * torch.randn(loc.shape, generator=generator, device=loc.device)


def point_config(**settings) -> Config:
    """A Config for a point model: `latent_dim`, `hidden`, `beta`, `mc_samples` (VAE); `num_codes`, `commitment`,
    `codebook`, `codebook_weight`, `ema_decay`, `dead_threshold`, `kmeans_init` (VQ-VAE); code_dim is 2."""
    return Config(**{"hidden": 64, "latent_dim": 2, "code_dim": POINT_DIM, "data": "points", **settings})


class PointVAE(VAE):
    """The VAE's maths (vae.py) over 2-D points: MLP encoder x -> (mu, log sigma), MLP decoder z -> (loc, log scale)."""

    def __init__(self, cfg: Config):
        nn.Module.__init__(self)  # VAE.__init__ builds image bodies; these are the point ones
        self.cfg = cfg
        self.likelihood = PointGaussian()
        self.encoder = point_mlp(POINT_DIM, cfg.hidden, 2 * cfg.latent_dim)
        self.decoder = point_mlp(cfg.latent_dim, cfg.hidden, POINT_DIM * PointGaussian.params_per_pixel)


class PointVQVAE(nn.Module):
    """x -> z_e (2-D, the codes' plane) -> nearest of K codes (VectorQuantizer) -> x_hat."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        self.encoder = point_mlp(POINT_DIM, cfg.hidden, cfg.code_dim)
        self.quantizer = VectorQuantizer(cfg.num_codes, cfg.code_dim, cfg.commitment, cfg.codebook, cfg.ema_decay,
                                         cfg.dead_threshold, cfg.kmeans_init, cfg.codebook_weight)
        self.decoder = point_mlp(cfg.code_dim, cfg.hidden, POINT_DIM)

    @property
    def codebook(self) -> torch.Tensor:
        return self.quantizer.embedding

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """z_e(x): (B, D)."""
        return self.encoder(x)

    def quantize(self, z_e: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(z_q (B, D) with the straight-through gradient, code indices (B,), VQ loss per point (B,))."""
        z_q, idx, vq_loss = self.quantizer(z_e.unsqueeze(1))
        return z_q.squeeze(1), idx.squeeze(1), vq_loss

    def decode(self, z_q: torch.Tensor) -> torch.Tensor:
        return self.decoder(z_q)

    def loss(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """||x - dec(z_q)||^2 + VQ loss, per point, averaged over the batch (VQVAE.loss over 2-D points)."""
        z_q, _idx, vq_loss = self.quantize(self.encode(x))
        recon = (self.decode(z_q) - x).pow(2).sum(1)
        return {"loss": (recon + vq_loss).mean(), "recon": recon.mean(), "vq": vq_loss.mean()}

    forward = loss

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.quantize(self.encode(x))[0])
