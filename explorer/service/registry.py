"""Find checkpoint folders, load their models once, and describe them.

Users pick checkpoints by *name* (the folder name); names are looked up in the registry built at start, so no
path a user sends is ever opened.
"""
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

from explorer.errors import UnknownCheckpoint, UnreadableCheckpoint
from explorer.models import diffusers_models
from explorer.models.modules import from_module
from explorer.models.vae_core_models import VaeCoreVAE, VaeCoreVQVAE
from explorer.service.sample_figures import is_sample_key
from vae_core import load
from vae_core.checkpoint import CONFIG, WEIGHTS, CheckpointError, read_config
from vae_core.config import Config
from vae_core.training.run_folder import HISTORY

SUMMARY_FIRST = ["neg_elbo", "kl", "bits_per_dim", "iwae_nll", "mse", "psnr", "perplexity", "codes_used", "dead_codes"]
NOT_METRICS = {"epoch", "iwae_k"}


@dataclass
class Checkpoint:
    """A model folder found at start: a vae_core checkpoint (cfg set) or a diffusers AutoencoderKL / VQModel."""

    name: str
    path: Path | None  # the folder (None: a module given from Python)
    cfg: Config | None  # vae_core's settings and record; None for a diffusers folder or a module
    kind: str  # "vae" (continuous latents) or "vqvae" (discrete codes)
    image_shape: tuple[int, int, int]  # (C, H, W) of the images the model takes
    weights: Path | None  # its weights file (the projection cache's key hashes it); None: a module, not cached
    source: str = "vae_core"  # or "diffusers", or "python" (a module given to explorer.launch)
    _model: object = field(default=None, repr=False)

    def summary(self) -> str:
        """Markdown: data set, size, test metrics recorded in config.json."""
        if self.source == "python":
            c, h, w = self.image_shape
            return f"**{self.name}**: {self._model.description} ({c}x{h}x{w} images), given from Python"
        if self.cfg is None:
            c, h, w = self.image_shape
            return (f"**{self.name}**: diffusers {diffusers_models.diffusers_class(self.path)} "
                    f"({c}x{h}x{w} images), opened from {self.path.name}/; no metrics recorded")
        c, m = self.cfg, self.cfg.metrics
        codes = (f"FSQ levels {c.fsq_levels}: K = {c.num_codes} codes" if c.quantizer == "fsq"
                 else f"K = {c.num_codes} codes of D = {c.code_dim}")
        size = (f"latent {c.latent_dim} ({c.arch}, {c.likelihood})" if c.model == "vae"
                else f"{codes}, grid {c.image_size // 4}x{c.image_size // 4}")
        # whatever metrics the checkpoint recorded (models differ: bits_per_dim only for some likelihoods), known first
        keys = [k for k in SUMMARY_FIRST if k in m] + sorted(k for k in m if k not in SUMMARY_FIRST)
        # the sample figures have a line of their own (sample_figures.py)
        metrics = ", ".join(f"{k} {m[k]:.4g}" for k in keys if k not in NOT_METRICS and not is_sample_key(k)
                            and isinstance(m[k], (int, float)) and not isinstance(m[k], bool))
        return (f"**{self.name}**: {c.model.upper()} on {c.data} ({c.channels}x{c.image_size}x{c.image_size}), "
                f"{size}; {m.get('epoch', '?')} epochs.  \n{m.get('split', 'test').capitalize()} split: "
                f"{metrics or 'no metrics recorded'}")

    def history(self) -> list[dict]:
        p = self.path / HISTORY if self.path else None
        if p is None or not p.exists():
            return []
        return [json.loads(ln) for ln in p.read_text().splitlines() if ln.strip()]

    def load(self):
        """The model behind the interface (explorer/models/interface.py)."""
        if self.source == "diffusers":
            return diffusers_models.load(self.path)
        model = load(self.path)
        return VaeCoreVAE(model) if model.cfg.model == "vae" else VaeCoreVQVAE(model)


def find(path: Path, log) -> Checkpoint | None:
    """The model folder at `path`, or None (logged with why, when it looks like one but cannot be opened)."""
    if diffusers_models.diffusers_class(path) is not None:
        try:
            cls = diffusers_models.check_folder(path)
        except diffusers_models.DiffusersFolderError as e:
            log(f"skipping {path}: {e}")
            return None
        return Checkpoint(path.name, path.resolve(), None, "vae" if cls == "AutoencoderKL" else "vqvae",
                          diffusers_models.image_shape_of(path), (path / diffusers_models.WEIGHTS).resolve(),
                          "diffusers")
    if not (path / CONFIG).exists():
        return None
    if not (path / WEIGHTS).exists():
        log(f"skipping {path}: it has a {CONFIG} but no {WEIGHTS} (neither a vae_core checkpoint nor a diffusers "
            f"model folder with {diffusers_models.WEIGHTS})")
        return None
    try:
        cfg = read_config(path)
    except CheckpointError as e:
        log(f"skipping {path}: {e}")
        return None
    if cfg.model not in ("vae", "vqvae"):
        return None
    return Checkpoint(path.name, path.resolve(), cfg, cfg.model, cfg.image_shape, (path / WEIGHTS).resolve())


class Registry:
    """The model folders found in some folders, by name; models are loaded on first use and kept."""

    def __init__(self, folders: list[str | Path], log=print, models: dict | None = None):
        """`models`: {name: (module, image_shape)} given from Python (explorer.launch), checked now."""
        self.checkpoints: dict[str, Checkpoint] = {}
        self._lock = threading.Lock()
        for name, (module, shape) in (models or {}).items():
            model = from_module(module, shape, name)  # ModuleError now, at start, naming the method and the shapes
            self.checkpoints[name] = Checkpoint(name, None, None, model.kind, model.image_shape, None, "python", model)
        for folder in folders:
            folder = Path(folder)
            is_one = (folder / CONFIG).exists()
            for path in [folder] if is_one else sorted(folder.glob("*/")):
                ck = find(path, log)
                if ck is None:
                    continue
                ck.name = path.name if path.name not in self.checkpoints else f"{path.parent.name}/{path.name}"
                self.checkpoints[ck.name] = ck

    def add(self, path: str | Path, log=print) -> str:
        """Offer one more model folder (a checkpoint saved while the app runs): its name, which must be new."""
        ck = find(Path(path), log)
        if ck is None:
            raise UnreadableCheckpoint(f"{path} is not a model folder the app can open")
        with self._lock:
            if ck.name in self.checkpoints:
                raise UnreadableCheckpoint(f"a checkpoint named {ck.name!r} is offered already")
            self.checkpoints[ck.name] = ck
        return ck.name

    def names(self, kind: str) -> list[str]:
        return [n for n, c in list(self.checkpoints.items()) if c.kind == kind]  # a copy: add() may run meanwhile

    def get(self, name: str) -> Checkpoint:
        if not isinstance(name, str) or name not in self.checkpoints:
            raise UnknownCheckpoint(f"unknown checkpoint {name!r}; choose one of {sorted(self.checkpoints)}")
        return self.checkpoints[name]

    def model(self, name: str):
        ck = self.get(name)
        with self._lock:
            if ck._model is None:
                try:
                    ck._model = ck.load()
                except (CheckpointError, diffusers_models.DiffusersFolderError, OSError, ValueError) as e:
                    raise UnreadableCheckpoint(f"checkpoint {name!r} could not be loaded: {e}") from e
        return ck._model
