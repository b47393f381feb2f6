"""The prior over VQ-VAE code grids: causality, normalisation, sampling (seeded, greedy, from a prefix), its trainer
(exact resume), load() and sample() of both model kinds, and the VQ-VAE's likelihood bound in evaluate."""
import itertools
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import vae_core.train_prior
from vae_core import CodePrior, Config, NoPriorError, build_model, load
from vae_core.checkpoint import StalePriorError, load_prior, save_checkpoint
from vae_core.data import hold_out
from vae_core.evaluation.report import evaluate
from vae_core.train import train
from vae_core.train_prior import prior_config, train_prior

pytestmark = pytest.mark.usefixtures("vc_one_thread")
ROOT = Path(__file__).resolve().parents[2]
TIMING = {"seconds", "grids_per_sec"}


def quiet(*args):
    pass


def random_prior(num_codes=16, image_size=12, seed=0) -> CodePrior:
    """A prior whose weights are large enough that every input moves the outputs (std 0.02 would be ~uniform)."""
    torch.manual_seed(seed)
    prior = CodePrior(Config(model="prior", num_codes=num_codes, image_size=image_size, prior_dim=16,
                             prior_layers=2, prior_heads=2))
    with torch.no_grad():
        for p in prior.parameters():
            p.normal_(0, 0.5)
    return prior.eval()


def grids(prior, n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, prior.num_codes, (n, prior.h, prior.w), generator=g)


# --- the model ------------------------------------------------------------------------------------------
def test_changing_a_cell_changes_only_the_conditionals_after_it():
    prior = random_prior()  # 3x3 grid, K = 16
    grid = grids(prior, 1)
    base = prior.conditionals(grid)[0]  # (N, K)
    for s in range(prior.num_cells):
        edited = grid.clone().view(1, -1)
        edited[0, s] = (edited[0, s] + 1) % prior.num_codes
        after = prior.conditionals(edited.view_as(grid))[0]
        torch.testing.assert_close(after[:s + 1], base[:s + 1])  # cell s and those before it: unchanged
        if s + 1 < prior.num_cells:
            assert (after[s + 1:] - base[s + 1:]).abs().max() > 1e-3  # the cells after it do see it


def test_log_prob_is_the_sum_of_the_conditionals():
    prior = random_prior()
    grid = grids(prior, 3)
    total = torch.zeros(3)
    for t in range(prior.num_cells):
        row, col = divmod(t, prior.w)
        p = prior.conditional(grid, row, col)  # (B, K): the cell's distribution given the cells before it
        torch.testing.assert_close(p.sum(1), torch.ones(3))
        total += p.gather(1, grid[:, row, col, None]).squeeze(1).log()
    torch.testing.assert_close(prior.log_prob(grid), total, rtol=1e-5, atol=1e-4)
    assert prior.conditional(grid[0], 1, 2).shape == (prior.num_codes,)  # one grid in, one distribution out


def test_probabilities_of_all_grids_sum_to_one():
    prior = random_prior(num_codes=3, image_size=8)  # 2x2 grid: 3^4 = 81 grids
    every = torch.tensor(list(itertools.product(range(3), repeat=4))).view(-1, 2, 2)
    assert prior.log_prob(every).exp().sum().item() == pytest.approx(1.0, abs=1e-5)


def test_sampling_with_a_seed_is_reproducible_and_seeds_differ():
    prior = random_prior()
    a = prior.sample(8, torch.Generator().manual_seed(3))
    torch.testing.assert_close(a, prior.sample(8, torch.Generator().manual_seed(3)))
    assert not torch.equal(a, prior.sample(8, torch.Generator().manual_seed(4)))
    assert a.shape == (8, 3, 3) and a.dtype == torch.long and 0 <= a.min() and a.max() < prior.num_codes


def test_top_k_1_is_greedy():
    """The cached step-by-step sampler with top_k = 1 takes the argmax of each full-forward conditional."""
    prior = random_prior()
    sampled = prior.sample(1, torch.Generator().manual_seed(0), top_k=1)[0]
    greedy = torch.zeros(prior.h, prior.w, dtype=torch.long)
    for t in range(prior.num_cells):
        row, col = divmod(t, prior.w)
        greedy[row, col] = prior.conditional(greedy, row, col).argmax()
    torch.testing.assert_close(sampled, greedy)


def test_sampling_from_a_cell_keeps_the_cells_before_it():
    prior = random_prior()
    prefix = grids(prior, 1)[0]
    start = (1, 1)  # raster index 4
    s = prior.sample(16, torch.Generator().manual_seed(0), prefix=prefix, start=start).view(16, -1)
    assert (s[:, :4] == prefix.view(-1)[:4]).all()
    assert len({tuple(r) for r in s[:, 4:].tolist()}) > 1  # the rest is drawn anew
    greedy = prior.sample(1, prefix=prefix, start=4, top_k=1).view(-1)
    assert greedy[4] == prior.conditional(prefix, 1, 1).argmax()  # given the kept cells, not the old ones after
    with pytest.raises(ValueError, match="prefix"):
        prior.sample(2, start=3)


