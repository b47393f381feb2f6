"""Vector quantizer: snap each D-dim vector to its nearest of K codebook vectors.

    k = argmin_j ||z_e - e_j||^2,   z_q = e_k,   straight-through gradient: z_q = z_e + sg[e_k - z_e]
    VQ loss per image, summed over its N x D latent elements (the same reduction as the reconstruction term):
        codebook = "ema":  commitment * ||z_e - sg[e]||^2, and e_k = m_k / N_k with
                           N_k <- decay N_k + (1 - decay) n_k,   m_k <- decay m_k + (1 - decay) sum_{i: k_i = k} z_i
        codebook = "loss": commitment * ||z_e - sg[e]||^2 + codebook_weight * ||sg[z_e] - e||^2
Initialisation: on the first training batch, e = k-means centroids of its vectors (or, without k-means, distinct
random vectors of it), and N_k = the number of its vectors nearest to e_k.
Dead codes: N_k is an EMA of how many vectors of a batch pick code k (kept in both modes). A code is dead when
N_k < dead_threshold * n / K, a share of the equal split of the n vectors per batch, so a code at an average count
must go unused for about ln(dead_threshold) / ln(decay) steps (10 steps at 0.33 and 0.9). A dead code moves onto
a random vector of the batch (distinct vectors) with N_k set to the threshold: one more unused step and it moves again.
Defaults (decay 0.9, k-means, threshold 0.33) from benchmarks/quantizer_benchmark.py (docs/benchmarks.md, "Vector
quantizer"): with decay 0.99 codes follow the fast-moving encoder too slowly and unused ones wait ~110 steps for a
restart.
"""
import math

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def _sample_rows(z: torch.Tensor, k: int) -> torch.Tensor:
    """k rows of z, distinct when z has at least k rows (with replacement only when it has fewer)."""
    n = z.shape[0]
    pick = torch.randperm(n, device=z.device)[:k] if n >= k else torch.randint(0, n, (k,), device=z.device)
    return z[pick]


