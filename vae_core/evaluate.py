"""Evaluate a checkpoint on a data set's test split.

    python -m vae_core.evaluate checkpoints/fashion-vae --data fashion-mnist [--iwae-k 1000] [--iwae-n 1000] [--json]

VAE: negative ELBO (recon + KL) in nats per image, the importance-weighted bound
-log p(x) <= -log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x)  with k samples on the first iwae_n test images, and the
-ELBO over exactly those images too (neg_elbo_iwae_subset), so that the two bounds are compared on the same images.
A VAE with a fitted prior over z (<checkpoint>/prior/, vae_core.fit_prior) also gets the same figures under it
(the *_fitted keys, fitted_prior_figures): the KL term becomes a Monte Carlo estimate of KL(q(z|x) || p_fitted)
and the IWAE bound uses log p_fitted(z_i); both remain bounds on -log p(x) for the model p_fitted(z) p(x|z).
VQ-VAE: MSE, PSNR, perplexity, share of codes used, dead codes; with a prior over its code grids
(<checkpoint>/prior/, vae_core.train_prior) also its likelihood bounds. With q(z|x) a point mass on the encoder's
grid z_q(x), the -ELBO is -log p(x|z_q) + KL(q || p) = recon + prior_nll, and it bounds the code length:
    -log p(x) = -log sum_z p(z) p(x|z) <= -log p(x|z_q) - log p(z_q)
and the IWAE bound (iwae_nll, the same keys as a VAE's) importance-samples code grids near z_q(x) from the proposal
of vae_core.models.code_iwae, on the first iwae_n images, beside the point bound over exactly them
(neg_elbo_iwae_subset). recon is -log p(x|z_q) under the decoder's own likelihood, location and scale per pixel, for a
VQ-VAE trained on one (--vq-likelihood discretized_logistic; recon and its bits/dim then need no prior); for one trained
for squared error, the decoder's output is the location of a discretised logistic with one scale per pixel, fitted on
the training split (decoder frozen) and stored with the prior.

mse and psnr are those of the decoder's *location* clamped to [0, 1]: for a VAE at z = mu(x) (VAE.reconstruct,
VAE.decode_location), for a VQ-VAE at z_q(x). mse_expectation is that of the exact mean
E[x|z] = sum_k (k / 255) P(x = k / 255 | z) over the 256 levels (Likelihood.expectation) at the same z; the two differ
near 0 and 1 and where the scale is wide. A VQ-VAE trained for squared error without a prior has no p(x|z), so no
mse_expectation.

bits_per_dim (= neg_elbo / (D ln 2)) and iwae_nll are printed only where p(x|z) is normalised over the values the
data can take, so that they are code lengths: discretised likelihoods on 8-bit images, Bernoulli on binary ones.
A Bernoulli model of grey images reports its loss (neg_elbo, recon, kl) with "code_length": false.
All noise comes from a generator seeded here: evaluating never moves the global RNG (training's noise).

Sample quality (vae_core.evaluation.samples), for a model that can sample: the Frechet distance and k-NN
precision/recall of --sample-n samples against the test split in a classifier's features (sample_fd,
sample_precision, sample_recall), beside the test split against as many training images (sample_floor_fd, ...).
The classifier is the data set's (vae_core.evaluation.classifier_lookup; --classifier FOLDER to choose one); without
one, or without labels to train one on, sample_note says why the figures are skipped. --samples-only computes just
these, and --update FILE merges what is computed into a JSON file such as the checkpoint's eval.json:
    python -m vae_core.evaluate checkpoints/fashion-vae --samples-only --update checkpoints/fashion-vae/eval.json
"""
import argparse
import ctypes
import functools
import itertools
import json
import math
import sys

import numpy as np
import torch
from tqdm import tqdm

from .checkpoint import CheckpointError, load
from .data import DataError, load_dataset, to_float
from .evaluation.classifier import ClassifierError
from .evaluation.classifier_lookup import find_classifier
from .evaluation.samples import merge_into, sample_metrics
from .models import code_iwae
from .models.quantize import codebook_usage
from .training.device import pick_device

EXPECTATION_CHUNK = 8  # images per exact E[x|z]: 256 levels x 8 x 784 pixels = 6.4 MB per tensor


