"""A checkpoint is a folder: `config.json` + `model.safetensors` (+ `training_state.safetensors` to resume).
A VQ-VAE's prior over its code grids is a checkpoint folder of its own inside it, `prior/` (vae_core.train_prior);
so is a VAE's prior over z fitted to its aggregate posterior (a Gaussian mixture, vae_core.fit_prior).

A prior records the SHA-256 of the VQ-VAE (VAE) weights file it was trained on (its Record's `trained_on`); one
trained on other weights (the model retrained or resumed since) is stale: `load` leaves it off the model, so it
is used neither for sampling nor for the likelihood bound, and says how to retrain it.

Nothing here unpickles: safetensors holds tensors only, JSON holds the rest.

Saving is journalled, so a crash (kill -9, full disk) at any moment leaves one whole checkpoint: the new files
are written and fsynced into `<folder>/.saving/`, then a `COMPLETE` marker is written, then the files are renamed
into place. On the next read, a complete `.saving/` is rolled forward and an incomplete one is deleted.
"""
import dataclasses
import hashlib
import json
import os
import shutil
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from . import __version__
from .config import Config, Record

CONFIG, WEIGHTS, STATE = "config.json", "model.safetensors", "training_state.safetensors"
STAGING, COMPLETE = ".saving", "COMPLETE"
PRIOR = "prior"  # <VQ-VAE checkpoint>/prior/: the prior over its code grids; <VAE checkpoint>/prior/: over z
PICKLE_SUFFIXES = {".pt", ".pth", ".bin", ".ckpt", ".pkl", ".pickle"}


class CheckpointError(ValueError):
    """A checkpoint folder that cannot be loaded; the message says what is wrong and what to do."""


class StalePriorError(CheckpointError):
    """A prior that was not trained on the weights of the VQ-VAE (VAE) beside it; the message names the command
    that retrains (refits) it."""


def weights_sha256(path: str | Path) -> str:
    """SHA-256 of a weights file, hex: what a prior records of the VQ-VAE weights it was trained on."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fsynced(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def recover(folder: Path) -> None:
    """Finish (roll forward) a save that reached its COMPLETE marker; drop one that did not."""
    staging = folder / STAGING
    if not staging.is_dir():
        return
    try:
        if (staging / COMPLETE).exists():
            for name in (STATE, WEIGHTS, CONFIG):  # config.json last: it names the epoch
                if (staging / name).exists():
                    os.replace(staging / name, folder / name)
        shutil.rmtree(staging)
    except OSError:
        pass  # a read-only folder: the files in place are still one whole checkpoint


def save_checkpoint(folder: str | Path, model: torch.nn.Module, cfg: Config, training_state: dict | None = None,
                    epoch: int = 0, record: Record | None = None) -> None:
    """Write the checkpoint through the `.saving/` journal (see the module docstring): cfg's settings, and `record`
    (default: cfg's) stamped with this version of vae_core. cfg itself is not changed."""
    record = dataclasses.replace(record or cfg.record, version=__version__)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    recover(folder)
    staging = folder / STAGING
    staging.mkdir()
    try:
        meta = {"epoch": str(epoch), "format": "vae-explorer"}
        if training_state is not None:
            save_file(training_state, str(staging / STATE), metadata=meta)
        weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        save_file(weights, str(staging / WEIGHTS), metadata=meta)
        (staging / CONFIG).write_text(json.dumps(cfg.with_record(record).to_dict(), indent=2))
        for name in (STATE, WEIGHTS, CONFIG):
            if (staging / name).exists():
                _fsynced(staging / name)
        (staging / COMPLETE).write_text(str(epoch))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)  # the previous checkpoint stays as it was
        raise
    recover(folder)


def read_config(folder: str | Path) -> Config:
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: no such checkpoint folder")
    recover(folder)
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


def _older_than(version: str, than: tuple[int, ...]) -> bool:
    try:
        return tuple(int(part) for part in version.split(".")[:3]) < than
    except ValueError:
        return True  # no version recorded


def load(folder: str | Path, device: str | torch.device = "cpu"):
    """A ready model (eval mode) from a checkpoint folder; raises CheckpointError with a clear message.
    A VQ-VAE or a VAE comes with its prior (`model.prior`: over code grids, or fitted over z) when `<folder>/prior/`
    holds one trained on its weights, else `model.prior` is None; a stale prior's message (what is wrong, the command
    to retrain it) is then `model.prior_problem`."""
    model = _load_one(folder, device)
    if model.cfg.model in ("vqvae", "vae"):
        model.folder = str(folder)
        try:
            model.prior = load_prior(folder, model, device)
        except StalePriorError as e:
            model.prior = None
            model.prior_problem = str(e)
    return model


def _prior_folder(folder: str | Path) -> Path | None:
    """<folder>/prior/ when it holds weights (after finishing or dropping an interrupted save), else None."""
    path = Path(folder) / PRIOR
    if path.is_dir():
        recover(path)  # a save that a crash interrupted: finish it or drop it
    return path if (path / WEIGHTS).exists() else None


def load_prior(folder: str | Path, model, device: str | torch.device = "cpu"):
    """The prior in `<folder>/prior/` for `model` (a VQ-VAE's over its code grids, a VAE's fitted over z), or None
    when there is none. Raises CheckpointError when it is not one for this model, and StalePriorError when it was
    trained on other weights than `<folder>/model.safetensors`, or records none."""
    path = _prior_folder(folder)
    if path is None:
        return None
    prior = _load_one(path, device)
    retrain = f"{model.PRIOR_COMMAND} {folder}"
    what = model.cfg.model.upper().replace("VQVAE", "VQ-VAE")
    mismatch = model.prior_mismatch(prior.cfg)
    if mismatch:
        raise CheckpointError(f"{path}: not a prior for this {what} ({mismatch}); delete it, or {retrain}")
    trained_on = prior.cfg.record.trained_on
    if not trained_on:
        raise StalePriorError(f"{path}: the prior records no {what} weights it was trained on, so it may belong to "
                              f"other weights; it is not used for sampling or the likelihood bound: {retrain}")
    if trained_on != weights_sha256(Path(folder) / WEIGHTS):
        raise StalePriorError(f"{path}: the prior was trained on other {what} weights than {Path(folder) / WEIGHTS} "
                              f"(retrained or resumed since); it is not used for sampling or the likelihood bound: "
                              f"{retrain}")
    return prior


def _load_one(folder: str | Path, device: str | torch.device = "cpu"):
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
        hint = ""
        if cfg.model == "vae" and cfg.arch == "conv" and _older_than(cfg.version, (0, 2, 0)):
            hint = (f". It was written by vae_core {cfg.version or '< 0.2.0'}, and the conv VAE's layers changed in "
                    "0.2.0: retrain it with python -m vae_core.train")
        raise CheckpointError(f"{folder}: {CONFIG} does not match {WEIGHTS} ({details}){hint}")
    model.load_state_dict(weights)
    return model.to(device).eval()
