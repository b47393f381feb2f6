"""VAE and VQ-VAE models: the KL term, gradients through the reparametrisation and the straight-through estimator."""
import pytest
import torch
from torch.distributions import Independent, Normal, kl_divergence

from vae_core import VAE, VQVAE, Config, build_model
from vae_core.config import Record
from vae_core.data import to_float
from vae_core.models.gaussian import DiagonalGaussian

pytestmark = pytest.mark.usefixtures("vc_one_thread")


def test_closed_form_kl_matches_monte_carlo():
    torch.manual_seed(0)
    mu = torch.randn(3, 4)
    log_sigma = 0.5 * torch.randn(3, 4)
    kl = VAE.kl(mu, log_sigma)
    assert kl.shape == (3,)
    q = Independent(Normal(mu, log_sigma.exp()), 1)
    p = Independent(Normal(torch.zeros(4), torch.ones(4)), 1)
    torch.testing.assert_close(kl, kl_divergence(q, p), rtol=1e-5, atol=1e-5)
    # KL = E_q[log q(z) - log p(z)], by Monte Carlo with 200k samples
    z = q.sample((200_000,))
    kl_mc = (q.log_prob(z) - p.log_prob(z)).mean(0)
    torch.testing.assert_close(kl, kl_mc, rtol=0.03, atol=0.03)


def test_diagonal_gaussian_samples_and_kl():
    mu, log_sigma = torch.tensor([[1.0, -2.0]]), torch.tensor([[0.0, -1.0]])
    q = DiagonalGaussian(mu, log_sigma)
    z, eps = q.sample(torch.Generator().manual_seed(0), n=40_000)
    assert z.shape == eps.shape == (40_000, 1, 2)
    torch.testing.assert_close(z, mu + log_sigma.exp() * eps)  # z = mu + sigma * eps, with the eps returned
    torch.testing.assert_close(z.mean(0), mu, atol=0.03, rtol=0)
    torch.testing.assert_close(z.std(0), log_sigma.exp(), atol=0.03, rtol=0)
    torch.testing.assert_close(q.kl_per_dim().sum(-1), q.kl())
    torch.testing.assert_close(q.kl(), VAE.kl(mu, log_sigma))
    assert torch.equal(q.kl_per_dim()[0, 0], torch.tensor(0.5))  # mu = 1, sigma = 1: 1/2 mu^2
    z1, _ = q.sample()  # n = 1 from the global RNG
    assert z1.shape == (1, 1, 2)


def test_vae_posterior_is_the_encoders_gaussian(tiny_cfg, digits):
    torch.manual_seed(0)
    model = VAE(tiny_cfg()).eval()
    x = to_float(digits.x_train[:4])
    q = model.posterior(x)
    mu, log_sigma = model.encode(x)
    assert torch.equal(q.mean, mu) and torch.equal(q.log_sigma, log_sigma)
    g = torch.Generator().manual_seed(3)
    torch.testing.assert_close(model.loss(x, g)["kl"], q.kl().mean())


def test_kl_is_zero_for_the_prior():
    assert VAE.kl(torch.zeros(2, 5), torch.zeros(2, 5)).abs().max() < 1e-7


def test_reparameterize_draws_from_the_posterior():
    torch.manual_seed(0)
    mu, log_sigma = torch.tensor([[1.0, -2.0]]), torch.tensor([[0.0, -1.0]])
    z = VAE.reparameterize(None, mu, log_sigma, 50_000)
    assert z.shape == (50_000, 1, 2)
    torch.testing.assert_close(z.mean(0), mu, atol=0.03, rtol=0)
    torch.testing.assert_close(z.std(0), log_sigma.exp(), atol=0.03, rtol=0)


