"""The test figures of a model (`python -m vae_core.evaluate`), as one flat dict, each mean with its standard error.

Each model hands over its own terms for a batch of images (VAE.evaluation_terms, VQVAE.evaluation_terms):

    VAE:     -ELBO = recon + kl,  recon = -E_q[log p(x|z)],  kl = KL(q(z|x) || N(0, I))
    VQ-VAE:  q(z|x) a point mass on the encoder's grid c*(x), so -ELBO = recon + prior_nll,
             -log p(x) = -log sum_c p(c) p(x|c) <= -log p(x|c*) - log p(c*)
             recon needs a p(x|z): the decoder's own likelihood, or for a VQ-VAE trained for squared error a
             discretised logistic around the decoder's output with one scale per pixel, fitted with the prior;
             prior_nll needs the prior (vae_core.train_prior)

and the IWAE bound (iwae.py; key iwae_nll) with k samples of the model's own proposal on the first iwae_n images,
beside the -ELBO over exactly them (neg_elbo_iwae_subset), so that the two bounds are compared on the same images.
A VAE with a fitted prior over z (<checkpoint>/prior/, vae_core.fit_prior) also gets the same figures under it
(the *_fitted keys, fitted_prior_figures): the KL term becomes a Monte Carlo estimate of KL(q(z|x) || p_fitted)
and the IWAE bound uses log p_fitted(z_i); both remain bounds on -log p(x) for the model p_fitted(z) p(x|z).

mse and psnr are those of the reconstruction, the decoder's *location* clamped to [0, 1] (a VAE's at z = mu(x), a
VQ-VAE's at c*(x)); mse_expectation is that of the exact mean E[x|z] = sum_k (k / 255) P(x = k / 255 | z) over the
256 levels (Likelihood.expectation) at the same z: the two differ near 0 and 1 and where the scale is wide. A VQ-VAE
trained for squared error without a prior has no p(x|z), so no mse_expectation. A VQ-VAE also reports its codebook's
usage (perplexity, share of codes used, dead codes).

bits_per_dim (= neg_elbo / (D ln 2)) and iwae_nll are reported only where p(x|z) is normalised over the values the
data can take, so that they are code lengths: discretised likelihoods on 8-bit images, Bernoulli on binary ones.
A Bernoulli model of grey images reports its loss (neg_elbo, recon, kl) with "code_length": false.
All noise comes from generators seeded here: evaluating never moves the global RNG (training's noise).
"""
import functools
import itertools

import numpy as np
import torch
from tqdm import tqdm

from ..data import to_float
from ..models.quantize import codebook_usage
from .iwae import iwae_per_image
from .metrics import bits_per_dim, psnr, squared_error_of_expectation, standard_error


def _batches(x: np.ndarray, batch_size: int, device):
    for i in range(0, len(x), batch_size):
        yield to_float(x[i:i + batch_size], device)


def _iwae_figures(per: torch.Tensor, subset_elbo: torch.Tensor, dims: int, suffix: str = "") -> dict:
    """The IWAE bound's keys from its per-image values, beside the -ELBO of the same images."""
    elbo = subset_elbo.mean().item()
    return {f"iwae_nll{suffix}": per.mean().item(), f"iwae_nll{suffix}_se": standard_error(per),
            f"iwae_bits_per_dim{suffix}": bits_per_dim(per.mean().item(), dims),
            f"neg_elbo{suffix}_iwae_subset": elbo, f"bits_per_dim{suffix}_iwae_subset": bits_per_dim(elbo, dims)}


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
    dims = int(np.prod(x.shape[1:]))
    per_image = []  # (recon, kl) of each image
    batches = tqdm(list(range(0, len(x), batch_size)), desc="-ELBO under the fitted prior", unit="batch",
                   disable=not progress, leave=False)
    for i in batches:
        xb = to_float(x[i:i + batch_size], device)
        log_px_z, log_pz, neg_log_qz = model.log_importance_terms(xb, 1, generator, prior="fitted")
        per_image.append(torch.stack([-log_px_z[0], -neg_log_qz[0] - log_pz[0]], 1).double().cpu())
    recon, kl = torch.cat(per_image).T
    neg_elbo = (recon + kl).mean().item()
    out = {"recon_fitted": recon.mean().item(), "kl_fitted": kl.mean().item(), "kl_fitted_se": standard_error(kl),
           "neg_elbo_fitted": neg_elbo, "neg_elbo_fitted_se": standard_error(recon + kl),
           "bits_per_dim_fitted": bits_per_dim(neg_elbo, dims),
           "fitted_prior_components": model.fitted_prior.cfg.gmm_components}
    if iwae_k > 0:
        subset = min(iwae_n, len(x))
        per = iwae_per_image(model, x[:subset], iwae_k, device,
                             generator=torch.Generator(device=device).manual_seed(seed + 2), progress=progress,
                             weights=functools.partial(model.log_importance_weights, prior="fitted"))
        out.update(_iwae_figures(per, (recon + kl)[:subset], dims, "_fitted"))
    return out


