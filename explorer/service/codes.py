"""The VQ-VAE codes tab's service: the codebook map, test images' code grids, decodes of edited grids and each
cell's quantisation. Each method checks what the user sent, then calls explorer/compute/ with the store's data.
"""
import numpy as np
import torch
from PIL import Image

from explorer.compute.bounded_cache import BoundedCache
from explorer.compute.code_grid import validate_grid
from explorer.compute.quantization import Quantization, quantization
from explorer.errors import GridError
from explorer.figures.pictures import DISPLAY, show
from explorer.service.projection import CodebookProjection, no_progress
from explorer.service.store import Store

QUANTIZATION_CACHE = 64  # quantisations kept, per (checkpoint, test image)


class CodesService:
    def __init__(self, store: Store):
        self.store = store
        self._quantizations = BoundedCache(QUANTIZATION_CACHE)

    def codebook(self, name: str, progress=no_progress) -> CodebookProjection:
        """The codebook on a map (coords, usage counts) with every test image's code grid; computed once."""
        return self.store.codebook_view(name, progress)

    def grid(self, name: str, index: int) -> np.ndarray:
        """(h, w): the code grid the encoder made of test image `index`."""
        self.store.image(name, index)  # checks the range
        return self.codebook(name).grids[int(index)]

    def grid_size(self, name: str) -> int:
        return self.store.model(name, "vqvae", "a code grid").grid_size

    def num_codes(self, name: str) -> int:
        return self.store.model(name, "vqvae", "a code grid").num_codes

    def checked_code(self, name: str, code) -> int:
        """A code index a user typed, checked against K."""
        k = self.num_codes(name)
        try:
            c = int(code)
        except (TypeError, ValueError):
            c = -1
        if not 0 <= c < k:
            raise GridError(f"code index must be in 0..{k - 1}")
        return c

    @torch.no_grad()
    def decode_codes(self, name: str, grid, side: int = DISPLAY) -> Image.Image:
        model = self.store.model(name, "vqvae", "decode_codes")
        g = validate_grid(grid, model.grid_size, model.num_codes)
        return show(model.decode_indices(torch.from_numpy(g)[None])[0], side)

    def quantization(self, vq: str, index: int) -> Quantization:
        """Cell-by-cell quantisation error, flip distance, top-3 codes and the decodes of z_q and z_e of image
        `index`; kept for the latest QUANTIZATION_CACHE images."""
        model, x = self.store.model(vq, "vqvae", "quantisation"), self.store.stored_image(vq, index)
        return self._quantizations.get((vq, int(index)), lambda: quantization(model, x))
