from ..config import Config
from .vae import VAE
from .vqvae import VQVAE


def build_model(cfg: Config):
    """The model class that `cfg.model` names, freshly initialised."""
    return {"vae": VAE, "vqvae": VQVAE}[cfg.model](cfg)


__all__ = ["VAE", "VQVAE", "build_model"]
