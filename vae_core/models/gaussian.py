"""The VAE's posterior q(z|x) = N(mean, diag(sigma^2)), sigma = exp(log_sigma), against the prior p(z) = N(0, I).

    z = mean + sigma * eps,  eps ~ N(0, I)                              (the reparameterisation)
    KL(q || p) = 1/2 sum_j (mean_j^2 + sigma_j^2 - 1 - 2 log sigma_j)   (closed form, nats)
"""
from dataclasses import dataclass

import torch


@dataclass
class DiagonalGaussian:
    mean: torch.Tensor  # (B, k)
    log_sigma: torch.Tensor  # (B, k)

    @property
    def sigma(self) -> torch.Tensor:
        return torch.exp(self.log_sigma)

    def sample(self, generator: torch.Generator | None = None, n: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """(z, eps): n draws z = mean + sigma * eps, eps ~ N(0, I), each of shape (n, B, k); differentiable in the
        mean and log_sigma. The noise comes from `generator` (the global RNG when None)."""
        eps = torch.randn((n, *self.mean.shape), device=self.mean.device, dtype=self.mean.dtype, generator=generator)
        return self.mean + self.sigma * eps, eps

    def kl_per_dim(self) -> torch.Tensor:
        """KL(N(mean_j, sigma_j^2) || N(0, 1)) of each latent dimension j: (B, k)."""
        # 1/2 (mean^2 + sigma^2 - 1 - 2 log sigma)
        return 0.5 * (self.mean.pow(2) + torch.exp(2 * self.log_sigma) - 1.0 - 2 * self.log_sigma)

    def kl(self) -> torch.Tensor:
        """KL(q || N(0, I)) per image, summed over the latent dimensions: (B,)."""
        return self.kl_per_dim().sum(-1)
