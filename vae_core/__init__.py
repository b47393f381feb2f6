"""vae_core: VAE and VQ-VAE models, data, trainer, checkpoints and evaluation.

The names below are imported on first use, so that importing a light module (vae_core.config,
vae_core.training.run_folder) does not import torch.
"""
import importlib

__version__ = "0.3.0"

_WHERE = {"CheckpointError": "checkpoint", "load": "checkpoint", "save_checkpoint": "checkpoint", "Config": "config",
          "VAE": "models", "VQVAE": "models", "CodePrior": "models", "build_model": "models",
          "NoPriorError": "models.vqvae"}

__all__ = ["VAE", "VQVAE", "CheckpointError", "CodePrior", "Config", "NoPriorError", "__version__", "build_model",
           "load", "save_checkpoint"]


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module 'vae_core' has no attribute {name!r}")
