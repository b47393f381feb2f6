"""Train the prior over a VQ-VAE's code grids (models/prior.py) and write it to <CKPT>/prior/.

    python -m vae_core.train_prior checkpoints/fashion-vqvae --epochs 3
    python -m vae_core.train_prior checkpoints/fashion-vqvae --resume --epochs 4      # continue
    python -m vae_core.train_prior checkpoints/my-vqvae --time-budget 300             # 5 minutes, all in

Once per run, the frozen VQ-VAE encodes the training and validation splits to code grids (the validation split is
the VQ-VAE's own, held out of the same training images; a VQ-VAE trained without one is evaluated on the test
split). A new run of a VQ-VAE trained for squared error (--vq-likelihood mse) first fits the decoder's scale for the
likelihood bound: one log scale per pixel of a discretised logistic around the decoder's mean, maximising
log p(x|z_q) over the training split with the decoder frozen; a VQ-VAE trained on a discretised likelihood has its
decoder's own location and scale per pixel, and nothing is fitted. Each epoch: one pass over the shuffled training
grids minimising -log p(c) (nats per grid), the validation prior NLL and bound, a line in history.jsonl, samples.png
(64 grids from the prior, decoded) and the checkpoint (journalled, resumable). The prior records the SHA-256 of the
VQ-VAE weights it was trained on: after the VQ-VAE is retrained or resumed, vae_core.load refuses it until it is
trained again.
"""
import dataclasses
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

from .checkpoint import PRIOR, STATE, WEIGHTS, CheckpointError, load, weights_sha256
from .config import NOT_FOR_PRIOR, Config, Record
from .data import DataError, hold_out, load_dataset, to_float
from .data.images import save_grid
from .evaluation.metrics import likelihood_bound
from .models import CodePrior
from .models.likelihood import DISCRETIZED, LOG_SCALE_FLOOR, soft_clamp
from .training.device import adam, pick_device
from .training.flags import given_settings, prior_parser
from .training.loop import Clock, process_start_time, train_epoch
from .training.run_folder import TrainingError, resume_from, resumed_config, save_epoch

# the prior's own settings and their defaults: the Config fields whose metadata names a "prior" default
DEFAULTS = {f.name: f.metadata["prior"] for f in dataclasses.fields(Config)
            if f.metadata.get("prior", NOT_FOR_PRIOR) is not NOT_FOR_PRIOR}
RESUME_MAY_CHANGE = ("epochs", "time_budget", "data_dir")  # how long and where the data is: not what is computed


@torch.no_grad()
def encode_grids(vq, x: np.ndarray, device, batch_size: int = 1000) -> torch.Tensor:
    """Code grids c = argmin_k ||z_e(x) - e_k|| of uint8 images x: (N, h, w) long, on `device`."""
    return torch.cat([vq.encode_indices(to_float(x[i:i + batch_size], device)) for i in range(0, len(x), batch_size)])


