"""A model the explorer can open, found in a folder at start or given from Python: what it is (name, kind, image
shape), known without loading it; how to load it; and what it says of itself (a summary, its training record).

Each kind of folder has one `open_folder(path, log)` in its own module (vae_core_models.py, diffusers_models.py)
that returns a FoundModel or None; explorer/models/__init__.py asks each in turn. A module given from Python is a
GivenModule (modules.py). Names are the folders' names, looked up by the service; no path a user sends is opened.
"""
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

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
    def load(self) -> Model:
        """The model behind the interface (interface.py)."""

    def open(self, log=print) -> Model:
        """load(), with the preview decoder beside it (preview.json in its folder) when it has one that fits."""
        model = self.load()
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
