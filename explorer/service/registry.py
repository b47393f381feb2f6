"""Find checkpoint folders, load their models once, and describe them.

Users pick checkpoints by *name* (the folder name); names are looked up in the registry built at start, so no
path a user sends is ever opened.
"""
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

from explorer.errors import UnknownCheckpoint, UnreadableCheckpoint
from vae_core import load
from vae_core.checkpoint import CONFIG, WEIGHTS, CheckpointError, read_config
from vae_core.config import Config
from vae_core.run_folder import HISTORY

SUMMARY_FIRST = ["neg_elbo", "kl", "bits_per_dim", "iwae_nll", "mse", "psnr", "perplexity", "codes_used", "dead_codes"]
NOT_METRICS = {"epoch", "iwae_k"}


@dataclass
class Checkpoint:
    name: str
    path: Path
    cfg: Config
    _model: object = field(default=None, repr=False)

    @property
    def kind(self) -> str:
        return self.cfg.model

    def summary(self) -> str:
        """Markdown: data set, size, test metrics recorded in config.json."""
        c, m = self.cfg, self.cfg.metrics
        size = (f"latent {c.latent_dim} ({c.arch}, {c.likelihood})" if c.model == "vae"
                else f"K = {c.num_codes} codes of D = {c.code_dim}, grid {c.image_size // 4}x{c.image_size // 4}")
        # whatever metrics the checkpoint recorded (models differ: bits_per_dim only for some likelihoods), known first
        keys = [k for k in SUMMARY_FIRST if k in m] + sorted(k for k in m if k not in SUMMARY_FIRST)
        metrics = ", ".join(f"{k} {m[k]:.4g}" for k in keys
                            if k not in NOT_METRICS and isinstance(m[k], (int, float)) and not isinstance(m[k], bool))
        return (f"**{self.name}**: {c.model.upper()} on {c.data} ({c.channels}x{c.image_size}x{c.image_size}), "
                f"{size}; {m.get('epoch', '?')} epochs.  \n{m.get('split', 'test').capitalize()} split: "
                f"{metrics or 'no metrics recorded'}")

    def history(self) -> list[dict]:
        p = self.path / HISTORY
        if not p.exists():
            return []
        return [json.loads(ln) for ln in p.read_text().splitlines() if ln.strip()]


class Registry:
    """The checkpoints found in some folders, by name; models are loaded on first use and kept."""

    def __init__(self, folders: list[str | Path], log=print):
        self.checkpoints: dict[str, Checkpoint] = {}
        self._lock = threading.Lock()
        for folder in folders:
            folder = Path(folder)
            candidates = [folder] if (folder / CONFIG).exists() else sorted(folder.glob("*/"))
            for path in candidates:
                if not (path / CONFIG).exists() or not (path / WEIGHTS).exists():
                    continue
                try:
                    cfg = read_config(path)
                except CheckpointError as e:
                    log(f"skipping {path}: {e}")
                    continue
                name = path.name if path.name not in self.checkpoints else f"{path.parent.name}/{path.name}"
                self.checkpoints[name] = Checkpoint(name, path.resolve(), cfg)

    def names(self, kind: str) -> list[str]:
        return [n for n, c in self.checkpoints.items() if c.kind == kind]

    def get(self, name: str) -> Checkpoint:
        if not isinstance(name, str) or name not in self.checkpoints:
            raise UnknownCheckpoint(f"unknown checkpoint {name!r}; choose one of {sorted(self.checkpoints)}")
        return self.checkpoints[name]

    def model(self, name: str):
        ck = self.get(name)
        with self._lock:
            if ck._model is None:
                try:
                    ck._model = load(ck.path)
                except CheckpointError as e:
                    raise UnreadableCheckpoint(f"checkpoint {name!r} could not be loaded: {e}") from e
        return ck._model