@torch.no_grad()
def decoder_outputs(vq, grids: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """The decoder's output for each grid, unclamped: its mean (mse: the location of p(x|z_q) with the fitted scale),
    (N, C, H, W), or the parameters of its own p(x|z_q), (N, 2 C, H, W)."""
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
def recon_nll(likelihood, params: torch.Tensor, x: torch.Tensor, batch_size: int = 1000) -> float:
    """-log p(x|z_q) in nats per image, x uint8; params the decoder's outputs (decoder_outputs)."""
    return -sum(likelihood.log_prob(params[i:i + batch_size], x[i:i + batch_size].float() / 255).sum().item()
                for i in range(0, len(x), batch_size)) / len(x)


def decoder_likelihood(vq, prior: CodePrior):
    """The p(x|z_q) of the bound: the VQ-VAE's own (a discretised likelihood), else the prior's fitted one."""
    return vq.likelihood if vq.likelihood is not None else prior.decoder_likelihood


@torch.no_grad()
def prior_nll(prior: CodePrior, grids: torch.Tensor, batch_size: int = 1000) -> float:
    """-log p(c) in nats per grid, averaged."""
    prior.eval()
    return -sum(prior.log_prob(grids[i:i + batch_size]).sum().item()
                for i in range(0, len(grids), batch_size)) / len(grids)


def prior_config(vq_cfg: Config, **settings) -> Config:
    """The prior's Config: the VQ-VAE's codes and images, the prior's own training settings."""
    keep = ("channels", "image_size", "num_codes", "data", "validation")  # validation: the VQ-VAE's split
    return Config(model="prior", scale="shared", amp=False, **{k: getattr(vq_cfg, k) for k in keep},
                  **{**DEFAULTS, "data_dir": vq_cfg.data_dir, **settings})


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
    if cfg.validation != vq.cfg.validation:
        raise TrainingError(f"the prior must hold out its VQ-VAE's validation split ({vq.cfg.validation} images), "
                            f"not {cfg.validation}: build its settings with prior_config")
    trained_on = weights_sha256(checkpoint / WEIGHTS)
    if resume and cfg.record.trained_on != trained_on:
        raise TrainingError(f"--resume: {out} was trained on other weights than {checkpoint / WEIGHTS}; train it "
                            f"anew: delete {out}, then python -m vae_core.train_prior {checkpoint}")
    ds = load_dataset(vq.cfg.data, cfg.data_dir, vq.cfg.channels, vq.cfg.image_size, seed=vq.cfg.seed, log=log)
    ds = hold_out(ds, vq.cfg.validation, vq.cfg.seed)  # the images the VQ-VAE held out, held out here too
    x_eval, split = (ds.x_val, "validation") if ds.x_val is not None else (ds.x_test, "test")
    t0 = time.time()
    train_grids, eval_grids = encode_grids(vq, ds.x_train, dev), encode_grids(vq, x_eval, dev)
    log(f"encoded {len(train_grids)} training and {len(eval_grids)} {split} images to "
        f"{tuple(train_grids.shape[1:])} code grids in {time.time() - t0:.1f} s")
    torch.manual_seed(cfg.seed)
    prior = CodePrior(cfg).to(dev)
    opt = adam(prior.parameters(), cfg.lr, dev)  # the decoder's scale is a buffer: not trained here
    start = resume_from(out, prior, opt, log) if resume else 0
    x_eval = torch.from_numpy(x_eval).to(dev)
    if not resume and vq.likelihood is None:  # squared error: fit p(x|z_q)'s scale around the decoder's mean
        t0 = time.time()
        x_train = torch.from_numpy(ds.x_train).to(dev)
        train_recon = fit_decoder_scale(prior.decoder_likelihood, decoder_outputs(vq, train_grids), x_train,
                                        seed=cfg.seed)
        del x_train
        log(f"fitted the decoder's per-pixel scale on the training split in {time.time() - t0:.1f} s: "
            f"-log p(x|z_q) = {train_recon:.1f} nats per training image")
    eval_recon = recon_nll(decoder_likelihood(vq, prior), decoder_outputs(vq, eval_grids), x_eval)
    dims = int(np.prod(ds.x_test.shape[1:]))
    metrics, clock = dict(cfg.metrics), Clock(cfg, started)

    def loss_of(idx: torch.Tensor) -> torch.Tensor:
        return prior(train_grids[idx])["loss"]

    for epoch in range(start + 1, cfg.epochs + 1):
        prior.train()
        t0 = time.time()
        steps, loss_sum = train_epoch(loss_of, opt, len(train_grids), cfg, epoch, clock, dev, out,
                                      desc="prior epoch", what="prior")
        seconds = time.time() - t0
        metrics = {"model": "prior", "n_grids": len(eval_grids),
                   **likelihood_bound(eval_recon, prior_nll(prior, eval_grids), dims), "split": split,
                   "epoch": epoch, "train_loss": loss_sum / steps, "seconds": seconds,
                   "grids_per_sec": steps * cfg.batch_size / max(seconds, 1e-9)}
        log(f"prior epoch {epoch}: {split} prior_nll={metrics['prior_nll']:.2f} nats, bound "
            f"{metrics['neg_elbo']:.1f} nats = {metrics['bits_per_dim']:.4f} bits/dim, "
            f"train {metrics['train_loss']:.2f}")
        record = Record(label_names=vq.cfg.label_names, metrics=metrics, trained_on=trained_on)
        save_epoch(out, prior, cfg, record, opt, epoch, lambda folder: _write_samples(folder, prior, vq), "the prior")
        clock.evaluated_and_saved(time.time() - t0 - seconds)
        if clock.must_stop():
            log(f"time budget of {cfg.time_budget:g} s spent after epoch {epoch}")
            break
    return metrics


def _write_samples(out: Path, prior: CodePrior, vq) -> None:
    prior.eval()
    save_grid(vq.decode_indices(prior.sample(64, torch.Generator().manual_seed(0))), out / "samples.png", nrow=8)


def main(argv=None, started: float | None = None) -> dict:
    """The command; --time-budget counts from `started` (the process's start when run as a command, else now)."""
    started = time.time() if started is None else started
    p = prior_parser("python -m vae_core.train_prior", __doc__,
                     "a VQ-VAE checkpoint folder; the prior goes to <checkpoint>/prior/", DEFAULTS, "prior_")
    p.add_argument("--resume", action="store_true", help="continue the prior in <checkpoint>/prior/")
    args = p.parse_args(argv)
    given = given_settings(args, DEFAULTS)
    try:
        if args.resume:
            if not (Path(args.checkpoint) / PRIOR / STATE).exists():
                raise TrainingError(f"--resume: {Path(args.checkpoint) / PRIOR} holds no prior with training state")
            cfg = resumed_config(load(Path(args.checkpoint) / PRIOR).cfg, given, RESUME_MAY_CHANGE, "the prior")
        else:
            cfg = prior_config(load(args.checkpoint).cfg, **given)
        return train_prior(args.checkpoint, cfg, resume=args.resume, device=args.device, started=started)
    except (TrainingError, CheckpointError, DataError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main(started=process_start_time())
