"""Evaluation: the IWAE bound against the ELBO, metric consistency, and the `--json` command line."""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vae_core import build_model, save_checkpoint
from vae_core.data import to_float
from vae_core.evaluation.iwae import iwae_nll
from vae_core.evaluation.metrics import psnr
from vae_core.evaluation.report import evaluate

pytestmark = pytest.mark.usefixtures("vc_one_thread")
ROOT = Path(__file__).resolve().parents[2]


def _fit(cfg, digits, steps, lr=3e-3):
    torch.manual_seed(0)
    model = build_model(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    x, g = to_float(digits.x_train), torch.Generator().manual_seed(0)
    for _ in range(steps):
        loss = model(x[torch.randint(0, len(x), (64,), generator=g)])["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


@pytest.fixture(scope="module")
def fitted_vae(vc_one_thread, tiny_cfg, digits):
    """A VAE trained a little, with a Gaussian decoder sharp enough that q(z|x) is far from p(z|x)."""
    cfg = tiny_cfg(likelihood="discretized_gaussian", scale="fixed", fixed_scale=0.2)
    return cfg, _fit(cfg, digits, 300)


@pytest.fixture(scope="module")
def fitted_vqvae(vc_one_thread, tiny_cfg, digits):
    cfg = tiny_cfg(model="vqvae")
    return cfg, _fit(cfg, digits, 30)


@pytest.mark.slow
def test_iwae_is_a_tighter_bound_than_the_elbo(fitted_vae, digits):
    _, model = fitted_vae
    x = digits.x_test
    metrics = evaluate(model, x)
    neg_elbo = metrics["neg_elbo"]
    assert metrics["kl"] > 1.0  # the latent is in use, so the bounds differ
    nll = {}
    for k in (1, 8, 64):
        torch.manual_seed(1)
        nll[k] = iwae_nll(model, x, k, "cpu")
    # k = 1 is the ELBO itself (with a sampled rather than closed-form KL): equal up to Monte Carlo noise
    assert nll[1] == pytest.approx(neg_elbo, abs=0.5)
    # -log p(x) <= IWAE_64 <= IWAE_8 <= IWAE_1 = -ELBO (up to noise), and the gap is real
    assert nll[64] <= nll[8] + 0.05 and nll[8] <= nll[1] + 0.05
    assert nll[64] <= neg_elbo + 0.05
    assert neg_elbo - nll[64] > 0.3
    assert all(math.isfinite(v) for v in nll.values())


@pytest.mark.slow
def test_iwae_with_one_sample_is_the_elbo_in_expectation(fitted_vae, digits):
    """E[log w] with z ~ q(z|x) is the ELBO: the k = 1 bound averages to -ELBO (closed-form KL) within noise."""
    _, model = fitted_vae
    x = digits.x_test[:200]
    g = torch.Generator().manual_seed(5)
    runs = torch.tensor([iwae_nll(model, x, 1, "cpu", generator=g) for _ in range(40)])
    elbo = torch.tensor([evaluate(model, x, seed=s)["neg_elbo"] for s in range(40)])
    se = (runs.var() / len(runs) + elbo.var() / len(elbo)).sqrt().item()
    assert abs(runs.mean().item() - elbo.mean().item()) < 3 * se + 1e-3
    # and more samples tighten it: the k = 64 bound is lower by more than the noise
    assert iwae_nll(model, x, 64, "cpu", generator=g) < runs.mean().item() - 10 * se


def test_evaluate_leaves_the_global_rng_alone(fitted_vae, digits):
    """Training draws its noise from the global RNG: evaluating between epochs must not reseed or advance it."""
    _, model = fitted_vae
    torch.manual_seed(123)
    before = torch.get_rng_state()
    m1 = evaluate(model, digits.x_test[:100], iwae_k=4, iwae_n=20)
    assert torch.equal(torch.get_rng_state(), before)
    torch.rand(7)  # a different global state: the same metrics (evaluation is seeded by its own generator)
    assert evaluate(model, digits.x_test[:100], iwae_k=4, iwae_n=20) == m1


def test_bits_per_dim_only_where_the_likelihood_is_a_code_length(tiny_cfg, digits):
    """Bernoulli on grey pixels is a loss, not a distribution over their 256 levels: no bits/dim, no NLL."""
    cfg = tiny_cfg(likelihood="bernoulli")
    model = _fit(cfg, digits, 20)
    grey = evaluate(model, digits.x_test, iwae_k=4, iwae_n=20)
    assert grey["code_length"] is False and "neg_elbo" in grey
    assert not {"bits_per_dim", "iwae_nll", "iwae_bits_per_dim"} & set(grey)
    binary = ((digits.x_test > 127) * 255).astype("uint8")
    m = evaluate(model, binary, iwae_k=4, iwae_n=20)
    assert m["code_length"] is True and m["bits_per_dim"] == pytest.approx(m["neg_elbo"] / (64 * math.log(2)))
    assert m["iwae_bits_per_dim"] == pytest.approx(m["iwae_nll"] / (64 * math.log(2)))


def test_iwae_in_chunks_matches(fitted_vae, digits):
    _, model = fitted_vae
    x = digits.x_test[:100]
    torch.manual_seed(2)
    whole = iwae_nll(model, x, 64, "cpu")
    torch.manual_seed(3)
    chunked = iwae_nll(model, x, 64, "cpu", max_decodes=50)  # one image at a time, k in chunks of 50 + 14
    assert chunked == pytest.approx(whole, abs=0.3)


@pytest.mark.slow
def test_evaluate_vae_metrics_are_consistent_and_seeded(fitted_vae, digits):
    _, model = fitted_vae
    model.train()
    m = evaluate(model, digits.x_test, batch_size=100, iwae_k=4, iwae_n=50)
    assert model.training  # restored
    assert m["model"] == "vae" and m["n_images"] == len(digits.x_test)
    assert m["neg_elbo"] == pytest.approx(m["recon"] + m["kl"])
    assert m["bits_per_dim"] == pytest.approx(m["neg_elbo"] / (64 * math.log(2)))
    assert m["psnr"] == pytest.approx(10 * math.log10(1 / m["mse"]))
    assert m["iwae_k"] == 4 and m["iwae_n"] == 50 and math.isfinite(m["iwae_nll"])
    # mse is the mean over pixels of (location at mu(x) - x)^2; mse_expectation that of (E[x|mu(x)] - x)^2
    x = to_float(digits.x_test)
    assert m["mse"] == pytest.approx((model.reconstruct(x) - x).pow(2).mean().item(), rel=1e-5)
    with torch.no_grad():
        expectation = model.likelihood.expectation(model.decode(model.encode(x)[0]))
    assert m["mse_expectation"] == pytest.approx((expectation - x).pow(2).mean().item(), rel=1e-5)
    assert m["mse_expectation"] != pytest.approx(m["mse"], rel=1e-3)  # a wide fixed scale: the two differ
    assert evaluate(model, digits.x_test, batch_size=100, iwae_k=4, iwae_n=50) == m  # seeded: repeatable
    model.eval()


def test_the_elbo_on_the_iwae_subset_is_the_elbo_of_those_images(fitted_vae, digits):
    _, model = fitted_vae
    x = digits.x_test
    m = evaluate(model, x, batch_size=30, iwae_k=4, iwae_n=50)
    alone = evaluate(model, x[:50], batch_size=30)  # the same seed: the same draws for the same first images
    assert m["iwae_n"] == 50
    assert m["neg_elbo_iwae_subset"] == pytest.approx(alone["neg_elbo"], rel=1e-12)
    assert m["bits_per_dim_iwae_subset"] == pytest.approx(alone["bits_per_dim"], rel=1e-12)
    assert m["neg_elbo_iwae_subset"] != pytest.approx(m["neg_elbo"], rel=1e-4)  # not the whole set's
    rest = evaluate(model, x[50:], batch_size=30, seed=1)
    # the whole set's -ELBO averages the subset's and the rest's (the rest's noise drawn afresh: MC error only)
    assert m["neg_elbo"] == pytest.approx((50 * m["neg_elbo_iwae_subset"] + (len(x) - 50) * rest["neg_elbo"]) / len(x),
                                          abs=0.5)
    with pytest.raises(ValueError, match="iwae_k=0"):
        evaluate(model, x, iwae_k=4, iwae_n=0)


def test_evaluate_vqvae_metrics(fitted_vqvae, digits):
    cfg, model = fitted_vqvae
    m = evaluate(model, digits.x_test)
    assert m["model"] == "vqvae"
    assert 1.0 <= m["perplexity"] <= cfg.num_codes
    assert m["codes_used"] == pytest.approx((cfg.num_codes - m["dead_codes"]) / cfg.num_codes)
    idx = model.encode_indices(to_float(digits.x_test))
    assert m["dead_codes"] == cfg.num_codes - len(idx.unique())
    assert m["psnr"] == pytest.approx(psnr(m["mse"]))
    assert "neg_elbo" not in m and "mse_expectation" not in m  # no prior: no p(x|z), so no E[x|z]


def _cli(*args):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "vae_core.evaluate", *map(str, args)], check=False,
                          capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)