@torch.no_grad()
def evaluate(model, x: np.ndarray, batch_size: int = 500, iwae_k: int = 0, iwae_n: int = 1000,
             seed: int = 0, device=None, progress: bool = False) -> dict:
    """Flat dict of test figures for images x (uint8, N x C x H x W), each mean with its standard error (key_se).
    Seeded, so repeatable.

    With iwae_k > 0 the first iwae_n images are batched apart from the rest, so that the -ELBO over exactly them
    (neg_elbo_iwae_subset, beside the IWAE bound on them) is made of the same draws as their share of the whole
    set's -ELBO.
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
    per_image, counts = {}, None  # lists of (B,) tensors by key; code counts
    batches = itertools.chain(_batches(x[:subset], batch_size, device), _batches(x[subset:], batch_size, device))
    bar = tqdm(total=n, desc="test figures", unit="image", disable=not progress, leave=False)
    for xb in batches:
        terms = model.evaluation_terms(xb, generator)
        rows = dict(terms.nats, se=(terms.location - xb).pow(2).flatten(1).sum(1))
        if terms.likelihood is not None:
            rows["se_expectation"] = squared_error_of_expectation(terms.likelihood, terms.params, xb)
        for key, t in rows.items():
            per_image.setdefault(key, []).append(t.double().cpu())
        if terms.codes is not None:
            c = torch.bincount(terms.codes.flatten().cpu(), minlength=model.quantizer.num_codes)
            counts = c if counts is None else counts + c
        bar.update(len(xb))
    bar.close()
    per_image = {key: torch.cat(ts) for key, ts in per_image.items()}
    mse = per_image.pop("se") / dims
    out = {"model": model.cfg.model, "n_images": n, "mse": mse.mean().item(), "mse_se": standard_error(mse),
           "psnr": psnr(mse.mean().item())}
    if "se_expectation" in per_image:
        mse_expectation = per_image.pop("se_expectation") / dims
        out.update(mse_expectation=mse_expectation.mean().item(), mse_expectation_se=standard_error(mse_expectation))
    if counts is not None:
        out.update(codebook_usage(counts))
    code_length = terms.likelihood is not None and terms.likelihood.is_code_length(x)
    for key, t in per_image.items():  # the bound's terms: recon, kl or prior_nll
        out.update({key: t.mean().item(), f"{key}_se": standard_error(t)})
    if code_length and "recon" in out:
        out["recon_bits_per_dim"] = bits_per_dim(out["recon"], dims)
    if terms.bound:
        neg_elbo = sum(per_image.values())
        out.update(neg_elbo=neg_elbo.mean().item(), neg_elbo_se=standard_error(neg_elbo), code_length=code_length)
        if code_length:
            out["bits_per_dim"] = bits_per_dim(out["neg_elbo"], dims)
            if iwae_k > 0:
                per = iwae_per_image(model, x[:subset], iwae_k, device, generator=generator, progress=progress)
                out.update(_iwae_figures(per, neg_elbo[:subset], dims), iwae_k=iwae_k, iwae_n=subset)
            if getattr(model, "fitted_prior", None) is not None:
                out.update(fitted_prior_figures(model, x, batch_size, iwae_k, iwae_n, seed, device, progress))
    model.train(was_training)
    return out
