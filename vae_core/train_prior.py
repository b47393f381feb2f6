"""Train the prior over a VQ-VAE's code grids (models/prior.py) and write it to <CKPT>/prior/.

    python -m vae_core.train_prior checkpoints/fashion-vqvae --epochs 3
    python -m vae_core.train_prior checkpoints/fashion-vqvae --resume --epochs 4      # continue
    python -m vae_core.train_prior checkpoints/my-vqvae --time-budget 300             # 5 minutes, all in

Once per run, the frozen VQ-VAE encodes the training and test splits to code grids. A new run first fits the
decoder's scale for the likelihood bound: one log scale per pixel of a discretised logistic around the decoder's
mean, maximising log p(x|z_q) over the training split with the decoder frozen. Each epoch: one pass over the
shuffled training grids minimising -log p(c) (nats per grid), the test prior NLL and bound, a line in
history.jsonl, samples.png (64 grids from the prior, decoded) and the checkpoint (journalled, resumable).
"""
import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .checkpoint import PRIOR, STATE, WEIGHTS, CheckpointError, load, save_checkpoint
from .config import Config
from .data import DataError, load_dataset, to_float
from .device import adam, pick_device
from .evaluate import likelihood_bound
from .images import save_grid
from .likelihood import DISCRETIZED, LOG_SCALE_FLOOR, soft_clamp
from .models import CodePrior
from .train import (
    HISTORY,
    SYNC_EVERY,
    Clock,
    TrainingError,
    epoch_order,
    lr_at,
    process_start_time,
    resume_from,
    training_state,
)

DEFAULTS = {"epochs": 5, "batch_size": 128, "lr": 2e-3, "warmdown": 0.5, "seed": 0, "time_budget": 0.0,
            "prior_layers": 2, "prior_heads": 4, "prior_dim": 128, "prior_dropout": 0.0}


@torch.no_grad()
def encode_grids(vq, x: np.ndarray, device, batch_size: int = 1000) -> torch.Tensor:
    """Code grids c = argmin_k ||z_e(x) - e_k|| of uint8 images x: (N, h, w) long, on `device`."""
    return torch.cat([vq.encode_indices(to_float(x[i:i + batch_size], device)) for i in range(0, len(x), batch_size)])


