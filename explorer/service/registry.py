"""The models found at start, by name; each loaded on first use and kept.

Users pick models by *name* (the folder's name); names are looked up here, so no path a user sends is ever opened.
Finding and opening a folder of each kind is explorer/models/ (open_folder).
"""
import threading
from pathlib import Path

from explorer.errors import UnknownCheckpoint, UnreadableCheckpoint
from explorer.models import FoundModel, Model, given_module, is_model_folder, open_folder
from explorer.models.diffusers_models import DiffusersFolderError
from vae_core.checkpoint import CheckpointError


class Registry:
    def __init__(self, folders: list[str | Path], log=print, models: dict | None = None):
        """folders: folders of model folders (or model folders); models: {name: (module, image_shape)} given from
        Python (explorer.launch), checked now."""
        self.found: dict[str, FoundModel] = {}
        self._lock = threading.Lock()
        self.log = log
        for name, (module, shape) in (models or {}).items():
            self.found[name] = given_module(name, module, shape)  # ModuleError now, at start
        for folder in map(Path, folders):
            for path in [folder] if is_model_folder(folder) else sorted(folder.glob("*/")):
                found = open_folder(path, log)
                if found is not None:
                    found.name = path.name if path.name not in self.found else f"{path.parent.name}/{path.name}"
                    self.found[found.name] = found

    def add(self, path: str | Path, log=print) -> str:
        """Offer one more model folder (a checkpoint saved while the app runs): its name, which must be new."""
        found = open_folder(Path(path), log)
        if found is None:
            raise UnreadableCheckpoint(f"{path} is not a model folder the app can open")
        with self._lock:
            if found.name in self.found:
                raise UnreadableCheckpoint(f"a checkpoint named {found.name!r} is offered already")
            self.found[found.name] = found
        return found.name

    def names(self, kind: str) -> list[str]:
        return [n for n, f in list(self.found.items()) if f.kind == kind]  # a copy: add() may run meanwhile

    def get(self, name: str) -> FoundModel:
        if not isinstance(name, str) or name not in self.found:
            raise UnknownCheckpoint(f"unknown checkpoint {name!r}; choose one of {sorted(self.found)}")
        return self.found[name]

    def model(self, name: str) -> Model:
        found = self.get(name)
        with self._lock:
            if found.model is None:
                try:
                    found.model = found.open(self.log)
                except (CheckpointError, DiffusersFolderError, OSError, ValueError) as e:
                    raise UnreadableCheckpoint(f"checkpoint {name!r} could not be loaded: {e}") from e
        return found.model
