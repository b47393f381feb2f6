"""The importance-weighted bound on -log p(x) (Burda et al. 2016), for any model with log_importance_weights:

    -log p(x) <= -log (1/k) sum_i w_i,   w_i = p(x, z_i) / q(z_i|x),  z_i ~ q(z|x)

a VAE's q is its encoder's Gaussian (VAE.log_importance_weights), a VQ-VAE's the code-grid proposal of
models/code_iwae.py (VQVAE.log_importance_weights).
"""
import math
import sys

import numpy as np
import torch
from tqdm import tqdm

from ..data import to_float


@torch.no_grad()
def iwae_per_image(model, x: np.ndarray, k: int, device, max_decodes: int = 1024,
                   generator: torch.Generator | None = None, progress: bool = False, weights=None) -> torch.Tensor:
    """-log p(x) estimate of each image, -(logsumexp_i log w_i - log k): shape (N,), float64; k samples in chunks of
    at most max_decodes decoder passes (docs/benchmarks.md: why 1,024). weights(x, k, generator) -> (B, k) log w_i
    (default: model.log_importance_weights)."""
    weights = weights or model.log_importance_weights
    per_image = []
    chunk_images = max(1, min(len(x), max_decodes // min(k, max_decodes)))
    bar = tqdm(total=len(x), desc=f"IWAE bound, k={k}", unit="image", disable=not progress, file=sys.stderr,
               leave=False)
    for i in range(0, len(x), chunk_images):
        xb = to_float(x[i:i + chunk_images], device)
        chunk_k = max(1, max_decodes // len(xb))
        log_w = torch.cat([weights(xb, min(chunk_k, k - j), generator) for j in range(0, k, chunk_k)], 1)
        per_image.append(-(torch.logsumexp(log_w.double(), 1) - math.log(k)))
        bar.update(len(xb))
    bar.close()
    return torch.cat(per_image)


def iwae_nll(model, x: np.ndarray, k: int, device, max_decodes: int = 1024,
             generator: torch.Generator | None = None, progress: bool = False, weights=None) -> float:
    """The IWAE bound with k samples (iwae_per_image), averaged over images."""
    return iwae_per_image(model, x, k, device, max_decodes, generator, progress, weights).mean().item()