@pytest.mark.parametrize("arch", ["conv", "mlp"])
def test_vae_encoder_gets_gradient_from_reconstruction(tiny_cfg, digits, arch):
    torch.manual_seed(0)
    model = VAE(tiny_cfg(arch=arch, hidden=32))
    out = model.loss(to_float(digits.x_train[:8]))
    out["recon"].backward()  # only the reconstruction term: its gradient reaches the encoder through z = mu + sigma eps
    grads = [p.grad for p in model.encoder.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert all(g.abs().sum() > 0 for g in grads)


def test_vae_sigma_gets_gradient_through_eps(tiny_cfg, digits):
    """d recon / d log sigma is nonzero only if z depends on sigma (the reparametrisation)."""
    torch.manual_seed(0)
    model = VAE(tiny_cfg())
    x = to_float(digits.x_train[:8])
    mu, log_sigma = model.encode(x)
    mu, log_sigma = mu.detach().requires_grad_(), log_sigma.detach().requires_grad_()
    z = model.reparameterize(mu, log_sigma, 2)
    (-model.likelihood.log_prob(model.decode(z.flatten(0, 1)), x.repeat(2, 1, 1, 1))).sum().backward()
    assert log_sigma.grad.abs().sum() > 0 and mu.grad.abs().sum() > 0


@pytest.mark.parametrize("codebook", ["ema", "loss"])
def test_vqvae_encoder_gets_gradient_through_straight_through(tiny_cfg, digits, codebook):
    torch.manual_seed(0)
    model = VQVAE(tiny_cfg(model="vqvae", codebook=codebook))
    out = model.loss(to_float(digits.x_train[:8]))
    out["recon"].backward()  # argmin has no gradient: only the straight-through estimator carries it to the encoder
    grads = [p.grad for p in model.encoder.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert all(g.abs().sum() > 0 for g in grads)
    if codebook == "loss":  # the reconstruction term alone must not move the codebook
        assert model.codebook.grad is None or model.codebook.grad.abs().sum() == 0


def test_vae_shapes_and_ranges(tiny_cfg, digits):
    torch.manual_seed(0)
    model = build_model(tiny_cfg())
    assert isinstance(model, VAE)
    x = to_float(digits.x_train[:5])
    out = model(x)
    assert set(out) == {"loss", "recon", "kl"} and all(v.dim() == 0 for v in out.values())
    torch.testing.assert_close(out["loss"], out["recon"] + out["kl"])
    r = model.reconstruct(x)
    assert r.shape == x.shape and 0 <= r.min() and r.max() <= 1
    s = model.sample(6, torch.Generator().manual_seed(0))
    assert s.shape == (6, 1, 8, 8)
    torch.testing.assert_close(s, model.sample(6, torch.Generator().manual_seed(0)))
    w = model.log_importance_weights(x, 3)
    assert w.shape == (5, 3) and torch.isfinite(w).all()


def test_vae_beta_weights_the_kl(tiny_cfg, digits):
    x = to_float(digits.x_train[:5])
    torch.manual_seed(0)
    model = VAE(tiny_cfg(beta=4.0))
    torch.manual_seed(1)
    out = model.loss(x)
    torch.testing.assert_close(out["loss"], out["recon"] + 4.0 * out["kl"])


@pytest.mark.parametrize("size,grid", [(8, 2), (28, 7)])
def test_vqvae_code_grid_round_trip(tiny_cfg, size, grid):
    torch.manual_seed(0)
    model = build_model(tiny_cfg(model="vqvae", image_size=size)).eval()
    assert isinstance(model, VQVAE) and model.grid_size == grid
    x = torch.rand(3, 1, size, size)
    idx = model.encode_indices(x)
    assert idx.shape == (3, grid, grid) and idx.dtype == torch.long
    assert 0 <= idx.min() and idx.max() < model.cfg.num_codes
    # decoding the indices gives the same images as reconstructing through the quantizer
    torch.testing.assert_close(model.decode_indices(idx), model.reconstruct(x))
    out = model(x)
    assert set(out) == {"loss", "recon", "vq"}
    torch.testing.assert_close(out["loss"], out["recon"] + out["vq"])


def test_vqvae_res_blocks_sets_the_residual_blocks_each_side(tiny_cfg):
    from vae_core.models.nets import ResidualBlock

    def blocks(net):
        return sum(isinstance(m, ResidualBlock) for m in net.modules())

    for n in (0, 1, 2):
        model = build_model(tiny_cfg(model="vqvae", res_blocks=n))
        assert blocks(model.encoder) == blocks(model.decoder) == n
        assert model(torch.rand(2, 1, 8, 8))["loss"].isfinite()


@pytest.mark.parametrize("bad,words", [
    ({"model": "gan"}, "model must be one of"),
    ({"arch": "resnet"}, "arch must be one of"),
    ({"likelihood": "poisson"}, "likelihood must be one of"),
    ({"scale": "learned"}, "scale must be one of"),
    ({"fixed_scale": 0.0}, "fixed_scale must be positive"),
    ({"codebook": "sgd"}, "codebook must be one of"),
    ({"channels": 2}, "channels must be 1 or 3"),
    ({"image_size": 30}, "multiple of 4"),
    ({"latent_dim": 0}, "latent_dim"),
    ({"num_codes": 1}, "num_codes"),
    ({"res_blocks": -1}, "res_blocks must be 0 or more"),
    ({"mc_samples": 0}, "mc_samples"),
    ({"width": 1}, "width must be at least 2"),
    ({"batch_size": 0}, "batch_size"),
    ({"lr": 0.0}, "lr must be positive"),
    ({"warmdown": 1.5}, "warmdown must be in 0..1"),
    ({"model": "vqvae", "arch": "mlp"}, "arch=conv"),
])
def test_config_rejects_bad_values(bad, words):
    with pytest.raises(ValueError, match=words):
        Config(**bad)


def test_config_round_trips_through_json(tmp_path, tiny_cfg):
    cfg = tiny_cfg(model="vqvae").with_record(Record(label_names=["a", "b"], metrics={"mse": 0.5}))
    cfg.save(tmp_path / "c.json")
    assert Config.load(tmp_path / "c.json") == cfg
    assert Config.load(tmp_path / "c.json").record == cfg.record  # the record too (not compared by ==)
    with pytest.raises(ValueError, match="unknown keys"):
        Config.from_dict({**cfg.to_dict(), "colour": "red"})


@pytest.mark.parametrize("in_channels,out_channels,size", [(32, 1, 14), (16, 2, 7), (8, 6, 8)])
def test_to_image_without_autograd_is_the_transposed_convolution(in_channels, out_channels, size):
    """The decoder's last layer runs as a 3x3 conv + pixel shuffle when no gradient is needed: same numbers."""
    from torch import nn

    from vae_core.models.nets import ToImage
    torch.manual_seed(0)
    layer = ToImage(in_channels, out_channels)
    plain = nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1)
    plain.load_state_dict(layer.state_dict())  # the same parameters under the same names
    x = torch.randn(3, in_channels, size, size)
    with torch.no_grad():
        fast, reference = layer(x), plain(x)
        channels_last = layer(x.contiguous(memory_format=torch.channels_last))
    assert fast.shape == (3, out_channels, 2 * size, 2 * size)
    assert torch.allclose(fast, reference, atol=1e-5)
    assert torch.allclose(channels_last, reference, atol=1e-5)
    assert torch.equal(layer(x), plain(x))  # with autograd: the transposed convolution itself
