"""A checkpoint is a folder: `config.json` + `model.safetensors` (+ `training_state.safetensors` to resume).

Nothing here unpickles: safetensors holds tensors only, JSON holds the rest. Files are written to a temporary
name and renamed into place, so a crash mid-save leaves the previous checkpoint whole.
"""
import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from . import __version__
from .config import Config

CONFIG, WEIGHTS, STATE = "config.json", "model.safetensors", "training_state.safetensors"
PICKLE_SUFFIXES = {".pt", ".pth", ".bin", ".ckpt", ".pkl", ".pickle"}


class CheckpointError(ValueError):
    """A checkpoint folder that cannot be loaded; the message says what is wrong and what to do."""


def _atomic_write(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def save_checkpoint(folder: str | Path, model: torch.nn.Module, cfg: Config, training_state: dict | None = None,
                    epoch: int = 0) -> None:
    """Write the training state, then the weights, then config.json (whose presence marks a whole checkpoint)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"epoch": str(epoch), "format": "vae-explorer"}
    if training_state is not None:
        _atomic_write(folder / STATE, lambda p: save_file(training_state, str(p), metadata=meta))
    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    _atomic_write(folder / WEIGHTS, lambda p: save_file(weights, str(p), metadata=meta))
    cfg.version = __version__
    _atomic_write(folder / CONFIG, lambda p: p.write_text(json.dumps(cfg.to_dict(), indent=2)))


def read_config(folder: str | Path) -> Config:
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: no such checkpoint folder")
    pickles = sorted(p.name for p in folder.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES)
    if not (folder / WEIGHTS).exists():
        hint = (f" It holds {pickles}: pickle files are never loaded, since loading them can run code. "
                "Convert the weights to safetensors with the program that wrote them.") if pickles else ""
        raise CheckpointError(f"{folder}: missing {WEIGHTS}.{hint} Train one with python -m vae_core.train.")
    if not (folder / CONFIG).exists():
        raise CheckpointError(f"{folder}: missing {CONFIG}; this is not a vae_core checkpoint folder")
    try:
        return Config.from_dict(json.loads((folder / CONFIG).read_text()))
    except (json.JSONDecodeError, TypeError, ValueError) as e:
        raise CheckpointError(f"{folder / CONFIG}: not a valid vae_core config ({e})") from e


def read_tensors(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """(tensors, metadata) of a safetensors file, with a clear error when it is truncated or not one."""
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        return load_file(str(path)), meta
    except (SafetensorError, OSError, RuntimeError, ValueError) as e:
        raise CheckpointError(f"{path}: corrupt or truncated safetensors file ({e}); retrain or restore it") from e


def load(folder: str | Path, device: str | torch.device = "cpu"):
    """A ready model (eval mode) from a checkpoint folder; raises CheckpointError with a clear message."""
    from .models import build_model

    folder = Path(folder)
    cfg = read_config(folder)
    model = build_model(cfg)
    weights, _ = read_tensors(folder / WEIGHTS)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    wrong = sorted(k for k in set(expected) & set(weights) if expected[k].shape != weights[k].shape)
    if missing or unexpected or wrong:
        details = "; ".join(f"{what}: {keys[:4]}{' ...' if len(keys) > 4 else ''}"
                            for what, keys in (("missing", missing), ("unexpected", unexpected),
                                               ("wrong shape", wrong)) if keys)
        raise CheckpointError(f"{folder}: {CONFIG} does not match {WEIGHTS} ({details})")
    model.load_state_dict(weights)
    return model.to(device).eval()
