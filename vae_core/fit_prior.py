"""Fit a prior over a VAE's z to its aggregate posterior and write it to <CKPT>/prior/.

    python -m vae_core.fit_prior checkpoints/fashion-vae
    python -m vae_core.fit_prior checkpoints/fashion-vae --components 10 --covariance diag --fit-on means

The VAE (frozen) encodes the training split; a validation split is held out of it first (the VAE's own when it
was trained with one, else the documented size, seeded by the VAE's seed; vae_core/data/validation.py). EM
(vae_core/training/em.py) fits a Gaussian mixture to z ~ q(z|x) of each remaining training image (--fit-on samples: the
aggregate posterior q(z) = 1/N sum_n q(z|x_n)) or to the posterior means mu(x) (--fit-on means). Recorded in
prior/config.json: the validation split's held-out log-likelihood of z ~ q(z|x) under the fitted prior and under
N(0, I), and the KL(q(z|x) || p) each gives (the ELBO's KL term; Monte Carlo for the fitted prior, closed form for
N(0, I)). Also prior/samples.png: 64 images decoded from z drawn from the fitted prior (seed 0).

The prior records the SHA-256 of the VAE weights it was fitted to: after the VAE is retrained or resumed,
vae_core.load refuses it until it is fitted again (run this command again; it replaces the old prior). Seeded:
the same VAE, data and settings give the same prior.
"""
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import torch

from .checkpoint import PRIOR, WEIGHTS, CheckpointError, load, save_checkpoint, weights_sha256
from .config import NOT_FOR_PRIOR, Config, Record
from .data import DataError, hold_out, load_dataset, to_float, validation_size
from .data.images import save_grid
from .models import GaussianMixture
from .training.device import pick_device
from .training.em import fit_gaussian_mixture
from .training.flags import given_settings, prior_parser
from .training.loop import process_start_time
from .training.run_folder import TrainingError

# the fitted prior's own settings and their defaults: the Config fields whose metadata names a "fit_prior" default
DEFAULTS = {f.name: f.metadata["fit_prior"] for f in dataclasses.fields(Config)
            if f.metadata.get("fit_prior", NOT_FOR_PRIOR) is not NOT_FOR_PRIOR}


