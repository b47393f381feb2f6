"""Vector quantizer: snap each D-dim vector to its nearest of K codebook vectors.

    z_q = e_k,  k = argmin_j ||z_e - e_j||^2
    straight-through gradient: z_q = z_e + sg[e_k - z_e]
    codebook = "loss": loss = ||sg[z_e] - e||^2 + beta * ||z_e - sg[e]||^2
    codebook = "ema":  loss = beta * ||z_e - sg[e]||^2, and e_k = m_k / N_k with
                       N_k <- decay * N_k + (1 - decay) * n_k,  m_k <- decay * m_k + (1 - decay) * sum_{i: k_i = k} z_i
Codes whose EMA count N_k falls under `dead_threshold` are restarted from encoder outputs.
"""
import math

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


class VectorQuantizer(nn.Module):
    def __init__(self, num_codes: int, code_dim: int, commitment: float = 0.25, codebook: str = "ema",
                 decay: float = 0.99, dead_threshold: float = 0.01, kmeans_init: bool = False):
        super().__init__()
        self.num_codes, self.code_dim = num_codes, code_dim
        self.commitment, self.ema, self.decay = commitment, codebook == "ema", decay
        self.dead_threshold, self.kmeans_init = dead_threshold, kmeans_init
        embedding = torch.randn(num_codes, code_dim)
        if self.ema:
            self.register_buffer("embedding", embedding)
            # counts start at 0: codes no vector picks in the first step are restarted from encoder outputs
            self.register_buffer("ema_count", torch.zeros(num_codes))
            self.register_buffer("ema_sum", torch.zeros(num_codes, code_dim))
        else:
            self.embedding = nn.Parameter(embedding)
        self.register_buffer("initialized", torch.tensor(not kmeans_init))
        self.restarts = 0  # codes restarted so far in this process (for logs)

    def nearest(self, z: torch.Tensor) -> torch.Tensor:
        """Index of the nearest code for each row of z (N, D): argmin ||z||^2 - 2 z.e + ||e||^2."""
        e = self.embedding
        d = z.pow(2).sum(1, keepdim=True) - 2 * z @ e.T + e.pow(2).sum(1)
        return d.argmin(1)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """z: (B, N, D) -> (z_q with straight-through gradient, indices (B, N), VQ loss per image (B,))."""
        z = z.float()  # distances, codebook and losses in float32, even under bf16 autocast
        flat = z.reshape(-1, self.code_dim)
        with torch.autocast(z.device.type, enabled=False):
            if self.training and not bool(self.initialized):
                self._kmeans_init(flat.detach())
            idx = self.nearest(flat.detach())
            z_q = F.embedding(idx, self.embedding).view_as(z)
            if self.ema and self.training:
                self._ema_update(flat.detach(), idx)
        commit = (z - z_q.detach()).pow(2).flatten(1).sum(1)  # ||z_e - sg[e]||^2
        loss = self.commitment * commit
        if not self.ema:
            loss = loss + (z.detach() - z_q).pow(2).flatten(1).sum(1)  # ||sg[z_e] - e||^2
        z_q = z + (z_q - z).detach()  # straight-through estimator
        return z_q, idx.view(z.shape[:-1]), loss

    # --- codebook maintenance --------------------------------------------------------------------
    @torch.no_grad()
    def _ema_update(self, z: torch.Tensor, idx: torch.Tensor) -> None:
        onehot = F.one_hot(idx, self.num_codes).type(z.dtype)  # (N, K)
        counts, sums = onehot.sum(0), onehot.T @ z
        if _distributed():
            dist.all_reduce(counts)
            dist.all_reduce(sums)
        self.ema_count.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.ema_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        # Laplace smoothing keeps e_k = m_k / N_k finite for codes with tiny counts
        n = self.ema_count.sum()
        smoothed = (self.ema_count + 1e-5) / (n + self.num_codes * 1e-5) * n
        self.embedding.copy_(self.ema_sum / smoothed.unsqueeze(1))
        self._restart_dead(z)

    @torch.no_grad()
    def _restart_dead(self, z: torch.Tensor) -> None:
        """Move codes with EMA count < dead_threshold onto random encoder outputs of this batch."""
        dead = self.ema_count < self.dead_threshold
        if _distributed():
            dist.broadcast(dead, 0)
        n_dead = int(dead.sum())
        if n_dead == 0:
            return
        pick = torch.randint(0, z.shape[0], (n_dead,), device=z.device)
        new = z[pick] + 1e-3 * torch.randn_like(z[pick])
        if _distributed():
            dist.broadcast(new, 0)  # every rank takes rank 0's choice
        self.embedding[dead] = new
        self.ema_sum[dead] = new
        self.ema_count[dead] = 1.0
        self.restarts += n_dead

    @torch.no_grad()
    def _kmeans_init(self, z: torch.Tensor, iters: int = 10) -> None:
        """Codebook <- k-means centroids of the first batch (sampled with replacement if N < K)."""
        g = torch.Generator(device="cpu").manual_seed(0)
        centroids = z[torch.randint(0, z.shape[0], (self.num_codes,), generator=g).to(z.device)].clone()
        for _ in range(iters):
            assign = torch.cdist(z, centroids).argmin(1)
            counts = torch.bincount(assign, minlength=self.num_codes).to(z.dtype)
            sums = torch.zeros_like(centroids).index_add_(0, assign, z)
            used = counts > 0
            centroids[used] = sums[used] / counts[used].unsqueeze(1)
        if _distributed():
            dist.broadcast(centroids, 0)
        self.embedding.data.copy_(centroids)
        if self.ema:
            self.ema_sum.copy_(centroids)
            self.ema_count.fill_(1.0)
        self.initialized.fill_(True)


def codebook_usage(counts: torch.Tensor) -> dict[str, float]:
    """Perplexity exp(-sum p log p), share of codes used and dead codes, from code counts over a data set."""
    counts = counts.double()
    p = counts / counts.sum().clamp(min=1)
    entropy = -(p[p > 0] * p[p > 0].log()).sum().item()
    return {
        "perplexity": math.exp(entropy),
        "codes_used": float((counts > 0).double().mean()),
        "dead_codes": int((counts == 0).sum()),
    }
