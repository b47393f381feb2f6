"""Mixed precision and the lr schedule: when bf16 is used, what stays float32, and the warm-down."""
import pytest
import torch

from vae_core import VAE, Config
from vae_core.data import to_float
from vae_core.training.loop import lr_at
from vae_core.training.precision import autocast, cpu_has_bf16, memory_format, uses_bf16

CPU = torch.device("cpu")


def test_bf16_only_for_conv_models_on_cpus_with_native_bf16():
    assert uses_bf16(Config(arch="conv"), CPU) == cpu_has_bf16()
    assert not uses_bf16(Config(arch="mlp"), CPU)  # dense layers gain nothing from bf16 on a CPU
    assert not uses_bf16(Config(arch="conv", amp=False), CPU)
    assert not uses_bf16(Config(arch="conv"), torch.device("mps"))
    assert uses_bf16(Config(arch="mlp"), torch.device("cuda"))
    assert memory_format(Config(arch="mlp"), CPU) == torch.contiguous_format
    assert memory_format(Config(arch="conv", amp=False), CPU) == torch.channels_last  # oneDNN's fast layout
    assert memory_format(Config(arch="conv", amp=False), torch.device("cuda")) == torch.contiguous_format
    assert memory_format(Config(arch="conv"), torch.device("cuda")) == torch.channels_last


@pytest.mark.skipif(not cpu_has_bf16(), reason="this CPU has no native bf16")
def test_bf16_training_loss_stays_close_to_float32_and_its_terms_are_float32(tiny_cfg, digits):
    cfg = tiny_cfg(model="vae", likelihood="bernoulli")
    torch.manual_seed(0)
    model = VAE(cfg).to(memory_format=memory_format(cfg, CPU))
    x = to_float(digits.x_train[:64]).contiguous(memory_format=torch.channels_last)
    torch.manual_seed(1)
    full = model.loss(x)
    with autocast(cfg, CPU):
        torch.manual_seed(1)
        mixed = model.loss(x)
        mu, log_sigma = model.encode(x)
    assert mu.dtype == log_sigma.dtype == mixed["kl"].dtype == mixed["recon"].dtype == torch.float32
    for k in ("loss", "recon", "kl"):
        assert mixed[k].item() == pytest.approx(full[k].item(), rel=0.02), k
    mixed["loss"].backward()
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in model.parameters())


def test_decoder_output_is_computed_in_float32_under_bf16_autocast(tiny_cfg):
    """The last layer rounds to bf16 otherwise: half a grey level, up to 2 nats per pixel for a sharp likelihood.
    (CPU autocast runs the layers in bf16 whether or not the CPU computes bf16 natively, so this runs anywhere.)"""
    torch.manual_seed(0)
    model = VAE(tiny_cfg(model="vae"))
    z = torch.randn(5, model.cfg.latent_dim)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        params = model.decode(z)
        hidden = model.decoder[:-1](z)
    assert hidden.dtype == torch.bfloat16 and params.dtype == torch.float32
    torch.testing.assert_close(params, model.decoder[-1](hidden.float()))  # the last layer itself in float32
    assert not torch.equal(params, params.bfloat16().float())  # finer than bf16's 8 bits


def test_lr_warms_down_linearly_to_zero_over_the_last_share():
    cfg = Config(lr=2e-3, warmdown=0.5)
    assert [lr_at(cfg, p) for p in (0.0, 0.25, 0.5)] == [2e-3, 2e-3, 2e-3]
    assert lr_at(cfg, 0.75) == pytest.approx(1e-3)
    assert lr_at(cfg, 1.0) == 0.0
    assert lr_at(Config(lr=2e-3, warmdown=0.0), 0.99) == 2e-3  # constant
    assert lr_at(Config(lr=1.0, warmdown=1.0), 0.3) == pytest.approx(0.7)  # decay from the start
