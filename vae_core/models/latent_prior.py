"""A VAE's fitted prior: a Gaussian mixture over z, fitted (vae_core.fit_prior, EM in vae_core.training.em) to the VAE's
aggregate posterior q(z) = 1/N sum_n q(z|x_n) over the training split.

    p(z) = sum_k w_k N(z; m_k, L_k L_k^T),   w = softmax(logits),  L_k lower triangular (a Cholesky factor)
    log N(z; m, L L^T) = -1/2 ||L^{-1} (z - m)||^2 - sum_j log L_jj - d/2 log(2 pi)

The VAE is trained against N(0, I), but the images' posteriors do not fill N(0, I): decoding z ~ N(0, I) lands
partly where no image's posterior is (the prior hole) and gives blobs. Sampling z from this mixture instead draws
where the posteriors are (ex-post density estimation, Ghosh et al. 2020). A diagonal covariance is stored the same
way (L_k diagonal), so there is one code path.

The parameters are buffers (float64): fitted by EM, never by an optimiser.
"""
import math

import torch
from torch import nn

from ..config import Config

POINT_CHUNK = 4096  # points per batched triangular solve in log_prob: (K, d, 4096) float64 at a time


def component_log_prob(z: torch.Tensor, log_w: torch.Tensor, means: torch.Tensor,
                       scale_tril: torch.Tensor) -> torch.Tensor:
    """log w_k + log N(z_n; m_k, L_k L_k^T): (N, d) -> (N, K); L_k^{-1} (z - m_k) by batched triangular solves."""
    half_log_det = torch.log(torch.diagonal(scale_tril, dim1=1, dim2=2)).sum(1)  # sum_j log L_jj
    const = 0.5 * z.shape[1] * math.log(2 * math.pi)
    out = []
    for i in range(0, len(z), POINT_CHUNK):
        diff = (z[i:i + POINT_CHUNK, None, :] - means[None]).permute(1, 2, 0)  # (K, d, n)
        y = torch.linalg.solve_triangular(scale_tril, diff, upper=False)
        out.append((log_w[:, None] - 0.5 * y.pow(2).sum(1) - half_log_det[:, None] - const).T)
    return torch.cat(out) if out else z.new_zeros(0, len(log_w))


class GaussianMixture(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        k, d = cfg.gmm_components, cfg.latent_dim
        self.register_buffer("logits", torch.zeros(k, dtype=torch.float64))  # log w_k up to a constant
        self.register_buffer("means", torch.zeros(k, d, dtype=torch.float64))  # m_k
        self.register_buffer("scale_tril", torch.eye(d, dtype=torch.float64).repeat(k, 1, 1))  # L_k

    @property
    def latent_dim(self) -> int:
        return self.means.shape[1]

    def set_parameters(self, log_weights: torch.Tensor, means: torch.Tensor, scale_tril: torch.Tensor) -> None:
        """Replace w, m and L (from EM); log_weights need not be normalised."""
        self.logits.copy_(log_weights)
        self.means.copy_(means)
        self.scale_tril.copy_(torch.tril(scale_tril))

    # --- the maths -----------------------------------------------------------------------------
    def component_log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log w_k + log N(z; m_k, L_k L_k^T) for every point and component: (N, d) -> (N, K), float64."""
        return component_log_prob(z.to(self.means), torch.log_softmax(self.logits, 0), self.means, self.scale_tril)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z) = logsumexp_k (log w_k + log N(z; m_k, L_k L_k^T)), nats: (..., d) -> (...), in z's dtype."""
        flat = z.reshape(-1, z.shape[-1])
        return torch.logsumexp(self.component_log_prob(flat), 1).to(z.dtype).reshape(z.shape[:-1])

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0) -> torch.Tensor:
        """n draws z = m_k + temperature L_k eps, k ~ Categorical(w), eps ~ N(0, I): (n, d) float32.
        The randomness comes from `generator` (the global RNG when None), so a seed reproduces the draws."""
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        where = generator.device if generator is not None else torch.device("cpu")
        w = torch.softmax(self.logits, 0).to(where)
        k = torch.multinomial(w, n, replacement=True, generator=generator)
        eps = torch.randn(n, self.latent_dim, generator=generator, device=where, dtype=torch.float64)
        k, eps = k.to(self.means.device), eps.to(self.means.device)
        z = self.means[k] + temperature * (self.scale_tril[k] @ eps[:, :, None]).squeeze(2)
        return z.float()
