"""2-D projections of latent codes and codebooks, computed once and cached on disk next to the checkpoint.

The cache file name holds a hash of the weights, the images and the projection settings, so a retrained
model, other data or other settings never reuse a stale projection. UMAP is imported only when a cache is
missing: an app start with warm caches neither imports nor fits it. Computing one reports its progress to
`progress(fraction, what)`: the encoding batches, then UMAP's epochs (through tqdm, which gr.Progress(track_tqdm=True)
follows in the app and which prints a bar in `python -m explorer.precompute`).
"""
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from explorer.compute.posterior import mean_kl_per_dim
from explorer.service.sampled_umap import SAMPLED, sampled_settings, sampled_umap_2d
from vae_core.data import to_float
from vae_core.models.quantize import codebook_usage

PROJECTIONS = "projections"  # the cache folder inside a checkpoint (or inside $VAE_EXPLORER_CACHE)
SMALL_CODEBOOK = 64  # codebooks of fewer codes are mapped by PCA (UMAP needs more points)
ENCODING = 0.3  # the share of the progress bar for encoding; UMAP gets the rest


def no_progress(fraction: float, what: str) -> None:
    pass


MAP_METHODS = {"umap": "UMAP of the posterior means", "identity": "the 2-D latent itself",
               "given": "positions given with the images"}  # what each LatentProjection.method draws, in words
SETTINGS = {"umap": {"n_neighbors": 15, "min_dist": 0.1, "random_state": 0}, "version": 1}


@dataclass
class LatentProjection:
    latents: np.ndarray  # (N, d) posterior means mu(x)
    coords: np.ndarray  # (N, 2) map positions
    labels: np.ndarray  # (N,) class per point, -1 when unlabelled
    kl_per_dim: np.ndarray | None  # (d,) mean KL of each latent dimension over the data (None: widths not given)
    method: str  # "umap", "identity" (2-D latents are their own map) or "given" (a Parquet's x, y)
    log_sigma: np.ndarray | None = None  # (N, d) posterior log standard deviations (None in caches made before)


@dataclass
class CodebookProjection:
    grids: np.ndarray  # (N, h, w) code index grid of each image
    counts: np.ndarray  # (K,) uses of each code over the data
    coords: np.ndarray  # (K, 2) map of the codebook vectors
    method: str  # "umap" or "pca"

    def usage(self) -> dict:
        return codebook_usage(torch.from_numpy(self.counts))


def cache_key(weights: Path, x: np.ndarray, kind: str) -> str:
    h = hashlib.sha256()
    h.update(weights.read_bytes())
    h.update(np.ascontiguousarray(x).tobytes())
    h.update(json.dumps({"kind": kind, **SETTINGS, **sampled_settings(len(x))}, sort_keys=True).encode())
    return h.hexdigest()[:16]


def cache_path(ckpt_dir: Path, weights: Path, x: np.ndarray, kind: str) -> Path:
    """<checkpoint>/projections/<kind>-<hash>.npz, or a user cache folder when the checkpoint is read-only."""
    name = f"{kind}-{cache_key(weights, x, kind)}.npz"
    folder = ckpt_dir / PROJECTIONS
    if not os.access(folder if folder.exists() else ckpt_dir, os.W_OK):
        folder = Path(os.environ.get("VAE_EXPLORER_CACHE", Path.home() / ".cache" / "vae-explorer")) / PROJECTIONS
    return folder / name


def umap_2d(points: np.ndarray, progress=no_progress) -> np.ndarray:
    """(N, 2) UMAP map of points: a full fit up to SAMPLED["above"] points, above it a fit on a sample and the rest
    placed by their nearest sample points (sampled_umap.py), so the cost stays bounded as N grows."""
    if len(points) > SAMPLED["above"]:
        return sampled_umap_2d(points, SETTINGS["umap"], ENCODING, progress)
    progress(ENCODING, f"UMAP of {len(points)} points: compiling (numba, first run only) and fitting")
    import umap  # slow import (numba): only here, never at app start

    epochs = {"disable": False, "desc": f"UMAP of {len(points)} points: epochs"}  # tqdm: followed by gr.Progress
    out = umap.UMAP(n_components=2, tqdm_kwds=epochs, **SETTINGS["umap"]).fit_transform(points).astype(np.float32)
    progress(1.0, "UMAP done")
    return out


