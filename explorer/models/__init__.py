"""The models, behind one interface (interface.py), and how to find and open them (found.py).

    open_folder(path, log) -> FoundModel | None   a model folder of any kind the explorer opens, else None
    given_module(name, module, image_shape)       a model given from Python (explorer.launch(models=...))
"""
from pathlib import Path

from explorer.models import diffusers_models, vae_core_models
from explorer.models.found import FoundModel, TestSplit
from explorer.models.interface import CodeModel, LatentModel, Model
from explorer.models.modules import given_module

KINDS = (diffusers_models, vae_core_models)  # each has open_folder(path, log); the first that knows a folder opens it

__all__ = ["CodeModel", "FoundModel", "LatentModel", "Model", "TestSplit", "given_module", "is_model_folder",
           "open_folder"]


def open_folder(path: str | Path, log=print) -> FoundModel | None:
    """The model folder at `path`, or None (logged with why, when it looks like one but cannot be opened)."""
    for kind in KINDS:
        if kind.is_model_folder(Path(path)):
            return kind.open_folder(Path(path), log)
    return None


def is_model_folder(path: str | Path) -> bool:
    """Whether `path` itself is a model folder (rather than a folder of them)."""
    return any(kind.is_model_folder(Path(path)) for kind in KINDS)
