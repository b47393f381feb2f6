"""2-D projections of latent codes and codebooks, computed once and cached on disk next to the checkpoint.

The cache file name holds a hash of the weights, the images and the projection settings, so a retrained
model, other data or other settings never reuse a stale projection. UMAP is imported only when a cache is
missing: an app start with warm caches neither imports nor fits it. A VAE's map comes in two steps (LatentCache):
the images encoded (in resumable batches, encoding.py) and drawn on their top two principal directions at once,
then UMAP of the same latents, which the app computes in the background (map_jobs.py). Computing one reports its
progress to `progress(fraction, what)`: the encoding batches, then UMAP's epochs (read from its tqdm bar).
"""
import hashlib
import io
import json
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from explorer.compute.posterior import mean_kl_per_dim
from explorer.service.encoding import discard, encode_posteriors
from explorer.service.sampled_umap import SAMPLED, sampled_settings, sampled_umap_2d
from vae_core.data import to_float
from vae_core.models.quantize import codebook_usage

PROJECTIONS = "projections"  # the cache folder inside a checkpoint (or inside $VAE_EXPLORER_CACHE)
SMALL_CODEBOOK = 64  # codebooks of fewer codes are mapped by PCA (UMAP needs more points)
ENCODING = 0.3  # the share of the progress bar for encoding; UMAP gets the rest
GIVEN_UMAP = "given-latent"  # the cache kind of the UMAP of latents encoded elsewhere


def no_progress(fraction: float, what: str) -> None:
    pass


MAP_METHODS = {"umap": "UMAP of the posterior means", "identity": "the 2-D latent itself",
               "given": "positions given with the images",
               "pca": "linear (PCA) map of the posterior means"}  # what each LatentProjection.method draws, in words
SETTINGS = {"umap": {"n_neighbors": 15, "min_dist": 0.1, "random_state": 0}, "version": 1}


@dataclass
class LatentProjection:
    latents: np.ndarray  # (N, d) posterior means mu(x)
    coords: np.ndarray  # (N, 2) map positions
    labels: np.ndarray  # (N,) class per point, -1 when unlabelled
    kl_per_dim: np.ndarray | None  # (d,) mean KL of each latent dimension over the data (None: widths not given)
    method: str  # "umap", "identity" (2-D latents are their own map), "pca" (the linear map shown until UMAP's) or
    #              "given" (a Parquet's x, y)
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


class _EpochStream(io.TextIOBase):
    """Where UMAP's tqdm bar writes: read for the epochs done ("... 45/200 ..."), each twentieth passed on."""

    def __init__(self, report):
        super().__init__()
        self.report, self.last = report, -1

    def write(self, text: str) -> int:
        if m := re.search(r"(\d+)/(\d+)", text):
            done, total = int(m[1]), max(1, int(m[2]))
            if 20 * done // total != self.last:
                self.last = 20 * done // total
                self.report(done / total)
        return len(text)


def umap_2d(points: np.ndarray, progress=no_progress) -> np.ndarray:
    """(N, 2) UMAP map of points: a full fit up to SAMPLED["above"] points, above it a fit on a sample and the rest
    placed by their nearest sample points (sampled_umap.py), so the cost stays bounded as N grows. Progress runs
    from ENCODING to 1: the import, compilation and neighbour graph take its first half, the epochs the rest."""
    def epochs(done: float) -> None:
        progress(ENCODING + (1 - ENCODING) * (0.5 + 0.5 * done), f"UMAP of {len(points)} points: epochs")
    bar = {"disable": False, "file": _EpochStream(epochs), "desc": "UMAP epochs"}
    if len(points) > SAMPLED["above"]:
        return sampled_umap_2d(points, SETTINGS["umap"], ENCODING, progress, bar)
    progress(ENCODING, f"UMAP of {len(points)} points: compiling (numba, first run only) and fitting")
    import umap  # slow import (numba): only here, never at app start

    out = umap.UMAP(n_components=2, tqdm_kwds=bar, **SETTINGS["umap"]).fit_transform(points).astype(np.float32)
    progress(1.0, "UMAP done")
    return out


def pca_2d(points: np.ndarray) -> np.ndarray:
    """(N, 2) linear map: the points on their top two principal directions (eigenvectors of the d x d scatter
    matrix, each signed so its largest component is positive: the same map every run)."""
    points = np.asarray(points, dtype=np.float64)
    centred = points - points.mean(0)
    _, vectors = np.linalg.eigh(centred.T @ centred)  # S = X^T X, eigenvalues ascending
    top = vectors[:, ::-1][:, :2]
    top = top * np.sign(top[np.abs(top).argmax(0), [0, 1][:top.shape[1]]])
    out = centred @ top
    return np.pad(out, ((0, 0), (0, 2 - out.shape[1]))).astype(np.float32)


