from ..config import Config
from .latent_prior import GaussianMixture
from .prior import CodePrior
from .vae import VAE
from .vqvae import VQVAE


def build_model(cfg: Config):
    """The model class that `cfg.model` names, freshly initialised."""
    return {"vae": VAE, "vqvae": VQVAE, "prior": CodePrior, "latent_prior": GaussianMixture}[cfg.model](cfg)


__all__ = ["VAE", "VQVAE", "CodePrior", "GaussianMixture", "build_model"]
