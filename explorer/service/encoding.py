"""Encode a set of images in batches: q(z|x) of each image, with progress and the time left, resumable after a crash.

Each encoded batch is written at once to a file of its own in a `partial` folder beside the cache
(`from-<start>-to-<end>.npz`: the batch's mu, log sigma and summed KL per dimension), so that an interrupted encode
(a crash, a restart) picks up after the last batch written. The caller deletes the folder once the whole
projection is cached. The time left is the mean time per image so far times the images left:
    t_left = (elapsed / images encoded this run) * images left
"""
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vae_core.data import to_float

BATCH_VALUES = 1 << 22  # numbers per batch of images (1000 images of 28 x 28; a few of 512 x 512 x 3)
MAX_BATCH = 1000


@dataclass
class Encoded:
    latents: np.ndarray  # (N, d) float32 posterior means mu(x)
    log_sigma: np.ndarray  # (N, d) float32 posterior log standard deviations
    kl_per_dim: np.ndarray  # (d,) mean KL(q(z_i|x) || N(0, 1)) of each dimension over the images


def batch_size_for(x: np.ndarray) -> int:
    """Images per batch: at most MAX_BATCH, and at most BATCH_VALUES numbers, so memory stays bounded for large
    images."""
    per_image = int(np.prod(x.shape[1:])) or 1
    return max(1, min(MAX_BATCH, BATCH_VALUES // per_image))


def time_left(seconds: float) -> str:
    return f"about {seconds:.0f} s left" if seconds < 120 else f"about {seconds / 60:.1f} min left"


def _batch_file(folder: Path, start: int, end: int) -> Path:
    return folder / f"from-{start:09d}-to-{end:09d}.npz"


def _done(folder: Path | None, n: int) -> list[tuple[int, int, Path]]:
    """The batches written before, contiguous from image 0 (a gap or a torn file ends the list)."""
    if folder is None or not folder.is_dir():
        return []
    found = {}
    for p in folder.glob("from-*-to-*.npz"):
        try:
            _, start, _, end = p.stem.split("-")
            found[int(start)] = (int(start), int(end), p)
        except ValueError:
            continue
    out, at = [], 0
    while at in found and found[at][1] <= n:
        out.append(found[at])
        at = found[at][1]
    return out


def _write(folder: Path, start: int, end: int, **arrays) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    final = _batch_file(folder, start, end)
    tmp = final.with_name(f"{final.stem}.tmp-{os.getpid()}.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, final)  # a batch file is whole or absent


def discard(folder: Path | None) -> None:
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


@torch.no_grad()
def posterior_batch(model, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """q(z|x) of a batch of images x (n, C, H, W) uint8: (mu (n, d), log sigma (n, d), KL of each dimension summed
    over the batch (d,))."""
    q = model.posterior(to_float(x))  # q(z|x)
    a = lambda t: t.cpu().numpy().astype(np.float32)
    return a(q.mean), a(q.log_sigma), q.kl_per_dim().sum(0).cpu().numpy().astype(np.float64)


def encode_posteriors(model, x: np.ndarray, progress, start: float = 0.0, span: float = 1.0,
                      partial: Path | None = None, batch_size: int | None = None,
                      what: str = "encoding", batch=None) -> Encoded:
    """q(z|x) of every image of x (N, C, H, W) uint8, in batches; progress(fraction, what) hears each batch over
    [start, start + span] with the time left; with `partial` (a folder), batches are kept there and a rerun resumes
    after the last one written. `batch(start, end)` encodes images start..end-1 as posterior_batch does (default:
    posterior_batch of the model; the store's runs on the GPU on a ZeroGPU Space)."""
    batch = batch or (lambda s, e: posterior_batch(model, x[s:e]))
    n = len(x)
    size = batch_size or batch_size_for(x)
    mus, log_sigmas, kl_sum = [], [], None
    at = 0
    for _, e, path in _done(partial, n):
        try:
            with np.load(path, allow_pickle=False) as f:
                mus.append(f["mu"])
                log_sigmas.append(f["log_sigma"])
                kl_sum = f["kl_sum"] if kl_sum is None else kl_sum + f["kl_sum"]
        except (OSError, ValueError, KeyError):
            break  # a damaged file: encode from here on
        at = e
    resumed, began = at, time.perf_counter()
    nb = -(-n // size)
    while at < n:
        b = at // size
        if at > resumed:
            left = time_left((time.perf_counter() - began) / (at - resumed) * (n - at))
        else:
            left = f"resumed after {at:,} encoded before" if at else "estimating the time left"
        progress(start + span * at / n, f"{what} {n:,} test images: batch {b + 1} of {nb}, {left}")
        end = min(n, at + size)
        mu, log_sigma, kl = batch(at, end)  # q(z|x); kl: summed over the batch, per dimension
        if partial is not None:
            _write(partial, at, end, mu=mu, log_sigma=log_sigma, kl_sum=kl)
        mus.append(mu)
        log_sigmas.append(log_sigma)
        kl_sum = kl if kl_sum is None else kl_sum + kl
        at = end
    return Encoded(np.concatenate(mus), np.concatenate(log_sigmas), (kl_sum / n).astype(np.float32))
