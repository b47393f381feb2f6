"""Decoder likelihoods against torch.distributions, Monte Carlo samples L > 1 and the per-image scale of the loss."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Bernoulli, Normal

from vae_core import VAE
from vae_core.data import to_float
from vae_core.likelihood import Likelihood

pytestmark = pytest.mark.usefixtures("vc_one_thread")
SHAPE = (1, 4, 4)


def test_bernoulli_log_prob_matches_torch():
    torch.manual_seed(0)
    lik = Likelihood("bernoulli", SHAPE)
    logits = 3 * torch.randn(5, *SHAPE)
    x = (torch.rand(5, *SHAPE) > 0.5).float()
    expected = Bernoulli(logits=logits).log_prob(x).flatten(1).sum(1)
    torch.testing.assert_close(lik.log_prob(logits, x), expected)
    # grey pixels in [0, 1]: x log sigmoid(l) + (1 - x) log(1 - sigmoid(l))
    x = torch.rand(5, *SHAPE)
    expected = (x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits)).flatten(1).sum(1)
    torch.testing.assert_close(lik.log_prob(logits, x), expected)
    torch.testing.assert_close(lik.mean(logits), torch.sigmoid(logits))
    assert list(lik.parameters()) == []


def test_gaussian_learned_scale_log_prob_matches_torch():
    torch.manual_seed(0)
    lik = Likelihood("gaussian", SHAPE)
    assert isinstance(lik.log_scale, torch.nn.Parameter) and lik.log_scale.shape == SHAPE
    torch.testing.assert_close(lik.log_scale.exp(), torch.full(SHAPE, 0.1))
    with torch.no_grad():
        lik.log_scale.copy_(torch.randn(SHAPE) * 0.5 - 1.0)  # a different sigma per pixel
    mu, x = torch.rand(5, *SHAPE), torch.rand(5, *SHAPE)
    expected = Normal(mu, lik.log_scale.exp()).log_prob(x).flatten(1).sum(1)
    lp = lik.log_prob(mu, x)
    torch.testing.assert_close(lp, expected)
    lp.sum().backward()
    assert lik.log_scale.grad is not None and lik.log_scale.grad.abs().sum() > 0  # the scale is learned
    torch.testing.assert_close(lik.mean(torch.tensor([-0.5, 0.3, 1.5])), torch.tensor([0.0, 0.3, 1.0]))


def test_gaussian_fixed_scale_log_prob_matches_torch():
    torch.manual_seed(0)
    lik = Likelihood("gaussian_fixed", SHAPE, fixed_scale=0.3)
    assert list(lik.parameters()) == [] and "log_scale" in dict(lik.named_buffers())
    mu, x = torch.rand(5, *SHAPE), torch.rand(5, *SHAPE)
    expected = Normal(mu, 0.3).log_prob(x).flatten(1).sum(1)
    torch.testing.assert_close(lik.log_prob(mu, x), expected)


def _deterministic(model):
    """Make z = mu (no noise), so two calls of model.loss can be compared exactly."""
    model.reparameterize = lambda mu, log_sigma, n=1: mu.expand(n, *mu.shape)
    return model


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian", "gaussian_fixed"])
def test_loss_is_per_image_summed_over_pixels(tiny_cfg, digits, likelihood):
    torch.manual_seed(0)
    model = _deterministic(VAE(tiny_cfg(likelihood=likelihood)))
    x = to_float(digits.x_train[:4])
    out = model.loss(x)
    mu, log_sigma = model.encode(x)
    per_image = -model.likelihood.log_prob(model.decode(mu), x)  # summed over the 64 pixels
    torch.testing.assert_close(out["recon"], per_image.mean())
    torch.testing.assert_close(out["kl"], VAE.kl(mu, log_sigma).mean())
    # the same images twice (or 3 times) give the same loss: a mean over images, not a sum over the batch
    for copies in (2, 3):
        dup = model.loss(x.repeat(copies, 1, 1, 1))
        for k in ("loss", "recon", "kl"):
            torch.testing.assert_close(dup[k], out[k])
    # and the recon term is a sum over pixels: 64 times the per-pixel mean
    if likelihood == "bernoulli":
        bce = F.binary_cross_entropy_with_logits(model.decode(mu), x)  # mean over every pixel of every image
        torch.testing.assert_close(out["recon"], 64 * bce)


def test_mc_samples_average_the_reconstruction_term(tiny_cfg, digits):
    L = 5
    torch.manual_seed(0)
    model = VAE(tiny_cfg(mc_samples=L))
    x = to_float(digits.x_train[:3])
    torch.manual_seed(1)
    out = model.loss(x)
    # by hand, with the same noise: -1/L sum_l log p(x|z_l), z_l = mu + sigma eps_l
    torch.manual_seed(1)
    mu, log_sigma = model.encode(x)
    eps = torch.randn(L, *mu.shape)
    recon = torch.stack([-model.likelihood.log_prob(model.decode(mu + log_sigma.exp() * e), x) for e in eps])
    torch.testing.assert_close(out["recon"], recon.mean(0).mean())
    out["loss"].backward()
    assert all(p.grad is not None for p in model.parameters())


def test_more_mc_samples_lower_the_variance(tiny_cfg, digits):
    torch.manual_seed(0)
    x = to_float(digits.x_train[:2])
    spread = {}
    for L in (1, 16):
        torch.manual_seed(0)
        model = VAE(tiny_cfg(mc_samples=L))
        with torch.no_grad():
            model.encoder[-1].bias[4:].fill_(0.0)  # sigma = 1-ish, so the samples differ
            spread[L] = torch.stack([model.loss(x)["recon"] for _ in range(30)]).std().item()
    assert spread[16] < spread[1] / 2  # sd falls as 1 / sqrt(L): 4x in theory
    assert math.isfinite(spread[1]) and spread[1] > 0