@pytest.mark.slow
def test_evaluate_cli_json_for_a_vae(fitted_vae, tmp_path):
    cfg, model = fitted_vae
    save_checkpoint(tmp_path / "vae", model, cfg)
    r = _cli(tmp_path / "vae", "--json", "--iwae-k", 8, "--iwae-n", 20)
    assert r.returncode == 0, r.stderr
    lines = [ln for ln in r.stdout.splitlines() if ln.strip()]
    assert len(lines) == 1  # only the JSON object on stdout
    m = json.loads(lines[0])
    assert isinstance(m, dict) and not any(isinstance(v, (dict, list)) for v in m.values())  # flat
    for key in ("neg_elbo", "recon", "kl", "bits_per_dim", "iwae_nll", "iwae_k", "mse", "psnr", "mse_expectation",
                "neg_elbo_iwae_subset", "bits_per_dim_iwae_subset"):
        assert key in m, key
    assert m["iwae_k"] == 8
    assert m["bits_per_dim"] == pytest.approx(m["neg_elbo"] / (64 * math.log(2)))  # D = 1 x 8 x 8
    assert m["neg_elbo"] == pytest.approx(evaluate(model, _digits_test(cfg), iwae_k=8, iwae_n=20)["neg_elbo"])
    assert m["neg_elbo_iwae_subset"] == pytest.approx(evaluate(model, _digits_test(cfg)[:20])["neg_elbo"])


