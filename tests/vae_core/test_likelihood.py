"""Decoder likelihoods: normalised over the 256 levels, against torch.distributions, Monte Carlo samples L > 1
and the per-image scale of the loss."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Bernoulli, Normal

from vae_core import VAE
from vae_core.data import to_float
from vae_core.models.likelihood import DISCRETIZED as DISCRETIZED_LOG_PROB
from vae_core.models.likelihood import Likelihood

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


DISCRETIZED = ["discretized_gaussian", "discretized_logistic"]
LEVELS = torch.arange(256, dtype=torch.float32) / 255


def _all_levels_log_prob(lik, loc, log_scale):
    """log p of each of the 256 levels of one pixel with this location and (raw) log scale."""
    params = torch.tensor([loc, log_scale]).view(1, 2, 1, 1).expand(256, 2, 1, 1)
    return lik.log_prob(params, LEVELS.view(256, 1, 1, 1))


@pytest.mark.parametrize("kind", DISCRETIZED)
def test_discretized_likelihoods_sum_to_one_over_the_256_levels(kind):
    lik = Likelihood(kind, (1, 1, 1), scale="decoder")
    for log_scale in (-12.0, -8.0, -6.0, -4.0, -2.0, 0.0, 3.0, 40.0):  # far below the floor to far above 1
        for loc in (-2.0, -0.01, 0.0, 0.3, 0.5, 7.3 / 255, 1.0, 1.02, 3.0):
            lp = _all_levels_log_prob(lik, loc, log_scale)
            assert lp.dtype == torch.float32 and torch.isfinite(lp).all()
            assert lp.exp().sum().item() == pytest.approx(1.0, abs=1e-4), (log_scale, loc)


def test_bernoulli_sums_to_one_on_binary_pixels_only():
    lik = Likelihood("bernoulli", (1, 1, 1))
    logits = torch.full((2, 1, 1, 1), 0.7)
    assert lik.log_prob(logits, torch.tensor([0.0, 1.0]).view(2, 1, 1, 1)).exp().sum().item() == pytest.approx(1.0)
    grey = lik.log_prob(logits[:1].expand(256, 1, 1, 1), LEVELS.view(256, 1, 1, 1)).exp().sum().item()
    assert grey > 20  # summed over the 256 grey levels it is no distribution: not a code length
    assert lik.is_code_length(torch.tensor([0, 255, 255], dtype=torch.uint8))
    assert not lik.is_code_length(torch.tensor([0, 128, 255], dtype=torch.uint8))
    assert Likelihood("discretized_logistic", (1, 1, 1)).is_code_length(torch.tensor([3], dtype=torch.uint8))


@pytest.mark.parametrize("kind", DISCRETIZED)
def test_discretized_bin_masses_match_float64_cdfs(kind):
    """The stable float32 formulas against plain CDF differences in float64, pixel by pixel."""
    torch.manual_seed(0)
    loc = torch.rand(20000, dtype=torch.float64) * 1.4 - 0.2
    log_scale = torch.rand(20000, dtype=torch.float64) * 7 - 8
    x = torch.randint(0, 256, (20000,)).double() / 255
    x[:50], x[50:100] = 0.0, 1.0  # the open edge bins
    s = log_scale.exp()
    cdf = Normal(loc, s).cdf if kind == "discretized_gaussian" else (lambda v: torch.sigmoid((v - loc) / s))
    upper = torch.where(x > 1 - 1e-6, torch.ones_like(x), cdf(x + 0.5 / 255))
    lower = torch.where(x < 1e-6, torch.zeros_like(x), cdf(x - 0.5 / 255))
    expected = torch.log(upper - lower)
    got = DISCRETIZED_LOG_PROB[kind](x.float(), loc.float(), log_scale.float()).double()
    assert torch.isfinite(got).all()
    fine = expected > -30  # where float64 CDF differences still resolve the mass (far tails underflow there)
    assert fine.sum() > 5000 and fine[:100].sum() > 20  # edge bins among those compared
    torch.testing.assert_close(got[fine], expected[fine], rtol=1e-3, atol=1e-3)
    assert (got[~fine] < -25).all()  # and the far tails, which float64 loses, stay tiny and finite in float32


@pytest.mark.parametrize("kind", DISCRETIZED)
def test_samples_follow_the_bin_masses(kind):
    lik = Likelihood(kind, (1, 1, 1), scale="decoder")
    probs = _all_levels_log_prob(lik, 0.4, -3.0).exp()
    params = torch.tensor([0.4, -3.0]).view(1, 2, 1, 1).expand(40000, 2, 1, 1)
    x = lik.sample(params, torch.Generator().manual_seed(0))
    levels = (x * 255).round()
    assert torch.equal(levels, x * 255) or torch.allclose(levels, x * 255, atol=1e-3)  # on the 256 levels
    freq = torch.bincount(levels.long().flatten(), minlength=256).float() / len(levels)
    assert 0.5 * (freq - probs).abs().sum().item() < 0.03  # total variation between samples and masses


def test_decoder_scale_is_a_second_output_softly_floored():
    lik = Likelihood("discretized_logistic", SHAPE, scale="decoder")
    assert lik.params_per_pixel == 2 and list(lik.parameters()) == []
    raw = torch.full((1, 2, 4, 4), -30.0, requires_grad=True)  # log scale far below the floor
    loc, log_scale = lik.location_and_log_scale(raw)
    assert loc.shape == (1, 1, 4, 4) and (log_scale > -8.01).all()
    lik.log_prob(raw, torch.full((1, 1, 4, 4), 0.5)).sum().backward()
    assert (raw.grad[:, 1] != 0).all()  # a soft floor: the gradient still reaches the raw log scale
    torch.testing.assert_close(lik.mean(torch.tensor([[[[-0.5]], [[0.0]]], [[[0.3]], [[0.0]]]])).flatten(),
                               torch.tensor([0.0, 0.3]))


def test_shared_and_fixed_scales():
    lik = Likelihood("discretized_gaussian", SHAPE, scale="shared")
    assert isinstance(lik.log_scale, torch.nn.Parameter) and lik.log_scale.shape == SHAPE
    assert lik.params_per_pixel == 1
    mu, x = torch.rand(5, *SHAPE), torch.randint(0, 256, (5, *SHAPE)).float() / 255
    lik.log_prob(mu, x).sum().backward()
    assert lik.log_scale.grad is not None and lik.log_scale.grad.abs().sum() > 0  # the scale is learned
    fixed = Likelihood("discretized_gaussian", SHAPE, scale="fixed", fixed_scale=0.3)
    assert list(fixed.parameters()) == [] and "log_scale" in dict(fixed.named_buffers())
    s = 0.3
    expected = torch.log(Normal(mu, s).cdf(x + 0.5 / 255) - Normal(mu, s).cdf(x - 0.5 / 255))
    edge = (x == 0) | (x == 1)
    got = fixed.log_prob(mu[~edge.flatten(1).any(1)], x[~edge.flatten(1).any(1)])
    torch.testing.assert_close(got, expected[~edge.flatten(1).any(1)].flatten(1).sum(1), rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("kind", DISCRETIZED + ["bernoulli"])
def test_log_prob_is_float32_under_bf16_autocast(kind):
    torch.manual_seed(0)
    lik = Likelihood(kind, SHAPE, scale="decoder")
    params = torch.randn(3, lik.params_per_pixel, 4, 4)
    x = torch.randint(0, 256, (3, *SHAPE)).float() / 255
    with torch.autocast("cpu", dtype=torch.bfloat16):
        lp = lik.log_prob(params.bfloat16(), x)
    assert lp.dtype == torch.float32
    torch.testing.assert_close(lp, lik.log_prob(params.bfloat16().float(), x))


def _deterministic(model):
    """Make z = mu (no noise), so two calls of model.loss can be compared exactly."""
    model.reparameterize = lambda mu, log_sigma, n=1, generator=None: mu.expand(n, *mu.shape)
    return model


@pytest.mark.parametrize("likelihood", ["bernoulli", *DISCRETIZED])
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