def pca_2d(points: np.ndarray) -> np.ndarray:
    centred = points - points.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return (centred @ vt[:2].T).astype(np.float32)


def batches(x: np.ndarray, batch_size: int, what: str, progress):
    """x in batches, reporting each to progress() over the first ENCODING of the bar."""
    n = -(-len(x) // batch_size)
    for b in range(n):
        progress(ENCODING * b / n, f"{what} {len(x)} test images: batch {b + 1} of {n}")
        yield to_float(x[b * batch_size:(b + 1) * batch_size])


@torch.no_grad()
def encode_latents(model, x: np.ndarray, batch_size: int = 1000, progress=no_progress) -> tuple:
    """What a VAE's encoder says of images x: (mu (N, d), log sigma (N, d), mean KL of each dimension (d,))."""
    posteriors = [model.posterior(xb) for xb in batches(x, batch_size, "encoding", progress)]  # q(z|x)
    a = lambda t: t.cpu().numpy().astype(np.float32)
    kl = torch.cat([q.kl_per_dim() for q in posteriors]).mean(0)  # mean KL of each dimension
    return a(torch.cat([q.mean for q in posteriors])), a(torch.cat([q.log_sigma for q in posteriors])), a(kl)


def codebook_map(codebook: np.ndarray, progress=no_progress) -> tuple[np.ndarray, str]:
    """(K, 2) map of the code vectors and its method: PCA under SMALL_CODEBOOK codes, else UMAP."""
    small = len(codebook) < SMALL_CODEBOOK
    return (pca_2d(codebook), "pca") if small else (umap_2d(codebook, progress), "umap")


@torch.no_grad()
def encode_codes(model, x: np.ndarray, batch_size: int = 1000, progress=no_progress) -> tuple:
    """What a VQ-VAE's encoder says of images x: (code grids (N, h, w), uses of each code (K,), codebook (K, D))."""
    grids = torch.cat([model.encode_indices(xb).cpu() for xb in batches(x, batch_size, "quantising", progress)])
    counts = torch.bincount(grids.flatten(), minlength=model.num_codes).numpy()
    return grids.numpy().astype(np.int16), counts, model.codebook.detach().cpu().numpy()


def encode(model, x: np.ndarray, progress=no_progress) -> tuple:
    """encode_latents or encode_codes, by the model's kind."""
    return (encode_latents if model.kind == "vae" else encode_codes)(model, x, progress=progress)


def latent_projection(encoded: tuple, y: np.ndarray | None, progress=no_progress) -> LatentProjection:
    """The map of a VAE's images from their encode_latents: UMAP of mu, or mu itself for a 2-D latent."""
    latents, log_sigma, kl = encoded
    identity = latents.shape[1] == 2
    coords = latents.copy() if identity else umap_2d(latents, progress)
    labels = y.astype(np.int64) if y is not None else np.full(len(latents), -1)
    return LatentProjection(latents, coords, labels, kl, "identity" if identity else "umap", log_sigma)


def codebook_projection(encoded: tuple, progress=no_progress) -> CodebookProjection:
    """The map of a VQ-VAE's codebook from its images' encode_codes: PCA below 64 codes, else UMAP."""
    grids, counts, codebook = encoded
    coords, method = codebook_map(codebook, progress)
    return CodebookProjection(grids, counts, coords, method)


def project_latents(model, x: np.ndarray, y: np.ndarray | None, batch_size: int = 1000,
                    progress=no_progress) -> LatentProjection:
    return latent_projection(encode_latents(model, x, batch_size, progress), y, progress)


def project_codebook(model, x: np.ndarray, batch_size: int = 1000, progress=no_progress) -> CodebookProjection:
    return codebook_projection(encode_codes(model, x, batch_size, progress), progress)


def project(kind: str, encoded: tuple, y: np.ndarray | None, progress=no_progress):
    """The projection of one kind ("latent" or "codebook") from the images' encodings."""
    return latent_projection(encoded, y, progress) if kind == "latent" else codebook_projection(encoded, progress)


def cached_coords(ckpt_dir: Path, weights: Path | None, points: np.ndarray, kind: str, compute) -> np.ndarray:
    """compute() (an (N, 2) map of points), cached on disk like a projection (named by the weights and points)."""
    if weights is None:
        return compute()
    path = cache_path(ckpt_dir, weights, points, kind)
    if path.exists():
        with np.load(path, allow_pickle=False) as f:
            return f["coords"]
    coords = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp-{os.getpid()}.npz")
    np.savez(tmp, coords=coords)
    os.replace(tmp, path)
    return coords


def given_latents(ckpt_dir: Path, weights: Path | None, latents: np.ndarray, log_sigma: np.ndarray | None,
                  coords: np.ndarray | None, labels: np.ndarray, progress=no_progress) -> LatentProjection:
    """A VAE's projection from latents encoded elsewhere (a Parquet's): nothing is encoded. The map is the given x, y,
    else the latent itself (2-D), else a UMAP of the latents (cached as a computed one is)."""
    kl = mean_kl_per_dim(latents, log_sigma) if log_sigma is not None else None
    if coords is not None:
        method = "given"
    elif latents.shape[1] == 2:
        coords, method = latents.copy(), "identity"
    else:
        coords = cached_coords(ckpt_dir, weights, latents, "given-latent", lambda: umap_2d(latents, progress))
        method = "umap"
    return LatentProjection(latents, np.asarray(coords, np.float32), labels.astype(np.int64), kl, method, log_sigma)


def given_codes(ckpt_dir: Path, weights: Path | None, model, grids: np.ndarray, progress=no_progress) \
        -> CodebookProjection:
    """A VQ-VAE's projection from code grids (N, h * w) found elsewhere (a Parquet's): nothing is encoded."""
    g = model.grid_size
    grids = grids.reshape(len(grids), g, g).astype(np.int16)
    counts = np.bincount(grids.reshape(-1), minlength=model.num_codes)
    codebook = model.codebook.detach().cpu().numpy()
    coords = cached_coords(ckpt_dir, weights, codebook, "codebook-map", lambda: codebook_map(codebook, progress)[0])
    return CodebookProjection(grids, counts, coords, "pca" if len(codebook) < SMALL_CODEBOOK else "umap")


def load_or_compute(ckpt_dir: Path, weights: Path, model, x: np.ndarray, y: np.ndarray | None, log=print,
                    progress=no_progress, encoded=None):
    """The checkpoint's projection for images x, from the disk cache or computed (reporting to progress) and cached;
    `weights` is the model's weights file (its hash names the cache). `encoded(progress)` gives the images' encodings
    when one is needed (default: `encode(model, x, progress)`; the store's runs on the GPU on a ZeroGPU Space)."""
    kind = "latent" if model.kind == "vae" else "codebook"
    encoded = encoded or (lambda progress: encode(model, x, progress))
    if weights is None:  # a module given from Python: nothing on disk to name a cache after
        return project(kind, encoded(progress), y, progress)
    path = cache_path(ckpt_dir, weights, x, kind)
    cls = LatentProjection if kind == "latent" else CodebookProjection
    if path.exists():
        with np.load(path, allow_pickle=False) as f:
            return cls(**{k: (str(f[k]) if k == "method" else f[k]) for k in f.files})
    log(f"projecting {len(x)} images for {ckpt_dir.name} (once; cached in {path})")
    proj = project(kind, encoded(progress), y, progress)
    progress(1.0, "projection done")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp-{os.getpid()}.npz")
    np.savez_compressed(tmp, **proj.__dict__)
    os.replace(tmp, path)
    return proj
