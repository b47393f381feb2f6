"""Train a VAE or a VQ-VAE and write a checkpoint folder after every epoch.

    python -m vae_core.train --model vae --data fashion-mnist --epochs 20 --out checkpoints/fashion-vae
    python -m vae_core.train --out checkpoints/fashion-vae --resume --epochs 30     # continue
    torchrun --nproc_per_node 2 -m vae_core.train ...                               # DistributedDataParallel

Each epoch: one pass over the shuffled training split (order fixed by seed and epoch), evaluation on the test
split, a line in history.jsonl, reconstructions.png (and samples.png for a VAE), and the checkpoint.
"""
import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist
from tqdm import tqdm

from .checkpoint import (
    CONFIG,
    STATE,
    WEIGHTS,
    CheckpointError,
    read_config,
    read_tensors,
    recover,
    save_checkpoint,
)
from .compiled import (
    CompileUnavailable,
    compile_for_training,
    failure_message,
    is_compile_failure,
)
from .config import COMPILE_MODES, Config
from .data import DataError, load_dataset, to_float
from .device import TRAINING_DEFAULTS, adam, pick_device, training_defaults
from .evaluate import evaluate
from .images import save_grid
from .models import build_model
from .precision import training_losses, training_model

HISTORY = "history.jsonl"
SYNC_EVERY = 20  # training steps between reads of the loss on the host (progress bar, non-finite check)
EVALUATION_SHARE = 0.2  # under a time budget, at most this share of the time goes to evaluating and saving
IMPORTED = time.time()


def process_start_time() -> float:
    """When this process started (time.time() scale), interpreter start and imports included: where
    `python -m vae_core.train --time-budget` counts from. Linux: from /proc; elsewhere: when this module was imported."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        age = float(Path("/proc/uptime").read_text().split()[0]) - int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return IMPORTED
    # age = uptime now - start time since boot (both 10 ms ticks); a clock that disagrees falls back
    return time.time() - age if 0 <= age <= time.time() - IMPORTED + 60 else IMPORTED


class Clock:
    """The wall-clock budget of a run: cfg.time_budget seconds since `started` (the command's start, or the call
    of train()), evaluation and saving included (0: no budget, only cfg.epochs)."""

    def __init__(self, cfg: Config, started: float | None = None):
        self.budget = cfg.time_budget
        self.started = time.time() if started is None else started
        self.reserve = 0.05 * self.budget  # kept for the last evaluation and save, until one has been timed
        self.evaluated = self.started  # when the last evaluation and save finished
        self.evaluation_seconds = 0.0  # how long it took

    def elapsed(self) -> float:
        return time.time() - self.started

    def progress(self, by_steps: float) -> float:
        """Progress of the run (0..1) for the lr schedule: by steps out of cfg.epochs, or by the clock if further."""
        if not self.budget:
            return by_steps
        return max(by_steps, min(1.0, self.elapsed() / max(self.budget - self.reserve, 1e-9)))

    def must_stop(self) -> bool:
        """True once only the time for the last evaluation and save is left."""
        return bool(self.budget) and self.elapsed() + self.reserve >= self.budget

    def evaluate_now(self, last_epoch: bool) -> bool:
        """Evaluate and save after this epoch? Always without a budget, after the last epoch and when the budget is
        spent. Under a budget, short epochs (a small data set) are evaluated only once the training since the last
        evaluation took (1 - s) / s times as long as that evaluation, s = EVALUATION_SHARE: at most that share of
        the budget goes to evaluating and saving, the rest to training."""
        if not self.budget or last_epoch or self.must_stop():
            return True
        since = time.time() - self.evaluated
        return since * EVALUATION_SHARE >= (1 - EVALUATION_SHARE) * self.evaluation_seconds

    def evaluated_and_saved(self, seconds: float) -> None:
        self.evaluated, self.evaluation_seconds = time.time(), seconds
        self.reserve = 1.2 * seconds


class TrainingError(RuntimeError):
    """Training stopped; the message says why and what was kept."""


# --- optimizer and RNG state as plain tensors (saved with safetensors, never pickled) ---------------
def training_state(opt: torch.optim.Optimizer, epoch: int) -> dict[str, torch.Tensor]:
    t = {"epoch": torch.tensor(epoch), "rng.torch": torch.get_rng_state()}
    for i, state in opt.state_dict()["state"].items():
        for name, v in state.items():
            t[f"optim.{i}.{name}"] = torch.as_tensor(v).detach().cpu().contiguous().clone()
    return t


def restore_training_state(opt: torch.optim.Optimizer, t: dict[str, torch.Tensor]) -> int:
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


def resume_from(out: Path, model: torch.nn.Module, opt: torch.optim.Optimizer, log=print) -> int:
    """Load the weights, optimizer and RNG state saved in `out`; returns the epoch they were saved after."""
    recover(out)  # finish or drop a save that a crash interrupted
    weights, meta = read_tensors(out / WEIGHTS)
    state, state_meta = read_tensors(out / STATE)
    if meta.get("epoch") != state_meta.get("epoch"):
        raise CheckpointError(f"{out}: weights (epoch {meta.get('epoch')}) and training state "
                              f"(epoch {state_meta.get('epoch')}) disagree; the save was interrupted")
    model.load_state_dict(weights)
    start = restore_training_state(opt, state)
    _truncate_history(out / HISTORY, start)
    log(f"resuming {out} after epoch {start}")
    return start


def lr_at(cfg: Config, progress: float) -> float:
    """Adam's lr after `progress` (0..1) of the run: cfg.lr, then linear to 0 over the last cfg.warmdown of it."""
    if cfg.warmdown <= 0:
        return cfg.lr
    return cfg.lr * min(1.0, (1.0 - progress) / cfg.warmdown)


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


