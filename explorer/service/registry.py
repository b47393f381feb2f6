"""The models found at start, by name; each loaded on first use and kept.

Users pick models by *name* (the folder's name); names are looked up here, so no path a user sends is ever opened.
Finding and opening a folder of each kind is explorer/models/ (open_folder). Every model is loaded on the one device
chosen at start (explorer/models/device.py); the static site's export also asks for a CPU float32 copy (`cpu_model`).
"""
import threading
from pathlib import Path

from explorer.errors import UnknownCheckpoint, UnreadableCheckpoint, UserError
from explorer.models import FoundModel, Model, given_module, is_model_folder, open_folder
from explorer.models.device import CPU, choose_device
from explorer.models.diffusers_models import DiffusersFolderError
from vae_core.checkpoint import CheckpointError


class Registry:
    def __init__(self, folders: list[str | Path], log=print, models: dict | None = None, device: str = "auto"):
        """folders: folders of model folders (or model folders); models: {name: (module, image_shape)} given from
        Python (explorer.launch), checked now; device: where models run ("auto", "cpu", "cuda", "cuda:N", "mps"),
        DeviceUnavailable now when it is not here."""
        self.device = choose_device(device)
        self.found: dict[str, FoundModel] = {}
        self._cpu: dict[str, Model] = {}  # CPU float32 copies of models that run elsewhere (cpu_model)
        self._lock = threading.Lock()
        self.log = log
        for name, (module, shape) in (models or {}).items():
            self.found[name] = given_module(name, module, shape, self.device)  # ModuleError now, at start
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
        """Model `name` on the device (ModelTooLarge when it does not fit there)."""
        found = self.get(name)
        with self._lock:
            if found.model is None:
                found.model = self._open(found, self.device)
        return found.model

    def cpu_model(self, name: str) -> Model:
        """Model `name` on the CPU in float32: model(name) itself when that is where it runs, else a copy kept."""
        if self.device == CPU:  # every kind runs in float32 there
            return self.model(name)
        with self._lock:
            if name not in self._cpu:
                self._cpu[name] = self._open(self.get(name), CPU)  # float32: every kind on the CPU
        return self._cpu[name]

    def _open(self, found: FoundModel, device, dtype=None) -> Model:
        try:
            return found.open(device, dtype, self.log)
        except UserError:
            raise  # ModelTooLarge: its own message
        except (CheckpointError, DiffusersFolderError, OSError, ValueError) as e:
            raise UnreadableCheckpoint(f"checkpoint {found.name!r} could not be loaded: {e}") from e