def _digits_test(cfg):
    from vae_core.data import load_dataset

    return load_dataset(cfg.data, seed=cfg.seed, log=lambda *a: None).x_test


@pytest.mark.slow
def test_evaluate_cli_json_for_a_vqvae(fitted_vqvae, tmp_path):
    cfg, model = fitted_vqvae
    save_checkpoint(tmp_path / "vq", model, cfg)
    r = _cli(tmp_path / "vq", "--json", "--iwae-k", 8, "--iwae-n", 20)
    assert r.returncode == 0, r.stderr
    m = json.loads(r.stdout)
    for key in ("perplexity", "codes_used", "dead_codes", "mse", "psnr"):
        assert key in m, key
    assert isinstance(m["dead_codes"], int) and 0 <= m["codes_used"] <= 1
    assert "neg_elbo" not in m and "iwae_nll" not in m


@pytest.mark.slow
def test_evaluate_cli_errors_are_one_clear_line(fitted_vae, tmp_path):
    (tmp_path / "empty").mkdir()
    r = _cli(tmp_path / "empty", "--json")
    assert r.returncode == 1 and "error:" in r.stderr and "missing model.safetensors" in r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""
    cfg, model = fitted_vae
    save_checkpoint(tmp_path / "vae", model, cfg)
    r = _cli(tmp_path / "vae", "--data", tmp_path / "no-such-data")
    assert r.returncode == 1 and "no-such-data: not found" in r.stderr and "Traceback" not in r.stderr


def test_evaluate_answers_quickly_by_default_and_full_is_the_tables_protocol():
    from vae_core.evaluate import FULL, QUICK, parse_args, protocol

    settings = lambda a: {key: getattr(a, key) for key in FULL}  # noqa: E731
    quick, full = parse_args(["CKPT"]), parse_args(["CKPT", "--full"])
    assert settings(quick) == QUICK and protocol(quick) == "quick"
    assert settings(full) == FULL and protocol(full) == "full"
    assert FULL["test_n"] == 0 and FULL["iwae_k"] == 1000 and FULL["iwae_n"] == 1000 and FULL["sample_n"] == 5000
    assert all(QUICK[key] < FULL[key] for key in ("iwae_k", "iwae_n", "sample_n")) and QUICK["test_n"] > 0
    mixed = parse_args(["CKPT", "--full", "--iwae-k", "10"])  # a flag beside --full overrides its value
    assert settings(mixed) == {**FULL, "iwae_k": 10} and protocol(mixed) == "custom"


def test_each_figure_comes_with_its_standard_error_over_the_images(fitted_vae, digits):
    _, model = fitted_vae
    x = digits.x_test
    m = evaluate(model, x, batch_size=100, iwae_k=4, iwae_n=50)
    xf = to_float(x)
    per_image = (model.reconstruct(xf) - xf).pow(2).flatten(1).mean(1).double()
    assert m["mse_se"] == pytest.approx((per_image.std() / math.sqrt(len(x))).item(), rel=1e-4)
    for key in ("neg_elbo", "recon", "kl", "iwae_nll", "mse_expectation"):
        assert 0 < m[f"{key}_se"] < abs(m[key]), key
    assert m["neg_elbo_se"] > m["kl_se"]  # the sum's spread is mostly the reconstruction's


def test_a_vaes_evaluation_terms_are_its_losss_terms_per_image(fitted_vae, digits):
    _, model = fitted_vae
    x = to_float(digits.x_test[:40])
    with torch.no_grad():
        terms = model.evaluation_terms(x, torch.Generator().manual_seed(3))
        loss = model.loss(x, torch.Generator().manual_seed(3))
    assert terms.bound and set(terms.nats) == {"recon", "kl"} and terms.nats["recon"].shape == (40,)
    for key in ("recon", "kl"):
        assert terms.nats[key].mean().item() == pytest.approx(loss[key].item(), rel=1e-5)
    torch.testing.assert_close(terms.location, model.reconstruct(x))
