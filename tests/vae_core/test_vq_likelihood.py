"""The VQ-VAE trained on the decoder's own discretised likelihood (--vq-likelihood): its loss is a code length, and
train, evaluate and train_prior use the decoder's location and scale (no fitted scale)."""
import pytest
import torch

from vae_core import Config, build_model, load
from vae_core.data import hold_out
from vae_core.evaluation.report import evaluate
from vae_core.models.likelihood import LEVELS
from vae_core.train import train
from vae_core.train_prior import prior_config, train_prior

pytestmark = pytest.mark.usefixtures("vc_one_thread")


def quiet(*args):
    pass


def test_the_logistic_vq_vaes_loss_is_a_code_length(tiny_cfg):
    torch.manual_seed(0)
    model = build_model(tiny_cfg(model="vqvae", vq_likelihood="discretized_logistic")).eval()
    x = torch.randint(0, LEVELS, (1, 1, 8, 8)).float() / (LEVELS - 1)
    with torch.no_grad():
        z_q = model.quantize(model.encode(x))[0]
        params = model.decode(z_q)
        assert params.shape == (1, 2, 8, 8)  # location and log scale per pixel
        p = model.likelihood.level_probs(params)  # (1, 1, 8, 8, 256): P(x_pixel = k / 255 | z_q)
        torch.testing.assert_close(p.sum(-1), torch.ones(1, 1, 8, 8))  # each pixel's levels sum to 1
        # the loss's recon term is -log p(x|z_q): the levels' probabilities at x, multiplied over the pixels
        at_x = p.gather(-1, (x * (LEVELS - 1)).round().long()[..., None]).log().sum()
        torch.testing.assert_close(model.loss(x)["recon"], -at_x, rtol=1e-4, atol=1e-3)
        assert 0 <= model.reconstruct(x).min() and model.reconstruct(x).max() <= 1
    assert build_model(tiny_cfg(model="vqvae")).decoder[-1].out_channels == 1  # mse: the image alone


def test_train_evaluate_and_train_prior_use_the_decoders_own_scale(tmp_path, digits):
    cfg = Config(model="vqvae", vq_likelihood="discretized_logistic", width=8, num_codes=16, code_dim=8, channels=1,
                 image_size=8, data="digits", epochs=1, batch_size=32)
    train(cfg, tmp_path / "vq", device="cpu", log=quiet)
    vq = load(tmp_path / "vq")
    assert vq.cfg.vq_likelihood == "discretized_logistic" and vq.prior is None
    x_val = hold_out(digits, vq.cfg.validation, vq.cfg.seed).x_val
    alone = evaluate(vq, x_val)  # recon is a code length without a prior
    assert alone["recon"] > 0
    assert alone["recon_bits_per_dim"] == pytest.approx(alone["recon"] / (64 * 0.6931471805599453))
    assert "bits_per_dim" not in alone and 0 <= alone["mse_expectation"] < 1
    logs = []
    metrics = train_prior(tmp_path / "vq", prior_config(vq.cfg, epochs=1, batch_size=32, prior_dim=16, prior_layers=1,
                                                        prior_heads=2), device="cpu", log=logs.append)
    assert not any("fitted the decoder's per-pixel scale" in line for line in logs)  # nothing to fit
    assert metrics["recon"] == pytest.approx(alone["recon"], rel=1e-5)  # the decoder's own p(x|z_q)
    vq = load(tmp_path / "vq")
    m = evaluate(vq, x_val)
    assert m["recon"] == pytest.approx(alone["recon"], rel=1e-6) and m["prior_nll"] > 0
    assert m["neg_elbo"] == pytest.approx(m["recon"] + m["prior_nll"]) and m["code_length"] is True
