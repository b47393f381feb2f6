"""The parts of a training loop that both trainers share (vae_core.train, vae_core.train_prior): the run's clock
and time budget, the lr schedule, the order of each epoch, one optimiser step, and one epoch of Adam steps with the
non-finite check.

    lr(p) = lr * min(1, (1 - p) / warmdown)        p: progress of the run, 0..1 (by steps, or by the clock)
"""
import os
import sys
import time
from pathlib import Path

import torch
from tqdm import tqdm

from ..config import Config
from .run_folder import TrainingError

SYNC_EVERY = 20  # training steps between reads of the loss on the host (progress bar, non-finite check)
EVALUATION_SHARE = 0.2  # under a time budget, at most this share of the time goes to evaluating and saving
IMPORTED = time.time()


def process_start_time() -> float:
    """When this process started (time.time() scale), interpreter start and imports included: where
    `python -m vae_core.train --time-budget` counts from. Linux: from /proc; elsewhere: when this module was
    imported."""
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


def lr_at(cfg: Config, progress: float) -> float:
    """Adam's lr after `progress` (0..1) of the run: cfg.lr, then linear to 0 over the last cfg.warmdown of it."""
    if cfg.warmdown <= 0:
        return cfg.lr
    return cfg.lr * min(1.0, (1.0 - progress) / cfg.warmdown)


def epoch_order(n: int, cfg: Config, epoch: int, device) -> torch.Tensor:
    """The order of the n training items in `epoch`: a permutation seeded by (cfg.seed, epoch) alone, so a resumed
    run visits them exactly as an uninterrupted one."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(cfg.seed * 100003 + epoch))
    return perm.to(device)


def check_finite(first_bad: torch.Tensor, epoch: int, out: Path, what: str = "checkpoint") -> None:
    """Raise TrainingError if a step of this epoch had a non-finite loss (one host sync per call)."""
    step = int(first_bad)
    if step >= 0:
        raise TrainingError(
            f"loss became nan or inf at epoch {epoch}, step {step}. The last good {what} "
            f"(epoch {epoch - 1}) in {out} is kept. Lower --lr, then --resume.")


def optimizer_step(opt: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    """One step of `opt` down the gradient of `loss`: theta <- opt(theta, d loss / d theta), the gradients cleared
    first (vae_core's trainers and the explorer's Playground)."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def train_epoch(loss_of, opt: torch.optim.Optimizer, n: int, cfg: Config, epoch: int, clock: Clock, device,
                out: Path, desc: str = "epoch", show: bool = True, what: str = "checkpoint") -> tuple[int, float]:
    """One pass over the n training items in epoch_order, cfg.batch_size at a time (the last partial batch
    dropped), each an Adam step on `loss_of(indices)` at lr_at(progress); stops early when the clock says so.
    The loss is summed and checked for nan/inf on the device and read on the host only every SYNC_EVERY steps.
    Returns (steps taken, summed loss)."""
    perm = epoch_order(n, cfg, epoch, device)
    steps = len(perm) // cfg.batch_size
    running = torch.zeros((), device=device)  # summed on the device, read back only every SYNC_EVERY steps
    first_bad = torch.full((), -1, device=device)  # the first step whose loss was not finite, if any
    bar = tqdm(range(steps), desc=f"{desc} {epoch}/{cfg.epochs}", disable=not show, mininterval=1, file=sys.stderr,
               leave=False)
    for step in bar:
        for group in opt.param_groups:
            group["lr"] = lr_at(cfg, clock.progress(((epoch - 1) * steps + step) / (cfg.epochs * steps)))
        loss = loss_of(perm[step * cfg.batch_size:(step + 1) * cfg.batch_size])
        optimizer_step(opt, loss)
        running += loss.detach()
        first_bad = torch.where((first_bad < 0) & ~torch.isfinite(loss.detach()), step, first_bad)
        last = step == steps - 1 or clock.must_stop()
        if step % SYNC_EVERY == 0 or last:
            check_finite(first_bad, epoch, out, what)
            bar.set_postfix(loss=f"{running.item() / (step + 1):.2f}")
        if last:
            break
    bar.close()
    return step + 1, running.item()
