"""A VAE's fitted prior over z: the Gaussian mixture's density, EM, the checkpoint's prior/ folder (round trip,
stale refusal), sampling from it, and evaluate's figures under it."""
import json
import math

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from vae_core import build_model, load, save_checkpoint
from vae_core.checkpoint import PRIOR, StalePriorError, load_prior
from vae_core.config import Config
from vae_core.evaluation.report import evaluate
from vae_core.fit_prior import fit_prior, main
from vae_core.models import GaussianMixture
from vae_core.training.em import fit_gaussian_mixture

pytestmark = pytest.mark.usefixtures("vc_one_thread")


def _mixture(weights, means, covs) -> GaussianMixture:
    means = torch.tensor(means, dtype=torch.float64)
    gmm = GaussianMixture(Config(model="latent_prior", latent_dim=means.shape[1], gmm_components=len(means)))
    gmm.set_parameters(torch.log(torch.tensor(weights, dtype=torch.float64)), means,
                       torch.linalg.cholesky(torch.tensor(covs, dtype=torch.float64)))
    return gmm


KNOWN = ([0.3, 0.7], [[-2.0, 1.0], [1.5, -0.5]], [[[0.5, 0.2], [0.2, 0.3]], [[1.0, -0.4], [-0.4, 0.6]]])


