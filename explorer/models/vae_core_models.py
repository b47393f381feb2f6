"""vae_core's VAE and VQ-VAE behind the model interface: the same numbers as vae_core computes (the adapters only
name what the explorer calls), with vae_core's decoder distribution and prior."""
import torch

from explorer.models.interface import CodeModel, LatentModel


class VaeCoreVAE(LatentModel):
    has_decoder_scale = True  # vae_core decoders give p(x|z): a location and a scale per pixel (or Bernoulli logits)

    def __init__(self, vae):
        self.vae, self.cfg = vae, vae.cfg
        self.image_shape = vae.cfg.image_shape
        self.latent_shape = (vae.cfg.latent_dim,)
        self.likelihood = vae.likelihood  # p(x|z): log_prob, mean (the location), expectation, sample
        self.description = f"vae_core VAE ({vae.cfg.arch}, {vae.cfg.likelihood})"

    def parameters(self):
        return self.vae.parameters()

    def encode(self, x):
        return self.vae.encode(x)

    def posterior(self, x):
        return self.vae.posterior(x)

    def decode(self, z):
        """The parameters of p(x|z) (vae_core VAE.decode)."""
        return self.vae.decode(z)

    def decode_location(self, z):
        return self.vae.decode_location(z)

    def log_importance_weights(self, x, k, generator=None):
        return self.vae.log_importance_weights(x, k, generator)

    @property
    def fitted_prior(self):
        """The prior over z fitted to the aggregate posterior (vae_core.fit_prior), or None."""
        return self.vae.fitted_prior

    @property
    def prior_problem(self):
        return self.vae.prior_problem

    @torch.no_grad()
    def sample_latents(self, n, generator=None, prior="fitted"):
        return self.vae.sample_latents(n, generator, prior=prior).cpu()

    @torch.no_grad()
    def sample(self, n, generator=None, temperature=1.0, prior="fitted"):
        """The fitted prior's samples when the checkpoint has one (prior="standard": N(0, I)'s)."""
        return self.vae.sample(n, generator=generator, temperature=temperature, prior=prior)


class VaeCoreVQVAE(CodeModel):
    def __init__(self, vq):
        self.vq, self.cfg = vq, vq.cfg
        self.image_shape = vq.cfg.image_shape
        self.prior, self.prior_problem = vq.prior, getattr(vq, "prior_problem", None)
        c = vq.cfg
        codes = (f"FSQ, levels {c.fsq_levels}: K = {c.num_codes}, D = {vq.codebook.shape[1]}" if c.quantizer == "fsq"
                 else f"K = {c.num_codes}, D = {c.code_dim}")
        self.description = f"vae_core VQ-VAE ({codes})"

    def parameters(self):
        return self.vq.parameters()

    @property
    def codebook(self):
        return self.vq.codebook

    @property
    def num_codes(self):
        return self.vq.cfg.num_codes

    @property
    def grid_size(self):
        return self.vq.grid_size

    def encode(self, x):
        return self.vq.encode(x)

    def quantize(self, z_e):
        z_q, indices, _ = self.vq.quantize(z_e)
        return z_q, indices

    def decode(self, z_q):
        """The image the decoder draws, in [0, 1] (vae_core VQVAE.decode_location)."""
        return self.vq.decode_location(z_q)

    def decode_indices(self, grid):
        return self.vq.decode_indices(grid)

    def reconstruct(self, x):
        return self.vq.reconstruct(x)