def _batches(x: np.ndarray, batch_size: int, device):
    for i in range(0, len(x), batch_size):
        yield to_float(x[i:i + batch_size], device)


def keep_freed_memory() -> None:
    """Let glibc's malloc keep freed memory instead of handing it back to the kernel after each chunk.

    The IWAE bound allocates and frees the same tens of megabytes for every chunk of decodes; handed back and faulted
    in again each time, that cost up to a third of `evaluate`'s time in the kernel on a 2-core CPU. Elsewhere (no
    glibc) this does nothing.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # mallopt parameters (malloc.h)
    libc.mallopt(m_mmap_threshold, 1 << 30)  # allocations up to 1 GiB come from the heap, not from mmap
    libc.mallopt(m_trim_threshold, 1 << 30)  # and up to 1 GiB of free heap stays mapped


def psnr(mse: float) -> float:
    """PSNR = 10 log10(1 / MSE) for pixels in [0, 1]."""
    return 10 * math.log10(1.0 / max(mse, 1e-12))


def default_log_weights(model, prior: str = "standard"):
    """weights(x, k, generator) -> (B, k) log w_i: a VAE's own (a model adapted to one has them too, without the
    prior argument), or for a VQ-VAE the code grids of vae_core.models.code_iwae."""
    if not hasattr(model, "log_importance_weights"):
        return functools.partial(code_iwae.log_weights, model)
    if prior == "standard":
        return model.log_importance_weights
    return functools.partial(model.log_importance_weights, prior=prior)


@torch.no_grad()
def iwae_per_image(model, x: np.ndarray, k: int, device, max_decodes: int = 1024,
                   generator: torch.Generator | None = None, progress: bool = False,
                   prior: str = "standard", weights=None) -> torch.Tensor:
    """-log p(x) estimate of each image, -(logsumexp_i log w_i - log k): shape (N,), float64; k samples in chunks of
    at most max_decodes decoder passes (1,024 stay in a CPU's caches: 1.8x the decodes per second of 8,192).
    prior="fitted": log w_i with a VAE's fitted prior's log p(z_i) in place of N(0, I)'s. A VQ-VAE with a prior:
    code grids from the proposal of vae_core.models.code_iwae. weights(x, k, generator) -> (B, k) log w_i replaces
    both."""
    weights = weights or default_log_weights(model, prior)
    per_image = []
    chunk_images = max(1, min(len(x), max_decodes // min(k, max_decodes)))
    bar = tqdm(total=len(x), desc=f"IWAE bound, k={k}", unit="image", disable=not progress, file=sys.stderr,
               leave=False)
    for xb in _batches(x, chunk_images, device):
        chunk_k = max(1, max_decodes // len(xb))
        log_w = torch.cat([weights(xb, min(chunk_k, k - j), generator)
                           for j in range(0, k, chunk_k)], 1)
        per_image.append(-(torch.logsumexp(log_w.double(), 1) - math.log(k)))
        bar.update(len(xb))
    bar.close()
    return torch.cat(per_image)


def iwae_nll(model, x: np.ndarray, k: int, device, max_decodes: int = 1024,
             generator: torch.Generator | None = None, progress: bool = False, prior: str = "standard") -> float:
    """The IWAE bound with k samples (iwae_per_image), averaged over images."""
    return iwae_per_image(model, x, k, device, max_decodes, generator, progress, prior).mean().item()


@torch.no_grad()
def fitted_prior_figures(model, x: np.ndarray, batch_size: int = 500, iwae_k: int = 0, iwae_n: int = 1000,
                         seed: int = 0, device=None, progress: bool = False) -> dict:
    """A VAE's likelihood figures under its fitted prior p_f (model.fitted_prior), in nats per image and bits/dim:

        -ELBO_f = -E_q[log p(x|z)] + KL(q(z|x) || p_f),  KL(q || p_f) ~ log q(z|x) - log p_f(z), z ~ q(z|x)

    one z per image (Monte Carlo; kl_fitted_se is the standard error of its mean over the images), and with
    iwae_k > 0 the IWAE bound with log p_f(z_i) on the first iwae_n images (neg_elbo_fitted_iwae_subset: the
    -ELBO_f over exactly them). Its own seeded generators: the standard-prior figures' draws are untouched."""
    device = device or next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed + 1)
    n, dims = len(x), int(np.prod(x.shape[1:]))
    per_image = []  # (recon, kl) of each image
    for xb in _batches(x, batch_size, device):
        log_px_z, log_pz, neg_log_qz = model.log_importance_terms(xb, 1, generator, prior="fitted")
        per_image.append(torch.stack([-log_px_z[0], -neg_log_qz[0] - log_pz[0]], 1).double().cpu())
    recon, kl = torch.cat(per_image).T
    bits = lambda nats: nats / (dims * math.log(2))
    neg_elbo = (recon + kl).mean().item()
    se = _standard_error
    out = {"recon_fitted": recon.mean().item(), "kl_fitted": kl.mean().item(), "kl_fitted_se": se(kl),
           "neg_elbo_fitted": neg_elbo, "neg_elbo_fitted_se": se(recon + kl), "bits_per_dim_fitted": bits(neg_elbo),
           "fitted_prior_components": model.fitted_prior.cfg.gmm_components}
    if iwae_k > 0:
        subset = min(iwae_n, n)
        per = iwae_per_image(model, x[:subset], iwae_k, device,
                             generator=torch.Generator(device=device).manual_seed(seed + 2), progress=progress,
                             prior="fitted")
        subset_elbo = (recon[:subset] + kl[:subset]).mean().item()
        out.update(iwae_nll_fitted=per.mean().item(), iwae_nll_fitted_se=se(per),
                   iwae_bits_per_dim_fitted=bits(per.mean().item()),
                   neg_elbo_fitted_iwae_subset=subset_elbo, bits_per_dim_fitted_iwae_subset=bits(subset_elbo))
    return out