# --- trainer, load, evaluate --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_vq(tmp_path_factory, vc_one_thread):
    """A tiny digits VQ-VAE checkpoint (8x8 images: 2x2 code grids of K = 16) without a prior."""
    out = tmp_path_factory.mktemp("vq") / "vq"
    cfg = Config(model="vqvae", width=8, num_codes=16, code_dim=8, channels=1, image_size=8, data="digits",
                 epochs=1, batch_size=32)
    train(cfg, out, device="cpu", log=quiet)
    return out


def copy_of(folder: Path, tmp_path: Path, name: str) -> Path:
    shutil.copytree(folder, tmp_path / name)
    return tmp_path / name


def tiny_prior_cfg(vq_folder, **overrides):
    return prior_config(load(vq_folder).cfg, **{"epochs": 2, "batch_size": 32, "prior_dim": 16, "prior_layers": 2,
                                                "prior_heads": 2, "lr": 3e-3, **overrides})


def test_a_vq_vae_without_a_prior_says_how_to_train_one(tiny_vq):
    vq = load(tiny_vq)
    assert vq.prior is None
    with pytest.raises(NoPriorError, match=f"python -m vae_core.train_prior {tiny_vq}"):
        vq.sample(2)


def test_train_prior_writes_a_checkpoint_that_load_attaches(tiny_vq, tmp_path, digits):
    ckpt = copy_of(tiny_vq, tmp_path, "vq")
    metrics = train_prior(ckpt, tiny_prior_cfg(ckpt), device="cpu", log=quiet)
    names = {p.name for p in (ckpt / "prior").iterdir()}
    assert {"config.json", "model.safetensors", "training_state.safetensors", "history.jsonl", "samples.png"} <= names
    history = [json.loads(ln) for ln in (ckpt / "prior" / "history.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == [1, 2] and history[-1] == metrics
    assert history[1]["prior_nll"] < history[0]["prior_nll"]  # it learns
    vq = load(ckpt)
    assert isinstance(vq.prior, CodePrior) and not vq.prior.training
    assert "prior.tok_emb.weight" not in vq.state_dict()  # the VQ-VAE's own weights stay its own
    # sample() is the prior's grid, decoded
    images = vq.sample(5, torch.Generator().manual_seed(1))
    grid = vq.prior.sample(5, torch.Generator().manual_seed(1))
    torch.testing.assert_close(images, vq.decode_indices(grid))
    assert images.shape == (5, 1, 8, 8) and 0 <= images.min() and images.max() <= 1
    # the bound: -log p(x) <= recon + prior_nll, with the decoder scale fitted on the training split; trained on
    # the images the VQ-VAE trained on, evaluated each epoch on the images it held out
    assert metrics["split"] == "validation" and vq.prior.cfg.validation == vq.cfg.validation > 0
    m = evaluate(vq, hold_out(digits, vq.cfg.validation, vq.cfg.seed).x_val)
    assert m["prior_nll"] == pytest.approx(metrics["prior_nll"], rel=1e-5)
    assert m["recon"] == pytest.approx(metrics["recon"], rel=1e-5)
    assert m["neg_elbo"] == pytest.approx(m["recon"] + m["prior_nll"]) and m["neg_elbo"] >= m["recon"]
    assert m["prior_nll"] > 0 and m["code_length"] is True
    assert m["bits_per_dim"] == pytest.approx(m["neg_elbo"] / (64 * 0.6931471805599453))
    scale = vq.prior.decoder_likelihood.log_scale
    assert not torch.allclose(scale, scale.flatten()[0])  # fitted per pixel, not left at its initial value


@pytest.mark.slow
def test_resuming_the_prior_reproduces_an_uninterrupted_run(tiny_vq, tmp_path, monkeypatch):
    whole, split = copy_of(tiny_vq, tmp_path, "whole"), copy_of(tiny_vq, tmp_path, "split")
    train_prior(whole, tiny_prior_cfg(whole, prior_dropout=0.1), device="cpu", log=quiet)
    save = vae_core.train_prior.save_epoch

    def save_then_stop(*args, **kwargs):  # Ctrl-C right after epoch 1 is saved
        save(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(vae_core.train_prior, "save_epoch", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        train_prior(split, tiny_prior_cfg(split, prior_dropout=0.1), device="cpu", log=quiet)
    monkeypatch.setattr(vae_core.train_prior, "save_epoch", save)
    logs = []
    train_prior(split, resume=True, device="cpu", log=logs.append)  # the settings saved with the prior
    assert any("resuming" in m and "after epoch 1" in m for m in logs)
    a, b = (load_file(str(f / "prior" / "model.safetensors")) for f in (whole, split))
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
    h = [[{k: v for k, v in json.loads(ln).items() if k not in TIMING}
          for ln in (f / "prior" / "history.jsonl").read_text().splitlines()] for f in (whole, split)]
    assert h[0] == h[1] and len(h[0]) == 2


def test_resaving_the_vq_vaes_weights_changed_makes_load_refuse_the_prior(tiny_vq, tmp_path, digits):
    ckpt = copy_of(tiny_vq, tmp_path, "vq")
    train_prior(ckpt, tiny_prior_cfg(ckpt, epochs=1), device="cpu", log=quiet)
    vq = load(ckpt)
    assert vq.prior is not None and "prior_nll" in evaluate(vq, digits.x_test[:50])
    with torch.no_grad():
        vq.decoder[0].weight.add_(0.01)  # as retraining or resuming the VQ-VAE would change them
    save_checkpoint(ckpt, vq, vq.cfg)
    stale = load(ckpt)  # the VQ-VAE still loads, without the prior
    assert stale.prior is None and f"python -m vae_core.train_prior {ckpt}" in stale.prior_problem
    with pytest.raises(NoPriorError, match="other VQ-VAE weights"):  # no sampling
        stale.sample(2)
    assert "prior_nll" not in evaluate(stale, digits.x_test[:50])  # and no bound
    with pytest.raises(StalePriorError, match=f"python -m vae_core.train_prior {ckpt}"):
        load_prior(ckpt, stale)
    with pytest.raises(vae_core.train_prior.TrainingError, match="other weights"):  # resuming would mix the two
        train_prior(ckpt, resume=True, device="cpu", log=quiet)


def test_a_prior_that_records_no_weights_is_stale(tiny_vq, tmp_path):
    ckpt = copy_of(tiny_vq, tmp_path, "vq")
    train_prior(ckpt, tiny_prior_cfg(ckpt, epochs=1), device="cpu", log=quiet)
    cfg = json.loads((ckpt / "prior" / "config.json").read_text())
    del cfg["record"]["trained_on"]  # as priors saved before they recorded it
    (ckpt / "prior" / "config.json").write_text(json.dumps(cfg))
    vq = load(ckpt)
    assert vq.prior is None and "records no VQ-VAE weights" in vq.prior_problem
    assert f"python -m vae_core.train_prior {ckpt}" in vq.prior_problem


def test_the_shipped_prior_records_the_weights_beside_it():
    shipped = ROOT / "checkpoints" / "fashion-vqvae"
    if not (shipped / "prior").exists():
        pytest.skip("no shipped VQ-VAE prior")
    from vae_core.checkpoint import weights_sha256

    recorded = json.loads((shipped / "prior" / "config.json").read_text())["record"]["trained_on"]
    assert recorded == weights_sha256(shipped / "model.safetensors")


def test_the_prior_budget_counts_from_the_start_not_from_after_the_encoding(tiny_vq, tmp_path):
    """--time-budget covers encoding the codes and fitting the decoder scale: a budget that ran out before the call
    (as after a long encoding) leaves one epoch, not the cap."""
    ckpt = copy_of(tiny_vq, tmp_path, "vq")
    metrics = train_prior(ckpt, tiny_prior_cfg(ckpt, epochs=20, time_budget=5.0), device="cpu", log=quiet,
                          started=time.time() - 60)
    assert metrics["epoch"] == 1


@pytest.mark.slow
def test_the_command_line_refuses_to_overwrite_a_prior(tiny_vq, tmp_path):
    ckpt = copy_of(tiny_vq, tmp_path, "vq")
    train_prior(ckpt, tiny_prior_cfg(ckpt, epochs=1), device="cpu", log=quiet)
    out = subprocess.run([sys.executable, "-m", "vae_core.train_prior", str(ckpt)], check=False, cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "already holds a prior" in out.stderr and "--resume" in out.stderr


# --- sample() of a VAE ------------------------------------------------------------------------------------
def test_vae_sample_scales_z_by_the_temperature_and_refuses_top_k(tiny_cfg):
    torch.manual_seed(0)
    vae = build_model(tiny_cfg(model="vae")).eval()
    z = torch.randn(4, vae.cfg.latent_dim, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(vae.sample(4, torch.Generator().manual_seed(2), temperature=0.5),
                               vae.decode_location(0.5 * z))
    with pytest.raises(ValueError, match="top_k"):
        vae.sample(4, top_k=5)


def test_the_pure_step_gives_the_logits_of_the_whole_sequence_one_cell_at_a_time(tiny_cfg):
    """step(token, pos, keys, values), fed its own keys and values back, gives at each position what
    logits(inputs) gives for the whole sequence at once: the cached step the static page runs, as a function."""
    from vae_core import build_model

    torch.manual_seed(0)
    prior = build_model(prior_config(tiny_cfg(model="vqvae"), prior_layers=2, prior_heads=2, prior_dim=16)).eval()
    grid = torch.randint(0, prior.num_codes, (3, prior.h, prior.w))
    inputs = prior.inputs(grid)
    with torch.no_grad():
        whole = prior.logits(inputs)
        shape = (prior.cfg.prior_layers, 3, prior.cfg.prior_heads, prior.num_cells, 16 // prior.cfg.prior_heads)
        keys, values = torch.zeros(shape), torch.zeros(shape)
        for t in range(prior.num_cells):
            logits, keys, values = prior.step(inputs[:, t], torch.tensor(t), keys, values)
            assert torch.allclose(logits, whole[:, t], atol=1e-5), t
