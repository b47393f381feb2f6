"""Priors over a trained VAE's z compared at equal fitting time: N(0, I) and Gaussian mixtures fitted by EM.

    python benchmarks/latent_prior_benchmark.py checkpoints/fashion-vae --seconds 60 \
        --json benchmarks/results_latent_prior.json

The frozen VAE encodes the training split less a validation split (held out as vae_core.fit_prior holds it out);
each variant is fitted (vae_core/training/em.py) for at most --seconds of EM, or until it converges, on the same points:
z ~ q(z|x), one per training image (the aggregate posterior), or the posterior means. The last row is no fit: the
aggregate posterior itself, q(z) = 1/N sum_n q(z|x_n) over the N training images (a mixture of N Gaussians), the
density every fitted prior approximates. Its samples are decodes of z ~ q(z|x) of random training images, so its
sample figures are the best any prior over this VAE's z can give: the decoder's own limit. Reported on the validation
split, where the default is chosen (the test split is left for the shipped figures): the mean log-likelihood of one
z ~ q(z|x) per validation image under the prior (held-out aggregate posterior), the KL(q(z|x) || p) it gives the
ELBO, and --samples images decoded from z drawn from the prior (seed 0) against the validation images: FD and k-NN
precision/recall (k = 3) on the features of the Fashion-MNIST classifier (vae_core.evaluation.classifier) when it is
there, else on raw pixels (then `features` says so). A benchmark, not a test: nothing asserts timings.
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.machine import describe, machine
from vae_core.checkpoint import load
from vae_core.data import hold_out, load_dataset, validation_size
from vae_core.evaluation.sample_quality import sample_quality
from vae_core.fit_prior import draw, encode_posteriors, held_out_figures, prior_config
from vae_core.models import GaussianMixture
from vae_core.training.em import fit_gaussian_mixture

VARIANTS = [  # (name, components, covariance, fit on)
    ("gmm10-full-means", 10, "full", "means"),
    ("gmm10-full-samples", 10, "full", "samples"),
    ("gmm10-diag-samples", 10, "diag", "samples"),
    ("gmm50-full-samples", 50, "full", "samples"),
    ("gmm100-full-samples", 100, "full", "samples"),
    ("gmm200-full-samples", 200, "full", "samples"),
    ("gmm500-diag-samples", 500, "diag", "samples"),
]


class AggregatePosterior(torch.nn.Module):
    """q(z) = 1/N sum_n N(z; mu_n, diag(sigma_n^2)): log_prob and sample as GaussianMixture's (float64 inside)."""

    def __init__(self, mu: torch.Tensor, log_sigma: torch.Tensor):
        super().__init__()
        self.mu, self.sigma = mu.double(), log_sigma.double().exp()

    def log_prob(self, z: torch.Tensor, chunk: int = 500) -> torch.Tensor:
        """log q(z) = logsumexp_n log N(z; mu_n, sigma_n^2) - log N; the squares expanded into two matmuls."""
        inv = self.sigma.pow(-2)  # (N, d)
        const = (-0.5 * (self.mu.pow(2) * inv).sum(1) - self.sigma.log().sum(1)
                 - 0.5 * self.mu.shape[1] * np.log(2 * np.pi))  # (N,)
        out = []
        for zc in z.double().split(chunk):
            # -1/2 sum_d (z_d - mu_nd)^2 / s_nd^2 = -1/2 z^2 . inv_n + z . (mu_n inv_n) - 1/2 mu_n^2 . inv_n
            log_n = -0.5 * zc.pow(2) @ inv.T + zc @ (self.mu * inv).T + const
            out.append(torch.logsumexp(log_n, 1) - np.log(len(self.mu)))
        return torch.cat(out).to(z.dtype)

    def sample(self, n: int, generator=None, temperature: float = 1.0) -> torch.Tensor:
        """z = mu_i + temperature sigma_i eps, i uniform over the training images."""
        i = torch.randint(0, len(self.mu), (n,), generator=generator)
        eps = torch.randn(n, self.mu.shape[1], generator=generator, dtype=torch.float64)
        return (self.mu[i] + temperature * self.sigma[i] * eps).float()


REFERENCE = {}  # the classifier and the real side of the figures, computed once


