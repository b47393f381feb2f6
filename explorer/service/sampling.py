"""Generation: samples from a model's prior (a VAE's z from its fitted prior when it has one, or N(0, I), decoded;
a VQ-VAE's code grids drawn from its
learned prior over codes, decoded), and the prior's view of one cell of a code grid (its most likely codes given the
cells before it; the rest of the grid resampled from there). Plain functions over a model, no Gradio; the Generate
tab's service (generate.py) calls them.
"""
import time
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from explorer.compute.code_grid import validate_grid
from explorer.errors import SampleError
from explorer.figures.pictures import show

MAX_SAMPLES = 64  # per request: a page of samples, and a bound on what one API call may cost
MAX_SEED = 2**63 - 1


@dataclass
class SampleSettings:
    """How to sample: n images from a seeded generator; for a VQ-VAE's prior, its temperature and top-k."""

    n: int = 16
    seed: int = 0
    temperature: float = 1.0  # the prior's logits are divided by it: < 1 sharper, > 1 more varied
    top_k: int | None = None  # draw each code among the k most likely only (None: all)
    prior: str = "fitted"  # a VAE's: its fitted prior over z when it has one (else N(0, I)), or "standard": N(0, I)

    def checked(self) -> "SampleSettings":
        try:
            n, seed, temperature = int(self.n), int(self.seed), float(self.temperature)
            top_k = None if self.top_k in (None, 0, "") else int(self.top_k)
        except (TypeError, ValueError) as e:
            raise SampleError(f"sample settings must be numbers ({e})") from e
        if not 1 <= n <= MAX_SAMPLES:
            raise SampleError(f"the number of samples must be in 1..{MAX_SAMPLES}, got {n}")
        if not 0 <= seed <= MAX_SEED:
            raise SampleError(f"the seed must be an integer in 0..{MAX_SEED}, got {seed}")
        if not (np.isfinite(temperature) and 0.05 <= temperature <= 5):
            raise SampleError(f"the temperature must be in 0.05..5, got {temperature}")
        if top_k is not None and top_k < 1:
            raise SampleError(f"top-k must be a positive number of codes (or 0 for all), got {top_k}")
        if self.prior not in ("fitted", "standard"):
            raise SampleError(f"the prior must be fitted or standard, got {self.prior!r}")
        return SampleSettings(n, seed, temperature, top_k, self.prior)


@dataclass
class Samples:
    images: list[Image.Image]  # the decoded samples, at the model's own size
    grids: np.ndarray | None  # a VQ-VAE's sampled code grids (n, h, w); None for a VAE
    ms_per_sample: float  # wall-clock time to sample and decode, per image


def no_prior(model, name: str) -> str | None:
    """Why checkpoint `name` cannot sample (a VQ-VAE without a prior, or with one trained on other weights, which
    vae_core refuses to pair with it), with the command that fixes it; None when it can."""
    if model.kind == "vae" or model.prior is not None:
        return None
    why = model.prior_problem or "it has no prior over its codes"
    return (f"{name} cannot generate: {why}. Train its prior with "
            f"`python -m vae_core.train_prior <path to {name}>`")


def no_fitted_prior(model, name: str) -> str | None:
    """Why VAE checkpoint `name` has no fitted prior over z (none, or a stale one), with the command that fits one;
    None when it has one."""
    if model.kind == "vae" and model.fitted_prior is not None:
        return None
    why = model.prior_problem or "it has no prior fitted to its aggregate posterior"
    return f"{name}: {why}. Fit one with `python -m vae_core.fit_prior <path to {name}>`"


def prior_of(model, name: str):
    """A VQ-VAE's prior over code grids, or a SampleError saying how to train one."""
    problem = no_prior(model, name)
    if problem:
        raise SampleError(problem)
    return model.prior




@torch.no_grad()
def sample(model, name: str, settings: SampleSettings) -> Samples:
    """settings.n samples of checkpoint `name`, reproducible from settings.seed."""
    s = settings.checked()
    generator = torch.Generator().manual_seed(s.seed)
    t = time.perf_counter()
    if model.kind == "vae":
        grids, x = None, model.sample(s.n, generator=generator, prior=s.prior)
    else:
        grids = prior_of(model, name).sample(s.n, generator=generator, temperature=s.temperature,
                                             top_k=_top_k(s, model))
        x = model.decode_indices(grids)
    ms = (time.perf_counter() - t) * 1000 / s.n
    return Samples([show(xi, side=0) for xi in x], None if grids is None else grids.cpu().numpy(), ms)


def _top_k(s: SampleSettings, model) -> int | None:
    """top-k, where k beyond the codebook's size means every code."""
    return None if s.top_k is None else min(s.top_k, model.num_codes)


def _grid_and_cell(model, grid, row: int, col: int) -> tuple[torch.Tensor, int, int]:
    g = validate_grid(grid, model.grid_size, model.num_codes)
    row, col = int(row), int(col)
    if not (0 <= row < g.shape[0] and 0 <= col < g.shape[1]):
        raise SampleError(f"cell ({row}, {col}) is outside the {g.shape[0]}x{g.shape[1]} grid")
    return torch.as_tensor(g)[None], row, col


@torch.no_grad()
def suggestions(model, name: str, grid, row: int, col: int, k: int = 8) -> list[tuple[int, float]]:
    """The prior's k most likely codes for cell (row, col) given the cells before it (raster order), with their
    probabilities p(c_rc | c_<rc), most likely first."""
    g, row, col = _grid_and_cell(model, grid, row, col)
    p = prior_of(model, name).conditional(g, row, col).reshape(-1)
    top = torch.topk(p, min(k, len(p)))
    return [(int(i), float(v)) for v, i in zip(top.values, top.indices)]


@torch.no_grad()
def resample_from(model, name: str, grid, row: int, col: int, settings: SampleSettings) -> np.ndarray:
    """The grid with the cells before (row, col) kept and (row, col) and every cell after it drawn from the prior."""
    s = settings.checked()
    g, row, col = _grid_and_cell(model, grid, row, col)
    generator = torch.Generator().manual_seed(s.seed)
    out = prior_of(model, name).sample(1, generator=generator, temperature=s.temperature, top_k=_top_k(s, model),
                                       prefix=g, start=row * g.shape[2] + col)
    return out[0].cpu().numpy()
