"""The decoder's scale options beside `decoder`: the closed-form optimum (the sigma-VAE's calibrated decoder) and one
learned scalar; normalised over the 256 levels, fixed at evaluation, trained, saved and loaded."""
import json
import math
from pathlib import Path

import pytest
import torch

from vae_core import Config, build_model, load, save_checkpoint
from vae_core.config import SCALES
from vae_core.data import to_float
from vae_core.models.likelihood import DISCRETIZED, LOG_SCALE_FLOOR, Likelihood, soft_clamp
from vae_core.train import train

pytestmark = pytest.mark.usefixtures("vc_one_thread")
SHAPE = (1, 4, 4)
KINDS = ["discretized_gaussian", "discretized_logistic"]
MATCHED_SCALE = {"discretized_gaussian": lambda mse: math.sqrt(mse),  # s^2 = MSE
                 "discretized_logistic": lambda mse: math.sqrt(3 * mse) / math.pi}  # s^2 pi^2 / 3 = MSE
ROOT = Path(__file__).resolve().parents[2]


def _batch_with_mse(mse: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(loc, x): x on inner levels, loc = x +- sqrt(mse) (signs alternating), so the MSE is exactly `mse`."""
    torch.manual_seed(0)
    x = torch.randint(40, 216, (6, *SHAPE)).float() / 255
    signs = torch.where(torch.arange(x.numel()).view_as(x) % 2 == 0, 1.0, -1.0)
    return x + signs * math.sqrt(mse), x


@pytest.mark.parametrize("kind", KINDS)
def test_optimal_scale_is_the_closed_form_of_the_batch_mse(kind):
    loc, x = _batch_with_mse(0.01)
    lik = Likelihood(kind, SHAPE, scale="optimal").train()
    lp = lik.log_prob(loc, x)
    log_s = soft_clamp(torch.tensor(math.log(MATCHED_SCALE[kind](0.01))), LOG_SCALE_FLOOR)
    expected = DISCRETIZED[kind](x, loc, log_s.expand_as(loc)).flatten(1).sum(1)
    torch.testing.assert_close(lp, expected, rtol=1e-5, atol=1e-4)
    # the first batch sets the evaluation's scale to its own optimum (a plain mean, not an EMA from the start value)
    assert lik.log_scale.exp().item() == pytest.approx(MATCHED_SCALE[kind](0.01), rel=1e-5)
    # the location is clamped to [0, 1]: a background pixel at 0 whose location lies below 0 has no error
    x0, loc0 = x.clone(), loc.clone()
    x0[:, :, 0, 0], loc0[:, :, 0, 0] = 0.0, -3.0
    se = (x0 - loc0.clamp(0, 1)).pow(2).mean().item()
    assert se < 0.01
    lp0 = Likelihood(kind, SHAPE, scale="optimal").train().log_prob(loc0, x0)
    log_s0 = soft_clamp(torch.tensor(math.log(MATCHED_SCALE[kind](se))), LOG_SCALE_FLOOR)
    torch.testing.assert_close(lp0, DISCRETIZED[kind](x0, loc0, log_s0.expand_as(loc0)).flatten(1).sum(1),
                               rtol=1e-5, atol=1e-4)


def test_the_gaussian_optimum_is_the_maximum_likelihood_scale():
    """Away from the edge bins and with the scale much wider than a bin, s^2 = MSE maximises the discretised
    Gaussian's likelihood too: a scale 10% off either way gives a lower one."""
    loc, x = _batch_with_mse(0.01)
    best = math.log(MATCHED_SCALE["discretized_gaussian"](0.01))
    total = lambda log_s: DISCRETIZED["discretized_gaussian"](x, loc, torch.full_like(loc, log_s)).sum().item()
    assert total(best) > total(best + 0.1) and total(best) > total(best - 0.1)


@pytest.mark.parametrize("scale", ["optimal", "shared_scalar"])
@pytest.mark.parametrize("kind", KINDS)
def test_one_scale_is_still_normalised_over_the_256_levels(kind, scale):
    lik = Likelihood(kind, SHAPE, scale=scale).eval()
    assert lik.log_scale.numel() == 1  # one number for every pixel of every image
    for log_s in (-7.0, -3.0, -1.0, 1.0):
        with torch.no_grad():
            lik.log_scale.fill_(log_s)
        loc = torch.tensor([-0.2, 0.0, 0.13, 0.5, 0.99, 1.0, 1.3, 0.7] * 2).view(1, *SHAPE)
        probs = lik.level_probs(loc)
        assert probs.shape == (1, *SHAPE, 256)
        torch.testing.assert_close(probs.sum(-1), torch.ones(1, *SHAPE), atol=1e-4, rtol=0)


@pytest.mark.parametrize("kind", KINDS)
def test_the_evaluation_scale_does_not_depend_on_the_image(kind):
    lik = Likelihood(kind, SHAPE, scale="optimal").train()
    loc, x = _batch_with_mse(0.01)
    lik.log_prob(loc, x)  # one training batch sets the evaluation's scale
    lik.eval()
    stored = lik.log_scale.clone()
    far = (x + 0.4).clamp(0, 1)  # a much worse fit: its own optimum would be far wider
    lp_alone = lik.log_prob(loc[:1], x[:1])
    lp_beside = lik.log_prob(torch.cat([loc[:1], loc[:1]]), torch.cat([x[:1], far[:1]]))
    torch.testing.assert_close(lp_beside[0], lp_alone[0])  # the other image in the batch changes nothing
    assert torch.equal(lik.log_scale, stored)  # evaluating moves nothing
    assert torch.equal(lik.location_and_log_scale(loc)[1], lik.location_and_log_scale(far)[1])
    lik.train()
    lik.log_prob(loc, far)  # training does move it
    assert lik.log_scale.item() > stored.item()


@pytest.mark.parametrize("scale", [s for s in SCALES if s not in ("decoder", "fixed")])
def test_each_scale_trains_saves_and_loads(tmp_path, tiny_cfg, digits, scale):
    cfg = tiny_cfg(scale=scale)
    torch.manual_seed(0)
    model = build_model(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    start = model.likelihood.log_scale.detach().clone()
    for i in range(4):
        loss = model(to_float(digits.x_train[32 * i:32 * (i + 1)]))["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        assert math.isfinite(loss.item())
    assert not torch.equal(model.likelihood.log_scale, start)  # learned, or averaged from the batches
    save_checkpoint(tmp_path / "ckpt", model.eval(), cfg)
    assert json.loads((tmp_path / "ckpt" / "config.json").read_text())["scale"] == scale
    loaded = load(tmp_path / "ckpt")
    assert loaded.cfg.scale == scale
    assert torch.equal(loaded.likelihood.log_scale, model.likelihood.log_scale)
    x = to_float(digits.x_test[:16])
    torch.testing.assert_close(loaded.likelihood.log_prob(loaded.decode(loaded.encode(x)[0]), x),
                               model.likelihood.log_prob(model.decode(model.encode(x)[0]), x))


def test_the_trainer_trains_the_optimal_scale(tmp_path, tiny_cfg):
    metrics = train(tiny_cfg(scale="optimal"), tmp_path / "run", log=lambda *a: None)
    assert metrics["code_length"] and math.isfinite(metrics["bits_per_dim"])
    model = load(tmp_path / "run")
    assert model.likelihood.batches_seen.item() > 10  # every training step averaged in, saved with the weights
    assert model.likelihood.log_scale.exp().item() != pytest.approx(0.1)  # moved from where it started


def test_configs_written_before_these_options_load_as_they_were():
    d = json.loads((ROOT / "checkpoints" / "fashion-vae" / "config.json").read_text())
    cfg = Config.from_dict(d)
    assert (cfg.scale, cfg.likelihood) == (d["scale"], d["likelihood"])
    assert Config.from_dict({k: v for k, v in d.items() if k != "scale"}).scale == Config().scale
    with pytest.raises(ValueError, match="scale must be one of"):
        Config(scale="scalar")