@torch.no_grad()
def decoder_means(vq, grids: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """The decoder's output (its mean, unclamped: the location of p(x|z_q)) for each grid: (N, C, H, W)."""
    return torch.cat([vq.decode(vq.codebook[grids[i:i + batch_size]].permute(0, 3, 1, 2))
                      for i in range(0, len(grids), batch_size)])


def fit_decoder_scale(likelihood, loc: torch.Tensor, x: torch.Tensor, epochs: int = 3, batch_size: int = 1000,
                      lr: float = 0.05, seed: int = 0) -> float:
    """Set likelihood.log_scale (one per pixel) to maximise sum_i log p(x_i | loc_i), loc fixed (decoder frozen),
    by Adam over minibatches with the lr falling linearly to 0; returns the final -log p(x|z_q) per image."""
    raw = torch.nn.Parameter(likelihood.log_scale.detach().clone().fill_(math.log(0.05)))
    opt = torch.optim.Adam([raw], lr=lr)
    g = torch.Generator().manual_seed(seed)
    steps = epochs * (len(x) // batch_size)
    log_prob = DISCRETIZED[likelihood.kind]
    for step in range(steps):
        idx = torch.randint(0, len(x), (batch_size,), generator=g).to(x.device)
        for group in opt.param_groups:
            group["lr"] = lr * (1 - step / steps)
        nll = -log_prob(x[idx].float() / 255, loc[idx], soft_clamp(raw, LOG_SCALE_FLOOR)).flatten(1).sum(1).mean()
        opt.zero_grad()
        nll.backward()
        opt.step()
    likelihood.log_scale.copy_(raw.detach())
    return recon_nll(likelihood, loc, x)


@torch.no_grad()
def recon_nll(likelihood, loc: torch.Tensor, x: torch.Tensor, batch_size: int = 1000) -> float:
    """-log p(x|z_q) in nats per image, x uint8."""
    return -sum(likelihood.log_prob(loc[i:i + batch_size], x[i:i + batch_size].float() / 255).sum().item()
                for i in range(0, len(x), batch_size)) / len(x)


@torch.no_grad()
def prior_nll(prior: CodePrior, grids: torch.Tensor, batch_size: int = 1000) -> float:
    """-log p(c) in nats per grid, averaged."""
    prior.eval()
    return -sum(prior.log_prob(grids[i:i + batch_size]).sum().item()
                for i in range(0, len(grids), batch_size)) / len(grids)


def prior_config(vq_cfg: Config, **settings) -> Config:
    """The prior's Config: the VQ-VAE's codes and images, the prior's own training settings."""
    keep = ("channels", "image_size", "num_codes", "data", "data_dir", "label_names")
    return Config(model="prior", scale="shared", amp=False, **{k: getattr(vq_cfg, k) for k in keep},
                  **{**DEFAULTS, **settings})


def train_prior(checkpoint: str | Path, cfg: Config | None = None, resume: bool = False, device: str = "auto",
                log=print, started: float | None = None) -> dict:
    """Train the prior of the VQ-VAE in `checkpoint` to cfg.epochs (or until cfg.time_budget seconds after
    `started`, by default this call, encoding the codes included); returns the last epoch's metrics.
    Without `cfg` (and on resume), the prior's settings are DEFAULTS (or the saved ones)."""
    started = time.time() if started is None else started
    dev = pick_device(device)
    checkpoint = Path(checkpoint)
    out = checkpoint / PRIOR
    vq = load(checkpoint, dev)
    if vq.cfg.model != "vqvae":
        raise TrainingError(f"{checkpoint} holds a {vq.cfg.model.upper()}: a prior over codes needs a VQ-VAE")
    if resume:
        saved = load(out).cfg if (out / STATE).exists() else None
        if saved is None:
            raise TrainingError(f"--resume: {out} holds no prior with training state to resume")
        cfg = saved if cfg is None else cfg
    elif (out / WEIGHTS).exists():
        raise TrainingError(f"{out} already holds a prior; pass --resume to continue it, or delete the folder")
    cfg = cfg or prior_config(vq.cfg)
    ds = load_dataset(vq.cfg.data, cfg.data_dir, vq.cfg.channels, vq.cfg.image_size, seed=vq.cfg.seed, log=log)
    t0 = time.time()
    train_grids, test_grids = encode_grids(vq, ds.x_train, dev), encode_grids(vq, ds.x_test, dev)
    log(f"encoded {len(train_grids)} training and {len(test_grids)} test images to {tuple(train_grids.shape[1:])} "
        f"code grids in {time.time() - t0:.1f} s")
    torch.manual_seed(cfg.seed)
    prior = CodePrior(cfg).to(dev)
    opt = adam(prior.parameters(), cfg.lr, dev)  # the decoder's scale is a buffer: not trained here
    start = resume_from(out, prior, opt, log) if resume else 0
    x_test = torch.from_numpy(ds.x_test).to(dev)
    if not resume:
        t0 = time.time()
        x_train = torch.from_numpy(ds.x_train).to(dev)
        train_recon = fit_decoder_scale(prior.decoder_likelihood, decoder_means(vq, train_grids), x_train,
                                        seed=cfg.seed)
        del x_train
        log(f"fitted the decoder's per-pixel scale on the training split in {time.time() - t0:.1f} s: "
            f"-log p(x|z_q) = {train_recon:.1f} nats per training image")
    test_recon = recon_nll(prior.decoder_likelihood, decoder_means(vq, test_grids), x_test)
    dims = int(np.prod(ds.x_test.shape[1:]))
    metrics, clock = dict(cfg.metrics), Clock(cfg, started)
    for epoch in range(start + 1, cfg.epochs + 1):
        prior.train()
        perm = epoch_order(len(train_grids), cfg, epoch, dev)
        steps = len(perm) // cfg.batch_size  # drop the last partial batch
        t0 = time.time()
        running = torch.zeros((), device=dev)
        bar = tqdm(range(steps), desc=f"prior epoch {epoch}/{cfg.epochs}", mininterval=1, file=sys.stderr,
                   leave=False)
        for step in bar:
            for group in opt.param_groups:
                group["lr"] = lr_at(cfg, clock.progress(((epoch - 1) * steps + step) / (cfg.epochs * steps)))
            loss = prior(train_grids[perm[step * cfg.batch_size:(step + 1) * cfg.batch_size]])["loss"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            running += loss.detach()
            last = step == steps - 1 or clock.must_stop()
            if step % SYNC_EVERY == 0 or last:
                if not math.isfinite(running.item()):
                    raise TrainingError(f"loss became nan or inf in epoch {epoch}. The last good prior (epoch "
                                        f"{epoch - 1}) in {out} is kept. Lower --lr, then --resume.")
                bar.set_postfix(nll=f"{running.item() / (step + 1):.2f}")
            if last:
                break
        steps = step + 1
        bar.close()
        seconds = time.time() - t0
        metrics = {"model": "prior", "n_grids": len(test_grids),
                   **likelihood_bound(test_recon, prior_nll(prior, test_grids), dims),
                   "epoch": epoch, "train_loss": running.item() / steps, "seconds": seconds,
                   "grids_per_sec": steps * cfg.batch_size / max(seconds, 1e-9)}
        cfg.metrics = metrics
        log(f"prior epoch {epoch}: test prior_nll={metrics['prior_nll']:.2f} nats, bound "
            f"{metrics['neg_elbo']:.1f} nats = {metrics['bits_per_dim']:.4f} bits/dim, train {metrics['train_loss']:.2f}")
        _save(out, prior, vq, cfg, opt, epoch)
        clock.evaluated_and_saved(time.time() - t0 - seconds)
        if clock.must_stop():
            log(f"time budget of {cfg.time_budget:g} s spent after epoch {epoch}")
            break
    return metrics


def _save(out: Path, prior: CodePrior, vq, cfg: Config, opt, epoch: int) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        with open(out / HISTORY, "a") as f:
            f.write(json.dumps(cfg.metrics) + "\n")
        save_checkpoint(out, prior, cfg, training_state(opt, epoch), epoch)
        prior.eval()
        save_grid(vq.decode_indices(prior.sample(64, torch.Generator().manual_seed(0))), out / "samples.png", nrow=8)
    except OSError as e:
        raise TrainingError(f"could not save the prior for epoch {epoch} to {out} ({e}). The previous one there is "
                            "intact; free space or fix permissions, then --resume.") from e


def main(argv=None, started: float | None = None) -> dict:
    """The command; --time-budget counts from `started` (the process's start when run as a command, else now)."""
    started = time.time() if started is None else started
    p = argparse.ArgumentParser(prog="python -m vae_core.train_prior", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", help="a VQ-VAE checkpoint folder; the prior goes to <checkpoint>/prior/")
    p.add_argument("--resume", action="store_true", help="continue the prior in <checkpoint>/prior/")
    p.add_argument("--epochs", type=int, help=f"total epochs (default: {DEFAULTS['epochs']})")
    p.add_argument("--time-budget", type=float, help="stop after this many seconds since the command started, "
                   "evaluation and saving included; --epochs becomes a cap (default: none)")
    p.add_argument("--batch-size", type=int, help=f"grids per step (default: {DEFAULTS['batch_size']})")
    p.add_argument("--lr", type=float, help=f"Adam learning rate (default: {DEFAULTS['lr']})")
    p.add_argument("--warmdown", type=float, help="share of training at its end over which the lr falls to 0")
    p.add_argument("--layers", dest="prior_layers", type=int, help="transformer blocks (default: 2)")
    p.add_argument("--heads", dest="prior_heads", type=int, help="attention heads (default: 4)")
    p.add_argument("--dim", dest="prior_dim", type=int, help="embedding width (default: 128)")
    p.add_argument("--dropout", dest="prior_dropout", type=float, help="dropout in training (default: 0)")
    p.add_argument("--seed", type=int, help="seed for initialisation, shuffling and sampling (default: 0)")
    p.add_argument("--data-dir", default="", help="folder to look for the VQ-VAE's data set in first")
    p.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, mps")
    args = p.parse_args(argv)
    given = {k: v for k, v in vars(args).items() if k in DEFAULTS and v is not None}
    try:
        if args.resume:
            if not (Path(args.checkpoint) / PRIOR / STATE).exists():
                raise TrainingError(f"--resume: {Path(args.checkpoint) / PRIOR} holds no prior with training state")
            cfg = load(Path(args.checkpoint) / PRIOR).cfg
            ignored = sorted(set(given) - {"epochs", "time_budget"})
            if ignored:
                print(f"--resume keeps the prior's settings; ignoring {ignored}", file=sys.stderr)
            cfg.epochs = given.get("epochs", cfg.epochs)
            cfg.time_budget = given.get("time_budget", cfg.time_budget)
        else:
            cfg = prior_config(load(args.checkpoint).cfg, **given)
        cfg.data_dir = args.data_dir or cfg.data_dir
        return train_prior(args.checkpoint, cfg, resume=args.resume, device=args.device, started=started)
    except (TrainingError, CheckpointError, DataError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main(started=process_start_time())
