"""A model the explorer can open, found in a folder at start or given from Python: what it is (name, kind, image
shape), known without loading it; how to load it; and what it says of itself (a summary, its training record).

Loading puts the weights on the device chosen at start (device.py), in the kind's precision there (`default_dtype`),
after checking that they fit (`open`).

Each kind of folder has one `open_folder(path, log)` in its own module (vae_core_models.py, diffusers_models.py)
that returns a FoundModel or None; explorer/models/__init__.py asks each in turn. A module given from Python is a
GivenModule (modules.py). Names are the folders' names, looked up by the service; no path a user sends is opened.
"""
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

import torch

from explorer.models.device import CPU, check_fits, free_bytes, stored_numbers
from explorer.models.interface import LatentModel, Model
from explorer.models.preview import find as find_preview


@dataclass(frozen=True)
class TestSplit:
    """The data set a checkpoint was trained on, whose test split it shows (vae_core.data.load_dataset's
    arguments)."""

    data: str
    data_dir: str | None
    channels: int
    image_size: int
    seed: int


@dataclass
class FoundModel(ABC):
    name: str  # what users pick it by (the folder's name)
    kind: str  # "vae" (continuous latents) or "vqvae" (discrete codes)
    image_shape: tuple[int, int, int]  # (C, H, W) of the images the model takes
    folder: Path | None = None  # where it was found (None: a module given from Python)
    weights: Path | None = None  # its weights file (the projection cache's key hashes it); None: not cached
    model: Model | None = field(default=None, repr=False)  # loaded on first use, then kept

    @abstractmethod
    def load(self, device: torch.device = CPU, dtype: torch.dtype | None = None) -> Model:
        """The model behind the interface (interface.py), its weights on `device` in `dtype` (None: default_dtype)."""

    def default_dtype(self, device: torch.device) -> torch.dtype:
        """The precision it runs in on `device` when none is asked for."""
        return torch.float32

    def numbers(self) -> int:
        """How many numbers its weights hold, read from its weights files' headers (nothing loaded)."""
        return stored_numbers(self.weights) if self.weights else 0

    def open(self, device: torch.device = CPU, dtype: torch.dtype | None = None, log=print) -> Model:
        """load(), after refusing (ModelTooLarge) weights that do not fit in the device's free memory; with the
        preview decoder beside it (preview.json in its folder) when it has one that fits."""
        dtype = dtype or self.default_dtype(device)
        check_fits(self.name, self.numbers(), dtype, free_bytes(device), device)
        model = self.load(device, dtype)
        if isinstance(model, LatentModel):
            model.preview = find_preview(self.folder, self.weights, log)
        return model

    @abstractmethod
    def summary(self) -> str:
        """One paragraph of Markdown for the Models tab: what it is, its size and what it recorded."""

    def record(self) -> dict | None:
        """The figures its training recorded (test metrics, sample figures), or None for a kind that records none."""
        return None

    def history(self) -> list[dict]:
        """Its training curves, one dict per logged step ([] when it has none)."""
        return []

    def test_split(self) -> TestSplit | None:
        """The data set it shows by default, or None when it has none of its own (then --images)."""
        return None