def test_log_prob_is_scipys_mixture_density_and_integrates_to_one():
    gmm = _mixture(*KNOWN)
    z = torch.randn(50, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2
    want = np.log(sum(w * multivariate_normal(m, c).pdf(z.numpy()) for w, m, c in zip(*KNOWN)))
    assert np.allclose(gmm.log_prob(z).numpy(), want, atol=1e-10)
    side = torch.linspace(-9, 9, 721, dtype=torch.float64)  # a grid over +-9: the mass outside is negligible
    grid = torch.stack(torch.meshgrid(side, side, indexing="ij"), -1).reshape(-1, 2)
    mass = gmm.log_prob(grid).exp().sum().item() * (side[1] - side[0]).item() ** 2
    assert abs(mass - 1) < 1e-4


def test_em_recovers_a_known_mixture():
    truth = _mixture(*KNOWN)
    z = truth.sample(20000, torch.Generator().manual_seed(1)).double()
    fit = fit_gaussian_mixture(z, 2, "full", seed=0)
    order = torch.argsort(fit.means[:, 0])  # the component on the left first, as in KNOWN
    cov = fit.scale_tril @ fit.scale_tril.transpose(1, 2)
    assert fit.converged
    assert torch.allclose(fit.log_weights.exp()[order], torch.tensor(KNOWN[0], dtype=torch.float64), atol=0.02)
    assert torch.allclose(fit.means[order], torch.tensor(KNOWN[1], dtype=torch.float64), atol=0.05)
    assert torch.allclose(cov[order], torch.tensor(KNOWN[2], dtype=torch.float64), atol=0.05)
    assert all(b >= a - 1e-9 for a, b in zip(fit.log_likelihood, fit.log_likelihood[1:]))  # EM never loses
    diag = fit_gaussian_mixture(z, 2, "diag", seed=0)
    off_diagonal = (diag.scale_tril @ diag.scale_tril.transpose(1, 2))[:, 0, 1]
    assert torch.all(off_diagonal == 0)


def test_samples_are_reproducible_from_a_seed_and_follow_the_mixture():
    gmm = _mixture(*KNOWN)
    a, b = gmm.sample(4000, torch.Generator().manual_seed(5)), gmm.sample(4000, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    assert not torch.equal(a, gmm.sample(4000, torch.Generator().manual_seed(6)))
    mean = sum(w * torch.tensor(m) for w, m in zip(KNOWN[0], KNOWN[1]))
    assert torch.allclose(a.mean(0), mean.float(), atol=0.1)


@pytest.fixture(scope="module")
def vae_with_prior(tmp_path_factory, vc_one_thread, tiny_cfg, digits):
    """A tiny digits VAE trained a little, saved, with a prior fitted by the command's function."""
    folder = tmp_path_factory.mktemp("vae") / "ckpt"
    cfg = tiny_cfg()
    torch.manual_seed(0)
    model = build_model(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    x = torch.from_numpy(digits.x_train).float() / 255
    for _ in range(150):
        loss = model(x[torch.randint(0, len(x), (64,))])["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    save_checkpoint(folder, model.eval(), cfg)
    metrics = fit_prior(folder, "cpu", log=lambda *a: None, gmm_components=3, gmm_iterations=50)
    return folder, metrics


def test_fitted_prior_round_trips_through_the_checkpoint(vae_with_prior):
    folder, metrics = vae_with_prior
    vae = load(folder)
    assert isinstance(vae.fitted_prior, GaussianMixture) and vae.prior_problem is None
    saved = json.loads((folder / PRIOR / "config.json").read_text())
    assert saved["model"] == "latent_prior" and saved["gmm_components"] == 3 and saved["record"]["trained_on"]
    assert (folder / PRIOR / "samples.png").exists()
    again = load_prior(folder, vae)
    for name, t in vae.fitted_prior.state_dict().items():
        assert torch.equal(t, again.state_dict()[name])
    assert set(vae.state_dict()) == set(build_model(vae.cfg).state_dict())  # the prior is not in the VAE's weights
    assert metrics["val_log_prob"] > metrics["val_log_prob_standard"]  # it fits the aggregate posterior better
    assert metrics["val_kl_fitted"] < metrics["val_kl_standard"]


def test_refitting_is_seeded(vae_with_prior, tmp_path):
    folder, _ = vae_with_prior
    first = load(folder).fitted_prior.state_dict()
    fit_prior(folder, "cpu", log=lambda *a: None, gmm_components=3, gmm_iterations=50)
    for name, t in load(folder).fitted_prior.state_dict().items():
        assert torch.equal(t, first[name])


def test_sample_uses_the_fitted_prior_unless_told_standard(vae_with_prior):
    folder, _ = vae_with_prior
    vae = load(folder)
    g = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    fitted, again = vae.sample(8, g()), vae.sample(8, g(), prior="fitted")
    assert torch.equal(fitted, again)
    assert torch.equal(vae.sample_latents(8, g()), vae.fitted_prior.sample(8, g()))
    assert not torch.allclose(fitted, vae.sample(8, g(), prior="standard"))
    with pytest.raises(ValueError, match="prior must be one of"):
        vae.sample(8, g(), prior="gmm")
    vae.prior = None  # without one, "fitted" falls back to N(0, I)
    assert torch.equal(vae.sample(8, g()), vae.sample(8, g(), prior="standard"))


def test_a_stale_prior_is_refused_with_the_command_that_refits_it(vae_with_prior, tmp_path):
    folder, _ = vae_with_prior
    vae = load(folder)
    other = tmp_path / "retrained"
    with torch.no_grad():
        vae.decoder[0].bias.add_(0.01)
    save_checkpoint(other, vae, vae.cfg)
    (other / PRIOR).mkdir()
    for name in ("config.json", "model.safetensors"):
        (other / PRIOR / name).write_bytes((folder / PRIOR / name).read_bytes())
    with pytest.raises(StalePriorError, match=f"python -m vae_core.fit_prior {other}"):
        load_prior(other, vae)
    stale = load(other)
    assert stale.fitted_prior is None and "fit_prior" in stale.prior_problem
    with pytest.raises(ValueError, match="fit_prior"):
        stale.log_prior(torch.zeros(1, stale.cfg.latent_dim), "fitted")


def test_evaluate_reports_the_bounds_under_the_fitted_prior(vae_with_prior, digits):
    folder, _ = vae_with_prior
    vae = load(folder)
    x = digits.x_test[:100]
    m = evaluate(vae, x, iwae_k=64, iwae_n=50)
    vae.prior = None
    plain = evaluate(vae, x, iwae_k=64, iwae_n=50)
    assert {k: v for k, v in m.items() if "fitted" not in k} == plain  # the standard-prior keys are untouched
    assert m["recon_fitted"] + m["kl_fitted"] == pytest.approx(m["neg_elbo_fitted"])
    assert m["bits_per_dim_fitted"] == pytest.approx(m["neg_elbo_fitted"] / (64 * math.log(2)))
    assert m["iwae_nll_fitted"] <= m["neg_elbo_fitted_iwae_subset"]  # the IWAE bound is the tighter one
    assert m["kl_fitted"] < m["kl"] + 3 * m["kl_fitted_se"]  # a prior fitted to q(z) costs no more KL than N(0, I)
    assert m["kl_fitted_se"] > 0


def test_the_command_fits_and_says_what_it_did(vae_with_prior, capsys):
    folder, _ = vae_with_prior
    metrics = main([str(folder), "--components", "2", "--covariance", "diag", "--iterations", "20",
                    "--device", "cpu"])
    assert metrics["iterations"] <= 20
    assert load(folder).fitted_prior.cfg.gmm_covariance == "diag"
    assert "2-component diag Gaussian mixture" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main([str(folder), "--covariance", "spherical"])
    assert "gmm_covariance must be one of" in capsys.readouterr().err
