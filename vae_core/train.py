"""Train a VAE or a VQ-VAE and write a checkpoint folder after every epoch.

    python -m vae_core.train --model vae --data fashion-mnist --epochs 20 --out checkpoints/fashion-vae
    python -m vae_core.train --out checkpoints/fashion-vae --resume --epochs 30     # continue
    torchrun --nproc_per_node 2 -m vae_core.train ...                               # DistributedDataParallel

A seeded validation split is held out of the training images (--validation; vae_core/data/validation.py). Each
epoch: one pass over the shuffled rest of the training split (order fixed by seed and epoch), evaluation on the
validation split (on the test split for a run without one), a line in history.jsonl, reconstructions.png (and
samples.png for a VAE), and the checkpoint. The test split's figures come from python -m vae_core.evaluate.
"""
import argparse
import dataclasses
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist

from .checkpoint import CONFIG, STATE, WEIGHTS, CheckpointError, read_config
from .config import Config, Record, fsq_codes, levels_ok
from .data import DataError, hold_out, load_dataset, to_float, validation_size
from .data.images import save_grid
from .evaluation.report import evaluate
from .models import build_model
from .training.compiled import (
    CompileUnavailable,
    compile_for_training,
    failure_message,
    is_compile_failure,
)
from .training.device import TRAINING_DEFAULTS, adam, pick_device, training_defaults
from .training.flags import add_setting_flags
from .training.loop import Clock, process_start_time, train_epoch
from .training.precision import training_losses, training_model
from .training.run_folder import TrainingError, resume_from, resumed_config, save_epoch

RESUME_MAY_CHANGE = ("epochs", "data_dir", "compile")  # how long, where the data is and how fast: not what is computed


# --- distributed set-up (torchrun sets WORLD_SIZE, RANK, LOCAL_RANK) ----------------------------------
def setup_distributed(device: torch.device) -> tuple[int, int, torch.device]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1, device
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    return dist.get_rank(), world, device


@dataclass
class Run:
    """One call of train(): what to train, where to, on which device and process, and by which clock."""

    cfg: Config
    out: Path
    resume: bool
    device: torch.device
    rank: int  # this process among `world` (torchrun); rank 0 evaluates, saves and logs
    world: int
    clock: Clock
    log: object  # print-like

    @property
    def main(self) -> bool:
        return self.rank == 0


def with_validation(cfg: Config, n_train: int) -> Config:
    """cfg with its validation split's size resolved (validation = -1: the documented size for n_train images)."""
    if cfg.validation >= 0:
        return cfg
    return dataclasses.replace(cfg, validation=validation_size(n_train))


def train(cfg: Config, out: str | Path, resume: bool = False, device: str = "auto", log=print,
          started: float | None = None) -> dict:
    """Train to cfg.epochs (or until cfg.time_budget seconds after `started`, by default this call); returns the
    last epoch's metrics (on the validation split; on the test split for a run without one). cfg is not changed:
    what the run records is saved with the checkpoint (Record)."""
    started = time.time() if started is None else started
    out = Path(out)
    rank, world, dev = setup_distributed(pick_device(device))
    log = log if rank == 0 else (lambda *a: None)
    try:
        return _train(Run(cfg, out, resume, dev, rank, world, Clock(cfg, started), log))
    except Exception as e:
        if cfg.compile and is_compile_failure(e):
            raise TrainingError(f"{failure_message(e)}. Checkpoints already saved in {out} are kept "
                                "(continue with --resume --no-compile).") from e
        raise
    finally:
        if world > 1:
            dist.destroy_process_group()


def _train(run: Run) -> dict:
    cfg, out, dev, rank, world, clock, log = run.cfg, run.out, run.device, run.rank, run.world, run.clock, run.log
    ds = load_dataset(cfg.data, cfg.data_dir, cfg.channels, cfg.image_size, seed=cfg.seed, log=log)
    cfg = with_validation(cfg, len(ds.x_train))
    ds = hold_out(ds, cfg.validation, cfg.seed)
    log(ds.describe())
    x_eval, split = (ds.x_val, "validation") if ds.x_val is not None else (ds.x_test, "test")
    torch.manual_seed(cfg.seed)
    model = training_model(build_model(cfg), cfg, dev)  # conv weights channels_last where that is faster
    opt = adam(model.parameters(), cfg.lr, dev)
    start = 0
    if run.resume:
        start = resume_from(out, model, opt, log)
    if world > 1 and cfg.time_budget:
        raise TrainingError("--time-budget stops each process by its own clock, which would leave the others "
                            "waiting: use --epochs with torchrun")
    if world > 1:  # each rank draws its own noise (eps, dead-code restarts are broadcast from rank 0)
        torch.manual_seed(cfg.seed + 7919 * rank + start)
    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    net = compile_for_training(net, cfg)  # training steps call net; evaluation and saving use model
    # the training split stays uint8 on the device and is indexed there: no host work or copy per step
    x_train, x_test = torch.from_numpy(ds.x_train).to(dev), ds.x_test

    def loss_of(idx: torch.Tensor) -> torch.Tensor:  # this rank's share of the batch, in memory order
        return training_losses(net, x_train[idx[rank::world].sort().values].float().div_(255.0), cfg, dev)["loss"]

    metrics = dict(cfg.metrics)
    trained = {"steps": 0, "loss": 0.0, "seconds": 0.0}  # since the last evaluation: what its history row reports
    for epoch in range(start + 1, cfg.epochs + 1):
        model.train()
        t0 = time.time()
        steps, loss_sum = train_epoch(loss_of, opt, len(x_train), cfg, epoch, clock, dev, out, show=run.main)
        trained = {"steps": trained["steps"] + steps, "loss": trained["loss"] + loss_sum,
                   "seconds": trained["seconds"] + time.time() - t0}
        if not run.main:
            dist.barrier()
            continue
        if not clock.evaluate_now(last_epoch=epoch == cfg.epochs):
            continue  # a short epoch under a time budget: train on, evaluate and save after a later one
        t1 = time.time()
        metrics = evaluate(model, x_eval, device=dev)
        if cfg.model == "vqvae":
            metrics["codes_restarted"] = model.quantizer.pop_restarts()  # dead codes restarted since the last row
        metrics.update(split=split, epoch=epoch, train_loss=trained["loss"] / max(trained["steps"], 1),
                       seconds=trained["seconds"],
                       images_per_sec=trained["steps"] * cfg.batch_size / max(trained["seconds"], 1e-9))
        trained = {"steps": 0, "loss": 0.0, "seconds": 0.0}
        log(f"epoch {epoch}: " + ", ".join(f"{k}={v:.4g}" for k, v in metrics.items()
                                              if isinstance(v, float) and k not in ("seconds",)))
        save_epoch(out, model, cfg, Record(label_names=ds.label_names, metrics=metrics), opt, epoch,
                   lambda folder: _write_pictures(folder, model, x_test[:16], dev))
        clock.evaluated_and_saved(time.time() - t1)
        if world > 1:
            dist.barrier()
        if clock.must_stop():
            log(f"time budget of {cfg.time_budget:g} s spent after epoch {epoch}")
            break
    return metrics