def sample_figures_of(vae, x_val: np.ndarray, x_train: np.ndarray, n: int, prior: str) -> dict:
    """FD / precision / recall of n samples against the validation images: the classifier's features, or pixels."""
    try:
        from vae_core.evaluation.classifier import load_classifier
        from vae_core.evaluation.sample_figures import reference, sample_figures
    except ImportError:
        fake = torch.cat([vae.sample(min(500, n - i), g, prior=prior) for i, g in _chunks(n)]).flatten(1).numpy()
        q = sample_quality(x_val.reshape(len(x_val), -1) / 255.0, fake)
        return {"features": "pixels", "sample_fd": q.fd, "sample_precision": q.precision, "sample_recall": q.recall}
    if not REFERENCE:
        REFERENCE["clf"] = clf = load_classifier("classifiers/fashion-mnist")
        REFERENCE["ref"] = reference(clf, x_val, x_train, n, 0)
    figures = sample_figures(vae, REFERENCE["clf"], x_val, x_train, n=n, seed=0, ref=REFERENCE["ref"], prior=prior)
    return {"features": "classifier", **{k: v for k, v in figures.items() if isinstance(v, (int, float, str))}}


def _chunks(n: int):
    g = torch.Generator().manual_seed(0)
    for i in range(0, n, 500):
        yield i, g


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", nargs="?", default="checkpoints/fashion-vae")
    p.add_argument("--seconds", type=float, default=60.0, help="EM time of each variant (equal for all)")
    p.add_argument("--samples", type=int, default=5000)
    p.add_argument("--only", nargs="*", help="variant names to run (default: all)")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args(argv)
    torch.set_grad_enabled(False)
    m = machine()
    print(describe(m))
    vae = load(args.checkpoint)
    ds = load_dataset(vae.cfg.data, vae.cfg.data_dir, vae.cfg.channels, vae.cfg.image_size, seed=vae.cfg.seed,
                      log=lambda _: None)
    validation = vae.cfg.validation if vae.cfg.validation > 0 else validation_size(len(ds.x_train))
    ds = hold_out(ds, validation, vae.cfg.seed)
    mu, log_sigma = encode_posteriors(vae, ds.x_train, "cpu")
    val_mu, val_log_sigma = encode_posteriors(vae, ds.x_val, "cpu")
    points = {"samples": draw(mu, log_sigma, 1, torch.Generator().manual_seed(0)), "means": mu}
    rows = []
    standard = GaussianMixture(prior_config(vae.cfg, validation, gmm_components=1))  # one component N(0, I)
    vae.prior = None
    rows.append({"variant": "N(0, I)", "seconds": 0.0, "iterations": 0,
                 **held_out_figures(standard, val_mu, val_log_sigma, 0),
                 **sample_figures_of(vae, ds.x_val, ds.x_train, args.samples, "standard")})
    print(_line(rows[-1]), flush=True)
    for name, k, covariance, fit_on in VARIANTS:
        if args.only and name not in args.only:
            continue
        fit = fit_gaussian_mixture(points[fit_on], k, covariance, iterations=10_000, seed=0,
                                   time_budget=args.seconds)
        prior = GaussianMixture(prior_config(vae.cfg, validation, gmm_components=k, gmm_covariance=covariance,
                                             gmm_fit_on=fit_on))
        prior.set_parameters(fit.log_weights, fit.means, fit.scale_tril)
        vae.prior = prior
        t = time.time()
        rows.append({"variant": name, "seconds": fit.seconds, "iterations": len(fit.log_likelihood),
                     "converged": fit.converged, **held_out_figures(prior, val_mu, val_log_sigma, 0),
                     **sample_figures_of(vae, ds.x_val, ds.x_train, args.samples, "fitted"),
                     "figures_seconds": time.time() - t})
        print(_line(rows[-1]), flush=True)
    if not args.only or "aggregate-posterior" in args.only:
        vae.prior = prior = AggregatePosterior(mu, log_sigma)
        rows.append({"variant": "aggregate-posterior", "seconds": 0.0, "iterations": 0,
                     **held_out_figures(prior, val_mu, val_log_sigma, 0),
                     **sample_figures_of(vae, ds.x_val, ds.x_train, args.samples, "fitted")})
        print(_line(rows[-1]), flush=True)
    out = {"machine": m, "checkpoint": str(args.checkpoint), "seconds": args.seconds, "samples": args.samples,
           "split": "validation", "n_validation": len(ds.x_val), "rows": rows}
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return out


def _line(r: dict) -> str:
    return (f"{r['variant']:>22}: EM {r['seconds']:5.1f} s ({r['iterations']:4d} it), val log p(z) "
            f"{r['val_log_prob']:8.3f}, KL {r['val_kl_fitted']:6.2f}, FD {r['sample_fd']:7.2f}, precision "
            f"{r['sample_precision']:.3f}, recall {r['sample_recall']:.3f} ({r['features']})")


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