@torch.no_grad()
def encode_posteriors(vae, x: np.ndarray, device, batch_size: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
    """(mu, log sigma) of q(z|x) for uint8 images x: each (N, d), float32 on the CPU."""
    parts = [vae.encode(to_float(x[i:i + batch_size], device)) for i in range(0, len(x), batch_size)]
    return torch.cat([p[0] for p in parts]).cpu(), torch.cat([p[1] for p in parts]).cpu()


def draw(mu: torch.Tensor, log_sigma: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
    """n draws z = mu + sigma eps per posterior, eps ~ N(0, I): (n N, d)."""
    eps = torch.randn((n, *mu.shape), generator=generator)
    return (mu + torch.exp(log_sigma) * eps).flatten(0, 1)


def fit_points(mu: torch.Tensor, log_sigma: torch.Tensor, cfg: Config, generator: torch.Generator) -> torch.Tensor:
    """The points EM fits: cfg.gmm_draws z ~ q(z|x) per image (fit_on samples), or the means."""
    return mu if cfg.gmm_fit_on == "means" else draw(mu, log_sigma, cfg.gmm_draws, generator)


def held_out_figures(prior: GaussianMixture, mu: torch.Tensor, log_sigma: torch.Tensor, seed: int) -> dict:
    """On held-out posteriors: the mean log-likelihood of one z ~ q(z|x) per image under the fitted prior and
    under N(0, I), and the KL(q(z|x) || p) of each, averaged (Monte Carlo with that z for the fitted prior, with
    its standard error; closed form for N(0, I)), all in nats."""
    z = draw(mu, log_sigma, 1, torch.Generator().manual_seed(seed + 1)).double()
    d = z.shape[1]
    log_fitted = prior.log_prob(z)
    log_standard = -0.5 * (z.pow(2).sum(1) + d * np.log(2 * np.pi))
    eps = (z - mu.double()) * torch.exp(-log_sigma.double())
    log_q = -0.5 * (eps.pow(2).sum(1) + d * np.log(2 * np.pi)) - log_sigma.double().sum(1)
    kl_fitted = log_q - log_fitted
    kl_standard = 0.5 * (mu.double().pow(2) + torch.exp(2 * log_sigma.double()) - 1 - 2 * log_sigma.double()).sum(1)
    return {"val_log_prob": float(log_fitted.mean()), "val_log_prob_standard": float(log_standard.mean()),
            "val_kl_fitted": float(kl_fitted.mean()), "val_kl_fitted_se": float(kl_fitted.std() / len(z) ** 0.5),
            "val_kl_standard": float(kl_standard.mean())}


def prior_config(vae_cfg: Config, validation: int, **settings) -> Config:
    """The fitted prior's Config: the VAE's latent size, images and data, the prior's own settings."""
    keep = ("channels", "image_size", "latent_dim", "data")
    return Config(model="latent_prior", validation=validation, **{k: getattr(vae_cfg, k) for k in keep},
                  **{**DEFAULTS, "data_dir": vae_cfg.data_dir, **settings})


def fit_prior(checkpoint: str | Path, device: str = "auto", log=print, started: float | None = None,
              **settings) -> dict:
    """Fit the prior of the VAE in `checkpoint` (settings: the fit_prior Config fields, DEFAULTS for the others)
    and save it to <checkpoint>/prior/; returns its recorded metrics."""
    started = time.time() if started is None else started
    dev = pick_device(device)
    checkpoint = Path(checkpoint)
    vae = load(checkpoint, dev)
    if vae.cfg.model != "vae":
        raise TrainingError(f"{checkpoint} holds a {vae.cfg.model.upper()}: a prior over z needs a VAE "
                            "(a VQ-VAE's prior over codes: python -m vae_core.train_prior)")
    trained_on = weights_sha256(checkpoint / WEIGHTS)
    data_dir = settings.get("data_dir") or vae.cfg.data_dir
    ds = load_dataset(vae.cfg.data, data_dir, vae.cfg.channels, vae.cfg.image_size, seed=vae.cfg.seed, log=log)
    validation = vae.cfg.validation if vae.cfg.validation > 0 else validation_size(len(ds.x_train))
    ds = hold_out(ds, validation, vae.cfg.seed)
    cfg = prior_config(vae.cfg, validation, **settings)
    t0 = time.time()
    mu, log_sigma = encode_posteriors(vae, ds.x_train, dev)
    val_mu, val_log_sigma = encode_posteriors(vae, ds.x_val, dev)
    log(f"encoded {len(mu)} training and {len(val_mu)} validation images in {time.time() - t0:.1f} s")
    points = fit_points(mu, log_sigma, cfg, torch.Generator().manual_seed(cfg.seed))
    budget = max(cfg.time_budget - (time.time() - started), 1e-3) if cfg.time_budget else 0.0
    fit = fit_gaussian_mixture(points, cfg.gmm_components, cfg.gmm_covariance, cfg.gmm_iterations, cfg.seed,
                               budget, log)
    prior = GaussianMixture(cfg)
    prior.set_parameters(fit.log_weights, fit.means, fit.scale_tril)
    metrics = {"model": "latent_prior", "n_points": len(points), "iterations": len(fit.log_likelihood),
               "converged": fit.converged, "seconds": fit.seconds, "train_log_prob": fit.log_likelihood[-1],
               **held_out_figures(prior, val_mu, val_log_sigma, cfg.seed), "split": "validation"}
    log(f"fitted a {cfg.gmm_components}-component {cfg.gmm_covariance} Gaussian mixture to {len(points)} "
        f"{cfg.gmm_fit_on} in {fit.seconds:.1f} s ({metrics['iterations']} EM iterations): validation "
        f"log p(z) = {metrics['val_log_prob']:.3f} nats (N(0, I): {metrics['val_log_prob_standard']:.3f}), "
        f"KL(q || p) = {metrics['val_kl_fitted']:.2f} nats (N(0, I): {metrics['val_kl_standard']:.2f})")
    out = checkpoint / PRIOR
    save_checkpoint(out, prior, cfg, record=Record(label_names=vae.cfg.label_names, metrics=metrics,
                                                   trained_on=trained_on))
    vae.prior = prior.to(dev)
    save_grid(vae.sample(64, torch.Generator().manual_seed(0)), out / "samples.png", nrow=8)
    return metrics


def main(argv=None, started: float | None = None) -> dict:
    """The command; --time-budget counts from `started` (the process's start when run as a command, else now)."""
    started = time.time() if started is None else started
    p = prior_parser("python -m vae_core.fit_prior", __doc__,
                     "a VAE checkpoint folder; the prior goes to <checkpoint>/prior/", DEFAULTS, "gmm_")
    args = p.parse_args(argv)
    given = given_settings(args, DEFAULTS)
    try:
        return fit_prior(args.checkpoint, args.device, started=started, **given)
    except (TrainingError, CheckpointError, DataError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main(started=process_start_time())