@torch.no_grad()
def _write_pictures(out: Path, model, x_uint8, dev) -> None:
    model.eval()
    x = to_float(x_uint8, dev)
    save_grid(torch.cat([x, model.reconstruct(x)]), out / "reconstructions.png", nrow=len(x))
    if model.cfg.model == "vae":
        save_grid(model.sample(64, torch.Generator().manual_seed(0)), out / "samples.png", nrow=8)
    model.train()


# --- command line: one flag per setting, its help from the setting's field (vae_core/config.py) -------------
def train_settings() -> list[str]:
    """The settings `python -m vae_core.train` takes: every field with a help text but the priors' own."""
    return [f.name for f in dataclasses.fields(Config)
            if "help" in f.metadata and not f.name.startswith(("prior_", "gmm_"))]


BY_DEVICE = [", ".join(f"{v[i]:g} on {kind}" for kind, v in TRAINING_DEFAULTS.items()) for i in (0, 1)]
BY_DEVICE_HELP = {"batch_size": f" (default by device: {BY_DEVICE[0]}, as on cpu elsewhere; cuda's from an "
                                "equal-time sweep on an H200, to be re-measured on other GPUs; README: Train on "
                                "your own data)",
                  "lr": f" (default by device: {BY_DEVICE[1]})"}
NO_DEFAULT_SHOWN = ("channels", "image_size", "batch_size", "lr", "compile")  # their help says where they come from


def parse_args(argv=None) -> tuple[Config, argparse.Namespace]:
    p = argparse.ArgumentParser(prog="python -m vae_core.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="checkpoint folder to write (or resume)")
    p.add_argument("--resume", action="store_true", help="continue the checkpoint in --out from its last epoch")
    p.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, mps")
    names, defaults = train_settings(), Config()
    add_setting_flags(p, names, {n: getattr(defaults, n) for n in names if n not in NO_DEFAULT_SHOWN},
                      extra_help=BY_DEVICE_HELP)
    args = p.parse_args(argv)
    given = {f: getattr(args, f) for f in names if getattr(args, f) is not None}
    out = Path(args.out)
    if given.get("model") == "prior":
        p.error("a prior is trained on a VQ-VAE's codes: python -m vae_core.train_prior CKPT")
    if given.get("model") == "latent_prior":
        p.error("a VAE's latent prior is fitted to a trained VAE: python -m vae_core.fit_prior CKPT")
    if args.resume:
        if not (out / CONFIG).exists() or not (out / STATE).exists():
            p.error(f"--resume: {out} holds no checkpoint with training state to resume")
        cfg = resumed_config(read_config(out), given, RESUME_MAY_CHANGE)
    else:
        if (out / WEIGHTS).exists():
            p.error(f"{out} already holds a checkpoint; pass --resume to continue it or choose another --out")
        ds_shape = {}
        if "channels" not in given or "image_size" not in given:
            try:
                ds = load_dataset(given.get("data", defaults.data), given.get("data_dir", ""), given.get("channels"),
                                  given.get("image_size"), seed=given.get("seed", 0))
            except DataError as e:
                p.error(str(e))
            ds_shape = {"channels": ds.image_shape[0], "image_size": ds.image_shape[1]}
        batch_size, lr = training_defaults(pick_device(args.device))  # recorded in config.json; --resume keeps them
        if given.get("quantizer") == "fsq" and "num_codes" not in given and levels_ok(given.get("fsq_levels",
                                                                                                 defaults.fsq_levels)):
            given["num_codes"] = fsq_codes(given.get("fsq_levels", defaults.fsq_levels))  # K = prod(levels)
        try:
            cfg = Config(**{"batch_size": batch_size, "lr": lr, **ds_shape, **given})
        except ValueError as e:
            p.error(str(e))
    return cfg, args


def main(argv=None, started: float | None = None) -> dict:
    """The command; --time-budget counts from `started` (the process's start when run as a command, else now)."""
    started = time.time() if started is None else started
    cfg, args = parse_args(argv)
    try:
        return train(cfg, args.out, resume=args.resume, device=args.device, started=started)
    except (TrainingError, CheckpointError, DataError, CompileUnavailable) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main(started=process_start_time())
