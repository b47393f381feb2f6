"""A training run's folder: the checkpoint (checkpoint.py) plus what it takes to follow and continue the run.

    <out>/history.jsonl                one JSON line of metrics per evaluated epoch
    <out>/training_state.safetensors   Adam's moments, the RNG state and the epoch, as plain tensors
    <out>/reconstructions.png, ...     pictures of the model after the epoch

Both trainers (vae_core.train, vae_core.train_prior) save each epoch with `save_epoch` (history line, then the
journalled checkpoint, then pictures) and continue a run with `resume_from`; on --resume a run keeps its recorded
settings except the few that `resumed_config` lets change. Importing this module imports neither torch nor the
training loop, so the explorer can read a run's history cheaply; the functions that need torch import it.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import Config, Record

if TYPE_CHECKING:
    import torch

HISTORY = "history.jsonl"


class TrainingError(RuntimeError):
    """Training stopped; the message says why and what was kept."""


# --- history.jsonl ------------------------------------------------------------------------------
def read_history(folder: str | Path) -> list[dict]:
    """The rows of <folder>/history.jsonl, oldest first ([] when there is none)."""
    path = Path(folder) / HISTORY
    if not path.exists():
        return []
    return [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()]


def append_history(folder: Path, metrics: dict) -> None:
    with open(folder / HISTORY, "a") as f:
        f.write(json.dumps(metrics) + "\n")


def truncate_history(path: Path, last_epoch: int) -> None:
    """Drop history lines after the epoch being resumed from (written before a crash mid-save)."""
    if path.exists():
        lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
        kept = [ln for ln in lines if json.loads(ln).get("epoch", 0) <= last_epoch]
        path.write_text("".join(ln + "\n" for ln in kept))


# --- optimizer and RNG state as plain tensors (saved with safetensors, never pickled) ---------------
def training_state(opt: torch.optim.Optimizer, epoch: int) -> dict[str, torch.Tensor]:
    import torch

    t = {"epoch": torch.tensor(epoch), "rng.torch": torch.get_rng_state()}
    for i, state in opt.state_dict()["state"].items():
        for name, v in state.items():
            t[f"optim.{i}.{name}"] = torch.as_tensor(v).detach().cpu().contiguous().clone()
    return t


def restore_training_state(opt: torch.optim.Optimizer, t: dict[str, torch.Tensor]) -> int:
    import torch

    sd = opt.state_dict()
    sd["state"] = {}
    params = [p for group in opt.param_groups for p in group["params"]]
    for key, v in t.items():
        if key.startswith("optim."):
            _, i, name = key.split(".", 2)
            p = params[int(i)]
            if v.shape == p.shape:  # in the parameter's layout: fused Adam walks memory, and a channels_last weight
                v = torch.empty_like(p, dtype=v.dtype).copy_(v)  # with contiguous moments would mix up elements
            sd["state"].setdefault(int(i), {})[name] = v
    opt.load_state_dict(sd)
    torch.set_rng_state(t["rng.torch"])
    return int(t["epoch"])


# --- resume and save ----------------------------------------------------------------------------
def resume_from(out: Path, model: torch.nn.Module, opt: torch.optim.Optimizer, log=print) -> int:
    """Load the weights, optimizer and RNG state saved in `out`; returns the epoch they were saved after."""
    from ..checkpoint import STATE, WEIGHTS, CheckpointError, read_tensors, recover

    recover(out)  # finish or drop a save that a crash interrupted
    weights, meta = read_tensors(out / WEIGHTS)
    state, state_meta = read_tensors(out / STATE)
    if meta.get("epoch") != state_meta.get("epoch"):
        raise CheckpointError(f"{out}: weights (epoch {meta.get('epoch')}) and training state "
                              f"(epoch {state_meta.get('epoch')}) disagree; the save was interrupted")
    model.load_state_dict(weights)
    start = restore_training_state(opt, state)
    truncate_history(out / HISTORY, start)
    log(f"resuming {out} after epoch {start}")
    return start


def resumed_config(saved: Config, given: dict, may_change: tuple[str, ...], what: str = "the checkpoint") -> Config:
    """The settings a resumed run goes on with: `saved`'s, except the `may_change` ones among the flags `given`
    (how long and how fast, never what is computed); the other flags given are reported as ignored."""
    ignored = sorted(set(given) - set(may_change))
    if ignored:
        print(f"--resume keeps {what}'s settings; ignoring {ignored}", file=sys.stderr)
    return Config(**{**saved.settings(), **{k: given[k] for k in may_change if k in given}}, record=saved.record)


def save_epoch(out: Path, model, cfg: Config, record: Record, opt, epoch: int, pictures=None,
               what: str = "the checkpoint") -> None:
    """After an evaluated epoch: a history line (record.metrics), the checkpoint with its training state (journalled:
    a crash leaves the previous one whole), then `pictures(out)` if given; a failure says how to continue."""
    from ..checkpoint import save_checkpoint

    try:
        out.mkdir(parents=True, exist_ok=True)
        append_history(out, record.metrics)
        save_checkpoint(out, model, cfg, training_state(opt, epoch), epoch, record=record)
        if pictures is not None:
            pictures(out)
    except OSError as e:
        raise TrainingError(f"could not save {what} for epoch {epoch} to {out} ({e}). The previous one there is "
                            "intact; free space or fix permissions, then --resume.") from e

