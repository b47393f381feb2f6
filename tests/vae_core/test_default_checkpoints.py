"""The shipped checkpoints load, reconstruct test images within their recorded metrics, and start warm."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from vae_core import load
from vae_core.data import load_dataset
from vae_core.evaluation.report import evaluate

ROOT = Path(__file__).resolve().parents[2]
CKPTS = sorted(p for p in (ROOT / "checkpoints").glob("*/") if (p / "config.json").exists())
pytestmark = pytest.mark.skipif(not CKPTS or not Path("/usr/share/datasets/fashion-mnist").exists(),
                                reason="needs the default checkpoints and Fashion-MNIST")


def test_the_three_defaults_are_there():
    assert {p.name for p in CKPTS} >= {"fashion-vae", "fashion-vqvae", "fashion-vae-2d"}


@pytest.mark.slow
@pytest.mark.parametrize("path", CKPTS, ids=lambda p: p.name)
def test_checkpoint_reconstructs_within_recorded_metrics(path):
    """The first 1,000 test images (evaluate batches them apart and records their -ELBO, seeded: the same draws
    again) give the recorded -ELBO on them, and an MSE near the whole split's."""
    model = load(path)
    recorded = json.loads((path / "eval.json").read_text())  # evaluate's figures on the test split
    data = load_dataset(model.cfg.data, channels=model.cfg.channels, image_size=model.cfg.image_size,
                        log=lambda *a: None)
    assert len(data.x_test) == recorded["n_images"] == 10000 and recorded["iwae_n"] == 1000
    m = evaluate(model, data.x_test[:1000])
    assert m["neg_elbo"] == pytest.approx(recorded["neg_elbo_iwae_subset"], rel=1e-3)
    assert m["mse"] == pytest.approx(recorded["mse"], rel=0.1)  # a tenth of the images: within about 4 SE
    if model.cfg.model == "vqvae":
        assert m["codes_used"] >= 0.9


@pytest.mark.parametrize("path", [p for p in CKPTS if (p / "eval.json").exists()], ids=lambda p: p.name)
def test_recorded_bits_per_dim_are_plausible_code_lengths(path):
    """-log2 p(x) per pixel of 8-bit Fashion-MNIST: the best published density models (autoregressive models and
    flows) reach about 2.9 bits/dim, so a VAE below 2.5 would be a bug in the likelihood, not a result."""
    m = json.loads((path / "eval.json").read_text())
    if m["model"] == "vqvae":  # with a prior: -log p(x) <= recon + prior_nll at the encoder's grid, and the IWAE
        if "bits_per_dim" in m:  # bound over grids near it, on the first 1,000 images, is tighter on exactly them
            assert m["code_length"] is True and m["prior_nll"] > 0
            assert m["neg_elbo"] == pytest.approx(m["recon"] + m["prior_nll"])
            assert 2.5 < m["iwae_bits_per_dim"] < m["bits_per_dim_iwae_subset"] < 8.0
            assert m["iwae_k"] == 1000 and m["iwae_n"] == 1000
        return
    assert m["code_length"] is True
    assert 2.5 < m["iwae_bits_per_dim"] <= m["bits_per_dim"] < 8.0
    assert m["iwae_nll"] <= m["neg_elbo"]  # IWAE with k = 1000 is the tighter bound


@pytest.mark.parametrize("path", [p for p in CKPTS if (p / "eval.json").exists()], ids=lambda p: p.name)
def test_recorded_sample_figures_lie_above_their_floor_with_the_shipped_classifier(path):
    from vae_core.evaluation.classifier import load_classifier

    m = json.loads((path / "eval.json").read_text())
    assert m["sample_n"] == 5000 and m["sample_k"] == 3
    assert m["classifier_accuracy"] == load_classifier(ROOT / "classifiers" / "fashion-mnist").test_accuracy
    assert 0 < m["sample_floor_fd"] < m["sample_fd"]
    assert 0 <= m["sample_precision"] <= 1 and 0 <= m["sample_recall"] <= m["sample_floor_recall"] <= 1


def test_committed_files_are_under_10_mb():
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, check=False, capture_output=True, text=True).stdout.split()
    big = [f for f in files if (ROOT / f).exists() and (ROOT / f).stat().st_size > 10 * 1024 * 1024]
    assert not big


@pytest.mark.slow
def test_warm_start_neither_imports_nor_fits_umap():
    code = ("import sys; from explorer.service.explorer import Explorer; ex = Explorer(['checkpoints']);\n"
            "[ex.store.latent_view(n) for n in ex.store.names('vae')]; [ex.store.codebook_view(n) for n in "
            "ex.store.names('vqvae')]; print('umap' in sys.modules, len(ex.store.registry.found))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=False, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", str(len(CKPTS))]