def batches(x: np.ndarray, batch_size: int, what: str, progress):
    """x in batches, reporting each to progress() over the first ENCODING of the bar."""
    n = -(-len(x) // batch_size)
    for b in range(n):
        progress(ENCODING * b / n, f"{what} {len(x)} test images: batch {b + 1} of {n}")
        yield to_float(x[b * batch_size:(b + 1) * batch_size])


def linear_projection(model, x: np.ndarray, y: np.ndarray | None, progress=no_progress, span: float = 1.0,
                      partial: Path | None = None, batch_size: int | None = None, batch=None) -> LatentProjection:
    """The images encoded (in batches, resumable with `partial`; `batch(start, end)` encodes one: encoding.py) and
    drawn on their top two principal directions: the map shown at once, method "pca"; a 2-D latent is its own map,
    method "identity"."""
    enc = encode_posteriors(model, x, progress, 0.0, span, partial, batch_size, batch=batch)
    identity = enc.latents.shape[1] == 2
    coords = enc.latents.copy() if identity else pca_2d(enc.latents)
    labels = y.astype(np.int64) if y is not None else np.full(len(x), -1)
    return LatentProjection(enc.latents, coords, labels, enc.kl_per_dim, "identity" if identity else "pca",
                            enc.log_sigma)


def with_umap(proj: LatentProjection, progress=no_progress, umap=None) -> LatentProjection:
    """The same projection drawn by UMAP of its latents (`umap(points, progress)`: default umap_2d)."""
    fit = umap or (lambda points, progress: umap_2d(points, progress))  # looked up now: tests replace umap_2d
    return replace(proj, coords=np.asarray(fit(proj.latents, progress=progress), dtype=np.float32), method="umap")


def project_latents(model, x: np.ndarray, y: np.ndarray | None, batch_size: int | None = None,
                    progress=no_progress) -> LatentProjection:
    """The final projection at once: encoded over the first ENCODING of the bar, then UMAP (or the 2-D latent)."""
    proj = linear_projection(model, x, y, progress, ENCODING, batch_size=batch_size)
    return proj if proj.method == "identity" else with_umap(proj, progress)


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


def codebook_projection(encoded: tuple, progress=no_progress) -> CodebookProjection:
    """The map of a VQ-VAE's codebook from its images' encode_codes: PCA below SMALL_CODEBOOK codes, else UMAP."""
    grids, counts, codebook = encoded
    coords, method = codebook_map(codebook, progress)
    return CodebookProjection(grids, counts, coords, method)


def project_codebook(model, x: np.ndarray, batch_size: int = 1000, progress=no_progress) -> CodebookProjection:
    return codebook_projection(encode_codes(model, x, batch_size, progress), progress)


def read_coords(ckpt_dir: Path, weights: Path | None, points: np.ndarray, kind: str) -> np.ndarray | None:
    """The (N, 2) map of points cached_coords cached, or None."""
    path = None if weights is None else cache_path(ckpt_dir, weights, points, kind)
    if path is None or not path.exists():
        return None
    with np.load(path, allow_pickle=False) as f:
        return f["coords"]


def cached_coords(ckpt_dir: Path, weights: Path | None, points: np.ndarray, kind: str, compute) -> np.ndarray:
    """compute() (an (N, 2) map of points), cached on disk like a projection (named by the weights and points)."""
    if (coords := read_coords(ckpt_dir, weights, points, kind)) is not None:
        return coords
    coords = compute()
    if weights is not None:
        path = cache_path(ckpt_dir, weights, points, kind)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".tmp-{os.getpid()}.npz")
        np.savez(tmp, coords=coords)
        os.replace(tmp, path)
    return coords


def given_latents(ckpt_dir: Path, weights: Path | None, latents: np.ndarray, log_sigma: np.ndarray | None,
                  coords: np.ndarray | None, labels: np.ndarray) -> LatentProjection:
    """A VAE's projection from latents encoded elsewhere (a Parquet's): nothing is encoded. The map is the given x, y,
    else the latent itself (2-D), else the latents' UMAP when cached, else their PCA at once (given_umap redraws it)."""
    kl = mean_kl_per_dim(latents, log_sigma) if log_sigma is not None else None
    if coords is not None:
        method = "given"
    elif latents.shape[1] == 2:
        coords, method = latents.copy(), "identity"
    elif (coords := read_coords(ckpt_dir, weights, latents, GIVEN_UMAP)) is not None:
        method = "umap"
    else:
        coords, method = pca_2d(latents), "pca"
    return LatentProjection(latents, np.asarray(coords, np.float32), labels.astype(np.int64), kl, method, log_sigma)