def epoch_order(n: int, cfg: Config, epoch: int, device) -> torch.Tensor:
    """The order of the n training items in `epoch`: a permutation seeded by (cfg.seed, epoch) alone, so a resumed
    run visits them exactly as an uninterrupted one."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(cfg.seed * 100003 + epoch))
    return perm.to(device)


def train(cfg: Config, out: str | Path, resume: bool = False, device: str = "auto", log=print,
          started: float | None = None) -> dict:
    """Train to cfg.epochs (or until cfg.time_budget seconds after `started`, by default this call); returns the
    last epoch's test metrics."""
    started = time.time() if started is None else started
    out = Path(out)
    rank, world, dev = setup_distributed(pick_device(device))
    main = rank == 0
    log = log if main else (lambda *a: None)
    try:
        return _train(cfg, out, resume, dev, rank, world, main, log, Clock(cfg, started))
    except Exception as e:
        if cfg.compile and is_compile_failure(e):
            raise TrainingError(f"{failure_message(e)}. Checkpoints already saved in {out} are kept "
                                "(continue with --resume --no-compile).") from e
        raise
    finally:
        if world > 1:
            dist.destroy_process_group()


def _train(cfg, out, resume, dev, rank, world, main, log, clock):
    ds = load_dataset(cfg.data, cfg.data_dir, cfg.channels, cfg.image_size, seed=cfg.seed, log=log)
    log(ds.describe())
    cfg.label_names = ds.label_names
    torch.manual_seed(cfg.seed)
    model = training_model(build_model(cfg), cfg, dev)  # conv weights channels_last where that is faster
    opt = adam(model.parameters(), cfg.lr, dev)
    start = 0
    if resume:
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
    metrics = dict(cfg.metrics)
    trained = {"steps": 0, "loss": 0.0, "seconds": 0.0}  # since the last evaluation: what its history row reports
    for epoch in range(start + 1, cfg.epochs + 1):
        model.train()
        perm = epoch_order(len(x_train), cfg, epoch, dev)
        steps = len(perm) // cfg.batch_size  # drop the last partial batch
        t0 = time.time()
        running = torch.zeros((), device=dev)  # summed on the device, read back only every SYNC_EVERY steps
        first_bad = torch.full((), -1, device=dev)  # the first step whose loss was not finite, if any
        bar = tqdm(range(steps), desc=f"epoch {epoch}/{cfg.epochs}", disable=not main, mininterval=1,
                   file=sys.stderr, leave=False)
        for step in bar:
            idx = perm[step * cfg.batch_size:(step + 1) * cfg.batch_size][rank::world].sort().values
            for group in opt.param_groups:
                group["lr"] = lr_at(cfg, clock.progress(((epoch - 1) * steps + step) / (cfg.epochs * steps)))
            loss = training_losses(net, x_train[idx].float().div_(255.0), cfg, dev)["loss"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            running += loss.detach()
            first_bad = torch.where((first_bad < 0) & ~torch.isfinite(loss.detach()), step, first_bad)
            last = step == steps - 1 or clock.must_stop()
            if step % SYNC_EVERY == 0 or last:
                _check_finite(first_bad, epoch, out)
                bar.set_postfix(loss=f"{running.item() / (step + 1):.2f}")
            if last:
                break
        steps = step + 1
        running = running.item()
        bar.close()
        trained = {"steps": trained["steps"] + steps, "loss": trained["loss"] + running,
                   "seconds": trained["seconds"] + time.time() - t0}
        if not main:
            dist.barrier()
            continue
        if not clock.evaluate_now(last_epoch=epoch == cfg.epochs):
            continue  # a short epoch under a time budget: train on, evaluate and save after a later one
        t1 = time.time()
        metrics = evaluate(model, x_test, device=dev)
        if cfg.model == "vqvae":
            metrics["codes_restarted"] = model.quantizer.pop_restarts()  # dead codes restarted since the last row
        metrics.update(epoch=epoch, train_loss=trained["loss"] / max(trained["steps"], 1), seconds=trained["seconds"],
                       images_per_sec=trained["steps"] * cfg.batch_size / max(trained["seconds"], 1e-9))
        trained = {"steps": 0, "loss": 0.0, "seconds": 0.0}
        cfg.metrics = metrics
        log(f"epoch {epoch}: " + ", ".join(f"{k}={v:.4g}" for k, v in metrics.items()
                                              if isinstance(v, float) and k not in ("seconds",)))
        _save(out, model, cfg, opt, epoch, x_test, dev)
        clock.evaluated_and_saved(time.time() - t1)
        if world > 1:
            dist.barrier()
        if clock.must_stop():
            log(f"time budget of {cfg.time_budget:g} s spent after epoch {epoch}")
            break
    return metrics


def _check_finite(first_bad: torch.Tensor, epoch: int, out: Path) -> None:
    """Raise TrainingError if a step of this epoch had a non-finite loss (one host sync per call)."""
    step = int(first_bad)
    if step >= 0:
        raise TrainingError(
            f"loss became nan or inf at epoch {epoch}, step {step}. The last good checkpoint "
            f"(epoch {epoch - 1}) in {out} is kept. Lower --lr, then --resume.")


def _save(out: Path, model, cfg: Config, opt, epoch: int, x_test, dev) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        with open(out / HISTORY, "a") as f:
            f.write(json.dumps(cfg.metrics) + "\n")
        save_checkpoint(out, model, cfg, training_state(opt, epoch), epoch)
        _write_pictures(out, model, x_test[:16], dev)
    except OSError as e:
        raise TrainingError(f"could not save the checkpoint for epoch {epoch} to {out} ({e}). The previous "
                            "checkpoint there is intact; free space or fix permissions, then --resume.") from e


@torch.no_grad()
def _write_pictures(out: Path, model, x_uint8, dev) -> None:
    model.eval()
    x = to_float(x_uint8, dev)
    save_grid(torch.cat([x, model.reconstruct(x)]), out / "reconstructions.png", nrow=len(x))
    if model.cfg.model == "vae":
        save_grid(model.sample(64, torch.Generator().manual_seed(0)), out / "samples.png", nrow=8)
    model.train()


def _truncate_history(path: Path, last_epoch: int) -> None:
    """Drop history lines after the epoch being resumed from (written before a crash mid-save)."""
    if path.exists():
        lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
        kept = [ln for ln in lines if json.loads(ln).get("epoch", 0) <= last_epoch]
        path.write_text("".join(ln + "\n" for ln in kept))


# --- command line ---------------------------------------------------------------------------------
HELP = {
    "model": "vae or vqvae", "arch": "conv, or mlp for the classic 784-400-latent VAE",
    "channels": "image channels, 1 or 3 (default: the data set's)",
    "image_size": "image side, divisible by 4 (default: the data set's)",
    "width": "conv channels at half the image size (the VAE encoder has half as many)",
    "hidden": "hidden units of the MLP preset",
    "latent_dim": "VAE latent size",
    "likelihood": "p(x|z): discretized_logistic or discretized_gaussian (normalised over the 256 grey levels, so "
                  "-log p is a code length), or bernoulli (for binary images; on grey ones a loss, not a likelihood)",
    "scale": "scale of a discretised likelihood: decoder (the decoder outputs it per pixel), shared (one learned "
             "value per pixel) or fixed",
    "fixed_scale": "the scale when --scale fixed", "beta": "weight on the KL term",
    "mc_samples": "Monte Carlo samples L of z per image", "num_codes": "VQ-VAE codebook size K",
    "code_dim": "VQ-VAE code vector size D",
    "res_blocks": "VQ-VAE residual blocks at a quarter of the image size, in the encoder and the decoder each",
    "commitment": "weight of the commitment term ||z_e - sg[e]||^2 (beta of the VQ-VAE paper)",
    "codebook": "ema (EMA updates) or loss (codebook loss term)", "ema_decay": "decay of the EMA codebook",
    "codebook_weight": "weight of the codebook term ||sg[z_e] - e||^2 (--codebook loss)",
    "dead_threshold": "restart a code whose EMA count of vectors per batch falls under this share of an equal "
                      "split (0: never)",
    "kmeans_init": "start the codes at k-means centroids of the first batch (--no-kmeans-init: at random vectors "
                   "of it)",
    "data": "fashion-mnist, mnist, digits, a folder of IDX files or images, or an .npz",
    "data_dir": "folder to look for named data sets in before /usr/share/datasets and downloading",
    "epochs": "total epochs (with --resume: train until this many; the lr decay spans all of them, so extending "
              "a finished run raises the lr again)",
    "batch_size": "images per step", "lr": "Adam learning rate",
    "warmdown": "share of training at its end over which the lr falls linearly to 0 (0: constant)",
    "seed": "seed for initialisation, shuffling and sampling",
    "time_budget": "stop after this many seconds of wall-clock time since the command started (Python's start and "
                   "imports included), evaluation and saving included, with the lr warm-down spread over them; "
                   "--epochs becomes a cap (0: none); at most a fifth of it goes to evaluating and saving (short epochs are "
                   "not each evaluated). Where the clock stops a run depends on the machine, so such "
                   "runs are not bit-reproducible",
    "amp": "bf16 mixed precision on CUDA, and for conv models on CPUs with native bf16 (AMX, AVX512-BF16)",
    "compile": "torch.compile the training forward pass, in a mode: default (plain --compile), reduce-overhead "
               "(CUDA graphs), max-autotune, max-autotune-no-cudagraphs. Compiling takes seconds to minutes; it "
               "did not pay on the 2-core CPU (README, Benchmarks)",
}
BY_DEVICE = [", ".join(f"{v[i]:g} on {kind}" for kind, v in TRAINING_DEFAULTS.items()) for i in (0, 1)]
HELP["batch_size"] += (f" (default by device: {BY_DEVICE[0]}, as on cpu elsewhere; cuda's from issue 12's "
                       "equal-time sweep on an H200, to be re-measured here; README: Train on your own data)")
HELP["lr"] += f" (default by device: {BY_DEVICE[1]})"


def parse_args(argv=None) -> tuple[Config, argparse.Namespace]:
    p = argparse.ArgumentParser(prog="python -m vae_core.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="checkpoint folder to write (or resume)")
    p.add_argument("--resume", action="store_true", help="continue the checkpoint in --out from its last epoch")
    p.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, mps")
    defaults = Config()
    for f in dataclasses.fields(Config):
        if f.name not in HELP:
            continue
        flag, default = "--" + f.name.replace("_", "-"), getattr(defaults, f.name)
        if f.name == "compile":  # --compile alone: the default mode; --no-compile: none (e.g. on --resume)
            p.add_argument(flag, nargs="?", const="default", choices=[m for m in COMPILE_MODES if m], default=None,
                           help=HELP[f.name])
            p.add_argument("--no-compile", dest="compile", action="store_const", const="", help="no torch.compile")
        elif f.name in ("batch_size", "lr"):  # defaults by device: training_defaults
            p.add_argument(flag, type=type(default), default=None, help=HELP[f.name])
        elif isinstance(default, bool):
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=HELP[f.name])
        else:
            p.add_argument(flag, type=type(default), default=None,
                           help=f"{HELP[f.name]} (default: {default})" if f.name not in ("channels", "image_size")
                           else HELP[f.name])
    args = p.parse_args(argv)
    given = {f: getattr(args, f) for f in HELP if getattr(args, f) is not None}
    out = Path(args.out)
    if given.get("model") == "prior":
        p.error("a prior is trained on a VQ-VAE's codes: python -m vae_core.train_prior CKPT")
    if args.resume:
        if not (out / CONFIG).exists() or not (out / STATE).exists():
            p.error(f"--resume: {out} holds no checkpoint with training state to resume")
        cfg = read_config(out)
        ignored = sorted(set(given) - {"epochs", "data_dir", "compile"})
        if ignored:
            print(f"--resume keeps the checkpoint's settings; ignoring {ignored}", file=sys.stderr)
        cfg.epochs = given.get("epochs", cfg.epochs)
        cfg.data_dir = given.get("data_dir", cfg.data_dir)
        cfg.compile = given.get("compile", cfg.compile)  # how fast, not what is computed: may change
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
