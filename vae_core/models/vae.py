"""Variational autoencoder with a diagonal Gaussian posterior q(z|x) and a N(0, I) prior.

    loss = -ELBO = -E_q[log p(x|z)] + beta * KL(q(z|x) || N(0, I))   (per image, averaged over the batch)

After training, a prior fitted to the aggregate posterior (models/latent_prior.py, vae_core.fit_prior) may come
with the checkpoint: `sample` draws z from it by default, which lands where the images' posteriors are.
"""
import math

import torch
from torch import nn

from ..config import Config
from .base import EvaluationTerms, LatentVariableModel
from .gaussian import DiagonalGaussian
from .likelihood import Likelihood, soft_clamp
from .nets import down4, mlp_decoder, mlp_encoder, run_float32_head, up4

LOG_SIGMA_RANGE = (-10.0, 10.0)  # the encoder's log sigma, softly bounded


PRIORS = ("fitted", "standard")  # sample(prior=...): the fitted prior over z when there is one, or N(0, I)


class VAE(LatentVariableModel):
    # `prior`: p(z) fitted to the aggregate posterior (models/latent_prior.py), or None: N(0, I) (models/base.py)
    PRIOR_KIND = "latent_prior"
    PRIOR_COMMAND = "refit it with python -m vae_core.fit_prior"

    @property
    def fitted_prior(self):
        """The prior fitted to the aggregate posterior, or None: `prior`, under the name the figures' keys use."""
        return self.prior

    def prior_mismatch(self, prior_cfg: Config) -> str | None:
        if (prior_cfg.model, prior_cfg.latent_dim) != (self.PRIOR_KIND, self.cfg.latent_dim):
            return (f"{prior_cfg.model} over {prior_cfg.latent_dim}-D z, the VAE's z is {self.cfg.latent_dim}-D")
        return None

    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        c, h, w = cfg.image_shape
        k = cfg.latent_dim
        self.likelihood = Likelihood(cfg.likelihood, cfg.image_shape, cfg.scale, cfg.fixed_scale)
        out = c * self.likelihood.params_per_pixel  # location (and log scale) of each pixel
        if cfg.arch == "mlp":
            self.encoder = mlp_encoder(c * h * w, cfg.hidden, 2 * k)
            self.decoder = mlp_decoder(k, cfg.hidden, (out, h, w))
        else:
            # The encoder is half as wide as the decoder: the decoder sets the likelihood, and a narrower encoder
            # trains as well per epoch and faster (benchmarks/conv_vae_sweep.py).
            g, width = h // 4, cfg.width
            self.encoder = nn.Sequential(
                *down4(c, width // 2), nn.ReLU(), nn.Flatten(), nn.Linear(width * g * g, 2 * k)
            )
            self.decoder = nn.Sequential(
                nn.Linear(k, 2 * width * g * g), nn.ReLU(), nn.Unflatten(1, (2 * width, g, g)),
                *up4(2 * width, width, out)
            )

    # --- the maths ---------------------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z|x) = N(mu, diag(sigma^2)): returns (mu, log sigma)."""
        mu, log_sigma = self.encoder(x).float().chunk(2, dim=1)  # float32 even under bf16 autocast
        return mu, soft_clamp(log_sigma, *LOG_SIGMA_RANGE)

    def posterior(self, x: torch.Tensor) -> DiagonalGaussian:
        """q(z|x) = N(mu(x), diag(sigma(x)^2))."""
        return DiagonalGaussian(*self.encode(x))

    def reparameterize(self, mu: torch.Tensor, log_sigma: torch.Tensor, n: int = 1,
                       generator: torch.Generator | None = None) -> torch.Tensor:
        """z = mu + sigma * eps, eps ~ N(0, I); n samples -> shape (n, batch, latent)."""
        return DiagonalGaussian(mu, log_sigma).sample(generator, n)[0]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Parameters of p(x|z), in float32: logits (bernoulli), or location (and log scale) of each pixel."""
        return run_float32_head(self.decoder, z)

    def decode_location(self, z: torch.Tensor) -> torch.Tensor:
        """The decoder's location clamped to [0, 1], as an image: for Bernoulli sigmoid(logits), which is E[x|z];
        for the discretised likelihoods not E[x|z], which also feels the edge bins (Likelihood.expectation)."""
        return self.likelihood.mean(self.decode(z))


    @staticmethod
    def kl(mu: torch.Tensor, log_sigma: torch.Tensor) -> torch.Tensor:
        """KL(N(mu, sigma^2) || N(0, 1)) = 1/2 sum(mu^2 + sigma^2 - 1 - 2 log sigma), per image."""
        return DiagonalGaussian(mu, log_sigma).kl()

    def loss(self, x: torch.Tensor, generator: torch.Generator | None = None, samples: int | None = None,
             beta: float | None = None) -> dict[str, torch.Tensor]:
        """-ELBO with L samples of z (default cfg.mc_samples) and the KL weighted by beta (default cfg.beta); every
        term in nats per image, averaged over the batch."""
        q = self.posterior(x)
        L = self.cfg.mc_samples if samples is None else samples
        beta = self.cfg.beta if beta is None else beta
        z = self.reparameterize(q.mean, q.log_sigma, L, generator)  # (L, B, k), drawn by q.sample
        params = self.decode(z.flatten(0, 1))
        x_rep = x.expand(L, *x.shape).flatten(0, 1)
        recon = -self.likelihood.log_prob(params, x_rep).view(L, -1).mean(0)  # -E_q[log p(x|z)] by Monte Carlo
        kl = q.kl()
        total = recon + beta * kl
        return {"loss": total.mean(), "recon": recon.mean(), "kl": kl.mean()}

    forward = loss  # so DistributedDataParallel sees the loss as forward()

    def evaluation_terms(self, x: torch.Tensor, generator: torch.Generator | None = None) -> EvaluationTerms:
        """recon = -E_q[log p(x|z)] (cfg.mc_samples draws) and kl = KL(q(z|x) || N(0, I)) of each image; the
        reconstruction is the decoder's location at z = mu(x)."""
        q = self.posterior(x)
        L = self.cfg.mc_samples
        z = q.sample(generator, L)[0]  # (L, B, k)
        log_px = self.likelihood.log_prob(self.decode(z.flatten(0, 1)), x.expand(L, *x.shape).flatten(0, 1))
        params = self.decode(q.mean)  # p(x|z) at z = mu(x)
        return EvaluationTerms({"recon": -log_px.view(L, -1).mean(0), "kl": q.kl()}, True, params, self.likelihood,
                               self.likelihood.mean(params), None)

    def log_importance_weights(self, x: torch.Tensor, k: int, generator: torch.Generator | None = None,
                               prior: str = "standard") -> torch.Tensor:
        """log w_i = log p(x|z_i) + log p(z_i) - log q(z_i|x), z_i ~ q(z|x): shape (batch, k).
        p(z) is N(0, I), or with prior="fitted" the fitted prior (which must be there)."""
        return sum(self.log_importance_terms(x, k, generator, prior)).T

    def log_importance_terms(self, x: torch.Tensor, k: int, generator: torch.Generator | None = None,
                             prior: str = "standard") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(log p(x|z_i), log p(z_i), -log q(z_i|x)), z_i ~ q(z|x), each (k, batch); p(z) as in
        log_importance_weights."""
        mu, log_sigma = self.encode(x)
        z = self.reparameterize(mu, log_sigma, k, generator)  # (k, B, d)
        params = self.decode(z.flatten(0, 1))
        log_px_z = self.likelihood.log_prob(params, x.expand(k, *x.shape).flatten(0, 1)).view(k, -1)
        d = mu.shape[1]
        eps = (z - mu) * torch.exp(-log_sigma)
        log_qz = -0.5 * (eps.pow(2).sum(-1) + d * math.log(2 * math.pi)) - log_sigma.sum(-1)
        return log_px_z, self.log_prior(z, prior), -log_qz

    def log_prior(self, z: torch.Tensor, prior: str = "standard") -> torch.Tensor:
        """log p(z): N(0, I)'s -1/2 (||z||^2 + d log 2 pi), or the fitted prior's (prior="fitted"): (..., d) -> (...)"""
        if prior == "fitted":
            if self.prior is None:
                raise ValueError(f"this VAE has no fitted prior: {self._how_to_fit()}")
            return self.prior.log_prob(z)
        if prior != "standard":
            raise ValueError(f"prior must be one of {PRIORS}, got {prior!r}")
        return -0.5 * (z.pow(2).sum(-1) + z.shape[-1] * math.log(2 * math.pi))

    def _how_to_fit(self) -> str:
        if self.prior_problem:
            return self.prior_problem
        where = self.folder or "CKPT"
        return f"fit one with python -m vae_core.fit_prior {where} (it writes {where}/prior/), then load again"

    @torch.no_grad()
    def sample_latents(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0,
                       prior: str = "fitted") -> torch.Tensor:
        """n draws of z (n, d): prior="fitted" from the fitted prior when the VAE has one (its component noise
        times temperature), else, and with prior="standard", z ~ N(0, temperature^2 I)."""
        if prior not in PRIORS:
            raise ValueError(f"prior must be one of {PRIORS} (fitted: the prior fitted to the aggregate posterior "
                             f"when the checkpoint has one, else N(0, I); standard: N(0, I)), got {prior!r}")
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        device = next(self.parameters()).device
        if prior == "fitted" and self.prior is not None:
            return self.prior.sample(n, generator, temperature).to(device)
        return temperature * torch.randn(n, self.cfg.latent_dim, generator=generator).to(device)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0,
               top_k: int | None = None, prior: str = "fitted") -> torch.Tensor:
        """n images in [0, 1], the decoder's location at z ~ p(z) (sample_latents: the fitted prior when there is
        one, or N(0, temperature^2 I) with prior="standard").

        top_k is the VQ-VAE's (a cut-off over its discrete codes): a VAE's latent is continuous, so it must be None.
        """
        if top_k is not None:
            raise ValueError("top_k applies to a VQ-VAE's prior over discrete codes; a VAE samples a continuous z: "
                             "pass top_k=None")
        return self.decode_location(self.sample_latents(n, generator, temperature, prior))

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """The decoder's location at z = mu(x), the posterior mean, clamped to [0, 1] (what evaluate's MSE uses)."""
        return self.decode_location(self.encode(x)[0])