def given_umap(ckpt_dir: Path, weights: Path | None, proj: LatentProjection, progress=no_progress,
               umap=None) -> LatentProjection:
    """given_latents' linear map redrawn by UMAP of the latents, cached."""
    return replace(proj, method="umap", coords=np.asarray(cached_coords(
        ckpt_dir, weights, proj.latents, GIVEN_UMAP, lambda: with_umap(proj, progress, umap).coords), np.float32))


def given_codes(ckpt_dir: Path, weights: Path | None, model, grids: np.ndarray, progress=no_progress) \
        -> CodebookProjection:
    """A VQ-VAE's projection from code grids (N, h * w) found elsewhere (a Parquet's): nothing is encoded."""
    g = model.grid_size
    grids = grids.reshape(len(grids), g, g).astype(np.int16)
    counts = np.bincount(grids.reshape(-1), minlength=model.num_codes)
    codebook = model.codebook.detach().cpu().numpy()
    coords = cached_coords(ckpt_dir, weights, codebook, "codebook-map", lambda: codebook_map(codebook, progress)[0])
    return CodebookProjection(grids, counts, coords, "pca" if len(codebook) < SMALL_CODEBOOK else "umap")


def load(path: Path, cls):
    with np.load(path, allow_pickle=False) as f:
        return cls(**{k: (str(f[k]) if k == "method" else f[k]) for k in f.files})


def save(path: Path, proj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp-{os.getpid()}.npz")
    np.savez_compressed(tmp, **proj.__dict__)
    os.replace(tmp, path)  # a cache file is whole or absent


@dataclass
class LatentCache:
    """A VAE's cache files for one image set: the final map, the linear map shown meanwhile, and the folder of
    encoded batches of an encode under way (None each for a module given from Python: nothing to name them after)."""

    final: Path | None = None  # <kind>-<hash>.npz: UMAP (or identity): what the app opens at once
    linear: Path | None = None  # <kind>-<hash>.linear.npz: the PCA map, until UMAP is cached
    partial: Path | None = None  # <kind>-<hash>.partial/: encoding.py's batches

    @classmethod
    def of(cls, ckpt_dir: Path, weights: Path | None, x: np.ndarray) -> "LatentCache":
        if weights is None:
            return cls()
        final = cache_path(ckpt_dir, weights, x, "latent")
        return cls(final, final.with_name(final.stem + ".linear.npz"), final.with_name(final.stem + ".partial"))

    def first(self, model, x, y, log=print, progress=no_progress, batch=None) -> LatentProjection:
        """The final projection when cached, else the linear one (cached, or encoded now, resuming and caching;
        `batch(start, end)`: see encoding.encode_posteriors)."""
        for path in (self.final, self.linear):
            if path is not None and path.exists():
                return load(path, LatentProjection)
        if self.final is not None:
            log(f"projecting {len(x)} images (once; cached in {self.final})")
        proj = linear_projection(model, x, y, progress, partial=self.partial, batch=batch)
        if self.final is not None:
            save(self.final if proj.method == "identity" else self.linear, proj)
            discard(self.partial)
        return proj

    def finish(self, proj: LatentProjection, progress=no_progress, umap=None) -> LatentProjection:
        """The linear projection `proj` redrawn by UMAP, cached (the linear cache then goes)."""
        if proj.method != "pca":
            return proj
        final = with_umap(proj, progress, umap)
        if self.final is not None:
            save(self.final, final)
            self.linear.unlink(missing_ok=True)
        return final


def load_or_compute(ckpt_dir: Path, weights: Path, model, x: np.ndarray, y: np.ndarray | None, log=print,
                    progress=no_progress, encoded=None):
    """The checkpoint's final projection for images x, from the disk cache or computed (reporting to progress) and
    cached; `weights` is the model's weights file (its hash names the cache). For a VQ-VAE, `encoded(progress)` gives
    the images' encodings (default: encode_codes; the store's runs on the GPU on a ZeroGPU Space)."""
    if model.kind == "vae":
        cache = LatentCache.of(ckpt_dir, weights, x)
        first = cache.first(model, x, y, log, lambda f, what: progress(ENCODING * f, what))
        return cache.finish(first, progress)
    encoded = encoded or (lambda progress: encode_codes(model, x, progress=progress))
    if weights is None:  # a module given from Python: nothing on disk to name a cache after
        return codebook_projection(encoded(progress), progress)
    path = cache_path(ckpt_dir, weights, x, "codebook")
    if path.exists():
        return load(path, CodebookProjection)
    log(f"projecting {len(x)} images for {ckpt_dir.name} (once; cached in {path})")
    proj = codebook_projection(encoded(progress), progress)
    progress(1.0, "projection done")
    save(path, proj)
    return proj