class VectorQuantizer(nn.Module):
    def __init__(self, num_codes: int, code_dim: int, commitment: float = 0.25, codebook: str = "ema",
                 decay: float = 0.9, dead_threshold: float = 0.33, kmeans_init: bool = True,
                 codebook_weight: float = 1.0):
        super().__init__()
        self.num_codes, self.code_dim = num_codes, code_dim
        self.commitment, self.codebook_weight = commitment, codebook_weight
        self.ema, self.decay = codebook == "ema", decay
        self.dead_threshold, self.kmeans_iters = dead_threshold, 10 if kmeans_init else 0
        embedding = torch.randn(num_codes, code_dim)  # a placeholder until the first training batch
        if self.ema:
            self.register_buffer("embedding", embedding)
            self.register_buffer("ema_sum", torch.zeros(num_codes, code_dim))
        else:
            self.embedding = nn.Parameter(embedding)
        self.register_buffer("ema_count", torch.zeros(num_codes))
        self.register_buffer("initialized", torch.tensor(False))
        self.restarts = 0  # codes restarted since the last pop_restarts() (for the training log)

    def nearest(self, z: torch.Tensor) -> torch.Tensor:
        """Index of the nearest code for each row of z (N, D): argmin_j ||e_j||^2 - 2 z.e_j (||z||^2 is the same for
        every j, so it is left out), as one fused matrix multiply-add."""
        e = self.embedding
        return torch.addmm(e.pow(2).sum(1), z, e.T, alpha=-2).argmin(1)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """z: (B, N, D) -> (z_q with straight-through gradient, indices (B, N), VQ loss per image (B,))."""
        z = z.float()  # distances, codebook and losses in float32, even under bf16 autocast
        flat = z.reshape(-1, self.code_dim)
        with torch.autocast(z.device.type, enabled=False):
            if self.training and not bool(self.initialized):
                self._init_codes(flat.detach())
            idx = self.nearest(flat.detach())
            z_q = F.embedding(idx, self.embedding).view_as(z)
            if self.training:
                self._update_codes(flat.detach(), idx)
        loss = self.commitment * (z - z_q.detach()).pow(2).flatten(1).sum(1)  # commitment * ||z_e - sg[e]||^2
        if not self.ema:
            loss = loss + self.codebook_weight * (z.detach() - z_q).pow(2).flatten(1).sum(1)  # w ||sg[z_e] - e||^2
        z_q = z + (z_q - z).detach()  # straight-through estimator
        return z_q, idx.view(z.shape[:-1]), loss

    def pop_restarts(self) -> int:
        """Codes restarted since the last call."""
        n, self.restarts = self.restarts, 0
        return n

    # --- codebook maintenance (no gradients) ---------------------------------------------------------
    def counts_and_sums(self, z: torch.Tensor, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """n_k = #{i: k_i = k} and sum_{i: k_i = k} z_i, by bincount and index_add (a one-hot (N, K) matrix and
        its matmul took twice as long on a CPU)."""
        counts = torch.bincount(idx, minlength=self.num_codes).to(z.dtype)
        return counts, torch.zeros_like(self.embedding).index_add_(0, idx, z)

    @torch.no_grad()
    def _update_codes(self, z: torch.Tensor, idx: torch.Tensor) -> None:
        """EMA of the counts (both modes) and, in "ema" mode, of the sums and the codes; then dead-code restarts."""
        counts, sums = self.counts_and_sums(z, idx)
        if _distributed():
            dist.all_reduce(counts)
            dist.all_reduce(sums)
        self.ema_count.lerp_(counts, 1 - self.decay)  # N_k <- decay N_k + (1 - decay) n_k
        if self.ema:
            self.ema_sum.lerp_(sums, 1 - self.decay)  # m_k <- decay m_k + (1 - decay) sum z
            # e_k = m_k / N_k, with Laplace smoothing of N_k so codes with tiny counts stay finite
            n = self.ema_count.sum()
            smoothed = (self.ema_count + 1e-5) / (n + self.num_codes * 1e-5) * n
            self.embedding.copy_(self.ema_sum / smoothed.unsqueeze(1))
        self._restart_dead(z, float(counts.sum()))

    @torch.no_grad()
    def _restart_dead(self, z: torch.Tensor, n: float) -> None:
        """Codes with N_k < dead_threshold * n / K move onto distinct random vectors z of this batch."""
        threshold = self.dead_threshold * n / self.num_codes
        dead = self.ema_count < threshold
        if _distributed():
            dist.broadcast(dead, 0)
        n_dead = int(dead.sum())
        if n_dead == 0:
            return
        new = _sample_rows(z, n_dead)
        if _distributed():
            dist.broadcast(new, 0)  # every rank takes rank 0's choice
        self.embedding.data[dead] = new
        self.ema_count[dead] = threshold
        if self.ema:
            self.ema_sum[dead] = threshold * new  # so that m_k / N_k = the new code
        self.restarts += n_dead

    @torch.no_grad()
    def _init_codes(self, z: torch.Tensor) -> None:
        """e <- k-means centroids of the first batch (Lloyd's iterations from distinct random vectors of it)."""
        centroids = _sample_rows(z, self.num_codes).clone()
        for _ in range(self.kmeans_iters):
            assign = torch.cdist(z, centroids).argmin(1)
            counts = torch.bincount(assign, minlength=self.num_codes).to(z.dtype)
            sums = torch.zeros_like(centroids).index_add_(0, assign, z)
            used = counts > 0
            centroids[used] = sums[used] / counts[used].unsqueeze(1)  # an empty cluster keeps its vector
        if _distributed():
            dist.broadcast(centroids, 0)
        self.embedding.data.copy_(centroids)
        counts = torch.bincount(self.nearest(z), minlength=self.num_codes).to(z.dtype)
        if _distributed():
            dist.all_reduce(counts)
        self.ema_count.copy_(counts)  # N_k: the vectors of this batch that pick e_k
        if self.ema:
            self.ema_sum.copy_(counts.unsqueeze(1) * centroids)
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