def _standard_error(t: torch.Tensor) -> float:
    """The standard error of the mean of per-image figures t: std / sqrt(N) (0 for one image)."""
    return (t.std() / math.sqrt(len(t))).item() if len(t) > 1 else 0.0


def likelihood_bound(recon: float, prior_nll: float, dims: int) -> dict:
    """A VQ-VAE's bound -log p(x) <= recon + prior_nll (nats per image; see the module docstring), and in bits/dim."""
    neg_elbo = recon + prior_nll
    return {"recon": recon, "prior_nll": prior_nll, "neg_elbo": neg_elbo, "code_length": True,
            "bits_per_dim": neg_elbo / (dims * math.log(2)), "recon_bits_per_dim": recon / (dims * math.log(2))}


def squared_error_of_expectation(likelihood, params: torch.Tensor, x: torch.Tensor) -> float:
    """sum over images and pixels of (E[x|z] - x)^2, E[x|z] exact over the 256 levels (Likelihood.expectation), in
    chunks of EXPECTATION_CHUNK images: each chunk's level probabilities are (256, chunk, C, H, W) floats."""
    c = EXPECTATION_CHUNK
    return sum((likelihood.expectation(params[i:i + c]) - x[i:i + c]).pow(2).sum().item()
               for i in range(0, len(params), c))


