"""What a VAE and a VQ-VAE share: a prior attached after loading, and what they hand `evaluate`.

`prior` is p(z) beside the model's own weights: for a VQ-VAE the prior over its code grids (models/prior.py,
vae_core.train_prior), for a VAE the Gaussian mixture fitted to its aggregate posterior (models/latent_prior.py,
vae_core.fit_prior). vae_core.load attaches it when <checkpoint>/prior/ holds one trained on these weights; it is kept
out of the module tree (see __setattr__), so the model's own weights are the same with or without it.
"""
from typing import NamedTuple

import torch
from torch import nn

from ..config import Config


class EvaluationTerms(NamedTuple):
    """A batch of test images as the model sees them (VAE.evaluation_terms, VQVAE.evaluation_terms)."""
    nats: dict[str, torch.Tensor]  # each image's terms of -log p(x)'s bound, nats: (B,) each
    bound: bool  # whether the terms sum to a bound on -log p(x) (a VQ-VAE needs a prior and a p(x|z) for it)
    params: torch.Tensor  # the decoder's output at the model's own z for x (the image, for squared error)
    likelihood: object  # p(x|z) for params (Likelihood), or None: squared error without a fitted scale
    location: torch.Tensor  # the reconstruction: the decoder's location, clamped to [0, 1]
    codes: torch.Tensor | None  # the code of each cell (VQ-VAE), for the codebook's usage


class LatentVariableModel(nn.Module):
    prior = None  # p(z) attached by vae_core.load, or None (see the module docstring)
    folder = None  # the checkpoint folder it was loaded from, for messages
    prior_problem = None  # why the prior in <folder>/prior/ was left off (stale), and how to retrain it
    PRIOR_KIND = ""  # the `model` a prior's config names ("prior", "latent_prior")
    PRIOR_COMMAND = ""  # how to (re)train the prior, e.g. "retrain it with python -m vae_core.train_prior"

    def __setattr__(self, name, value):
        if name in ("prior", "folder", "prior_problem"):
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def prior_mismatch(self, prior_cfg: Config) -> str | None:
        """Why a prior with config prior_cfg does not fit this model, or None."""
        raise NotImplementedError

    def how_to_train_prior(self) -> str:
        """The command that (re)trains this model's prior, with its folder."""
        return f"{self.PRIOR_COMMAND} {self.folder or 'CKPT'}"

    def evaluation_terms(self, x: torch.Tensor, generator: torch.Generator | None = None) -> EvaluationTerms:
        raise NotImplementedError

    def log_importance_weights(self, x: torch.Tensor, k: int,
                               generator: torch.Generator | None = None) -> torch.Tensor:
        """log w_i = log p(x, z_i) - log q(z_i|x) of k draws z_i ~ q(z|x) per image: (B, k), for the IWAE bound."""
        raise NotImplementedError
