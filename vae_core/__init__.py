"""vae_core: VAE and VQ-VAE models, data, trainer, checkpoints and evaluation."""
__version__ = "0.3.0"

from .checkpoint import CheckpointError, load, save_checkpoint
from .config import Config
from .models import VAE, VQVAE, CodePrior, build_model
from .models.vqvae import NoPriorError

__all__ = ["VAE", "VQVAE", "CheckpointError", "CodePrior", "Config", "NoPriorError", "__version__", "build_model", "load",
           "save_checkpoint"]
