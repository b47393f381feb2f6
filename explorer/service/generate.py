"""The Generate tab's service (and the codes view's prior): samples of a checkpoint, reproducible from a seed, and a
VQ-VAE prior's view of one cell. The sampling itself is sampling.py's, over the model the store holds.
"""
import numpy as np

from explorer.service import sampling
from explorer.service.gpu import on_gpu
from explorer.service.sampling import Samples, SampleSettings
from explorer.service.store import Store


class GenerateService:
    def __init__(self, store: Store):
        self.store = store

    def no_prior(self, name: str) -> str | None:
        """Why checkpoint `name` cannot sample, with the command that fixes it; None when it can."""
        return sampling.no_prior(self.store.model(name), name)

    def no_fitted_prior(self, name: str) -> str | None:
        """Why VAE checkpoint `name` has no fitted prior over z, with the command that fits one; None when it has."""
        return sampling.no_fitted_prior(self.store.model(name), name)

    @on_gpu(duration=30)
    def sample(self, name: str, settings: SampleSettings) -> Samples:
        """settings.n samples of checkpoint `name`, reproducible from settings.seed."""
        return sampling.sample(self.store.model(name), name, settings)

    def suggestions(self, name: str, grid, row: int, col: int, k: int = 8) -> list[tuple[int, float]]:
        """The prior's k most likely codes for cell (row, col) given the cells before it, most likely first."""
        return sampling.suggestions(self.store.model(name, "vqvae", "the prior's suggestions"), name, grid, row, col,
                                    k)

    def resample_from(self, name: str, grid, row: int, col: int, settings: SampleSettings) -> np.ndarray:
        """The grid with (row, col) and every cell after it drawn from the prior."""
        return sampling.resample_from(self.store.model(name, "vqvae", "resampling"), name, grid, row, col, settings)
