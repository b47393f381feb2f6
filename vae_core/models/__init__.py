from ..config import Config
from .prior import CodePrior
from .vae import VAE
from .vqvae import VQVAE


def build_model(cfg: Config):
    """The model class that `cfg.model` names, freshly initialised."""
    return {"vae": VAE, "vqvae": VQVAE, "prior": CodePrior}[cfg.model](cfg)


__all__ = ["VAE", "VQVAE", "CodePrior", "build_model"]