@torch.no_grad()
def evaluate(model, x: np.ndarray, batch_size: int = 500, iwae_k: int = 0, iwae_n: int = 1000,
             seed: int = 0, device=None, progress: bool = False) -> dict:
    """Flat dict of test metrics for images x (uint8, N x C x H x W). Seeded, so repeatable.

    With iwae_k > 0 the first iwae_n images are batched apart from the rest, so that the -ELBO over exactly them
    (neg_elbo_iwae_subset, beside the IWAE bound on them) is made of the same draws as their share of the whole
    set's -ELBO. mse is on the decoder's location, mse_expectation on E[x|z] (see the module docstring).
    """
    if iwae_k > 0 and iwae_n < 1:
        raise ValueError(f"iwae_n must be >= 1 to compute the IWAE bound on the first iwae_n images, got {iwae_n}; "
                         "pass iwae_k=0 to skip the bound")
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    generator = torch.Generator(device=device).manual_seed(seed)  # not the global RNG, which training draws from
    n, dims = len(x), int(np.prod(x.shape[1:]))
    subset = min(iwae_n, n) if iwae_k > 0 else 0  # the images the IWAE bound is computed on: x[:subset]
    sums = {"recon": 0.0, "kl": 0.0, "se": 0.0, "se_expectation": 0.0, "prior_nll": 0.0}
    subset_sums = {"recon": 0.0, "kl": 0.0, "prior_nll": 0.0}
    prior = getattr(model, "prior", None)
    counts = torch.zeros(getattr(getattr(model, "quantizer", None), "num_codes", 1), dtype=torch.long)
    seen = 0
    for xb in itertools.chain(_batches(x[:subset], batch_size, device), _batches(x[subset:], batch_size, device)):
        if model.cfg.model == "vae":
            out = model.loss(xb, generator)
            for key in ("recon", "kl"):
                sums[key] += out[key].item() * len(xb)
                if seen < subset:
                    subset_sums[key] += out[key].item() * len(xb)
            params = model.decode(model.encode(xb)[0])  # p(x|z) at z = mu(x)
            x_hat = model.likelihood.mean(params)  # the location, clamped: VAE.reconstruct(xb)
            sums["se_expectation"] += squared_error_of_expectation(model.likelihood, params, xb)
        else:
            z_q, idx, _ = model.quantize(model.encode(xb))
            params = model.decode(z_q)
            x_hat = params.clamp(0, 1) if model.likelihood is None else model.likelihood.mean(params)
            counts += torch.bincount(idx.flatten().cpu(), minlength=len(counts))
            # p(x|z_q): the decoder's own, or (squared error) the prior's fitted scale around the decoder's mean
            likelihood = model.likelihood or getattr(prior, "decoder_likelihood", None)
            terms = {}
            if likelihood is not None:
                terms["recon"] = -likelihood.log_prob(params, xb).sum().item()
                sums["se_expectation"] += squared_error_of_expectation(likelihood, params, xb)
            if prior is not None:  # -log p(z_q) under the prior
                terms["prior_nll"] = -prior.log_prob(idx).sum().item()
            for key, value in terms.items():
                sums[key] += value
                if seen < subset:
                    subset_sums[key] += value
        sums["se"] += (x_hat - xb).pow(2).sum().item()
        seen += len(xb)
    mse = sums["se"] / (n * dims)
    out = {"model": model.cfg.model, "n_images": n, "mse": mse, "psnr": psnr(mse)}
    own_likelihood = getattr(model, "likelihood", None) is not None  # a VAE's, or a VQ-VAE's discretised one
    if own_likelihood or prior is not None:
        out["mse_expectation"] = sums["se_expectation"] / (n * dims)
    bits = lambda nats: nats / (dims * math.log(2))
    if model.cfg.model == "vae":
        recon, kl = sums["recon"] / n, sums["kl"] / n
        neg_elbo = recon + kl
        code_length = model.likelihood.is_code_length(x)
        out.update(neg_elbo=neg_elbo, recon=recon, kl=kl, code_length=code_length)
        if code_length:
            out["bits_per_dim"] = bits(neg_elbo)
            if iwae_k > 0:
                per = iwae_per_image(model, x[:subset], iwae_k, device, generator=generator, progress=progress)
                subset_elbo = (subset_sums["recon"] + subset_sums["kl"]) / subset
                out.update(iwae_nll=per.mean().item(), iwae_nll_se=_standard_error(per),
                           iwae_bits_per_dim=bits(per.mean().item()), iwae_k=iwae_k, iwae_n=subset,
                           neg_elbo_iwae_subset=subset_elbo, bits_per_dim_iwae_subset=bits(subset_elbo))
            if getattr(model, "fitted_prior", None) is not None:
                out.update(fitted_prior_figures(model, x, batch_size, iwae_k, iwae_n, seed, device, progress))
    else:
        out.update(codebook_usage(counts))
        if prior is not None:
            out.update(likelihood_bound(sums["recon"] / n, sums["prior_nll"] / n, dims))
            if iwae_k > 0:  # the importance-weighted bound over code grids, and the point bound on the same images
                per = iwae_per_image(model, x[:subset], iwae_k, device, generator=generator, progress=progress)
                subset_bound = (subset_sums["recon"] + subset_sums["prior_nll"]) / subset
                out.update(iwae_nll=per.mean().item(), iwae_nll_se=_standard_error(per),
                           iwae_bits_per_dim=bits(per.mean().item()), iwae_k=iwae_k, iwae_n=subset,
                           neg_elbo_iwae_subset=subset_bound, bits_per_dim_iwae_subset=bits(subset_bound))
        elif own_likelihood:  # the reconstruction term alone: the bound needs -log p(z_q) from a prior
            out.update(recon=sums["recon"] / n, recon_bits_per_dim=bits(sums["recon"] / n))
    model.train(was_training)
    return out


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(prog="python -m vae_core.evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", help="checkpoint folder (config.json + model.safetensors)")
    p.add_argument("--data", help="data set name or path (default: the one the model was trained on)")
    p.add_argument("--data-dir", default="", help="folder to look for named data sets in first")
    p.add_argument("--iwae-k", type=int, default=1000, help="importance samples for the IWAE bound (0: skip)")
    p.add_argument("--iwae-n", type=int, default=1000,
                   help="the first N test images the IWAE bound (and neg_elbo_iwae_subset) is computed on")
    p.add_argument("--batch-size", type=int, default=500)
    p.add_argument("--device", default="auto")
    p.add_argument("--sample-n", type=int, default=5000,
                   help="samples (and test and training images) for the sample-quality figures (0: skip them)")
    p.add_argument("--classifier", help="classifier folder whose features score the samples (default: the data "
                                        "set's, vae_core.evaluation.classifier_lookup)")
    p.add_argument("--samples-only", action="store_true",
                   help="compute only the sample-quality figures (not the test metrics or the IWAE bound)")
    p.add_argument("--update", metavar="FILE", help="also merge the figures into the JSON object in FILE (e.g. "
                                                    "the checkpoint's eval.json), keeping its other keys")
    p.add_argument("--json", action="store_true", help="print one flat JSON object")
    args = p.parse_args(argv)
    if args.samples_only and args.sample_n < 1:
        p.error("--samples-only needs --sample-n >= 1")
    device = pick_device(args.device)
    keep_freed_memory()
    try:
        model = load(args.checkpoint, device)
        cfg = model.cfg
        ds = load_dataset(args.data or cfg.data, args.data_dir or cfg.data_dir, cfg.channels, cfg.image_size,
                          seed=cfg.seed, log=lambda m: None if args.json else print(m))
    except (CheckpointError, DataError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    if cfg.model == "prior":
        print(f"error: {args.checkpoint} is a prior: evaluate the VQ-VAE folder that holds it", file=sys.stderr)
        sys.exit(1)
    if getattr(model, "prior_problem", None):  # a stale prior: no bound until it is retrained
        print(f"note: {model.prior_problem}", file=sys.stderr)
    if cfg.arch == "conv":  # oneDNN's and cuDNN's fast float32 conv kernels are NHWC: 1.6x faster IWAE on a CPU
        model = model.to(memory_format=torch.channels_last)
    metrics = {"model": cfg.model} if args.samples_only else evaluate(
        model, ds.x_test, args.batch_size, args.iwae_k, args.iwae_n, device=device, progress=True)
    if args.sample_n > 0:
        try:
            clf, note = find_classifier(args.data or cfg.data, (cfg.channels, cfg.image_size, cfg.image_size),
                                        args.checkpoint, args.classifier, ds.y_train is not None, device)
        except ClassifierError as e:
            print(f"error: {e}", file=sys.stderr)
            sys.exit(1)
        metrics.update(sample_metrics(model, clf, note, ds.x_test, ds.x_train, args.sample_n))
        if "sample_note" in metrics and not args.json:
            print(f"note: {metrics['sample_note']}", file=sys.stderr)
    if args.update:
        merge_into(args.update, metrics)
    if args.json:
        print(json.dumps(metrics))
    else:
        print(ds.describe())
        for k, v in metrics.items():
            print(f"{k:>14}: {v:.4f}" if isinstance(v, float) else f"{k:>14}: {v}")
    return metrics


if __name__ == "__main__":
    main()
