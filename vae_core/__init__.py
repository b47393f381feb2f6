"""vae_core: VAE and VQ-VAE models, data, trainer, checkpoints and evaluation."""
__version__ = "0.1.0"

from .config import Config  # noqa: E402
from .checkpoint import CheckpointError, load, save_checkpoint  # noqa: E402
from .models import VAE, VQVAE, build_model  # noqa: E402

__all__ = ["Config", "VAE", "VQVAE", "build_model", "load", "save_checkpoint", "CheckpointError", "__version__"]
