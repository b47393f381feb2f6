"""Sample-quality figures of a model: seeded, near the floor for samples that are real images, worse for blurred
ones; evaluate's keys, notes and --update on tiny checkpoints."""
import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vae_core import build_model, save_checkpoint
from vae_core.evaluate import main as evaluate_main
from vae_core.evaluation.classifier import save_classifier
from vae_core.evaluation.sample_figures import sample_figures
from vae_core.evaluation.samples import merge_into, sample_metrics
from vae_core.train_classifier import train_classifier

pytestmark = pytest.mark.usefixtures("vc_one_thread")
N = 300
KEYS = {"sample_fd", "sample_precision", "sample_recall", "sample_floor_fd", "sample_n", "sample_k",
        "classifier_accuracy"}


@pytest.fixture(scope="module")
def clf(digits):
    return train_classifier(digits, epochs=6, lr=5e-3, log=lambda *a: None)


class ImagesModel:
    """Samples that are training images drawn at random, blurred (3x3 box filter) when `blur`."""

    cfg = SimpleNamespace(model="vae")

    def __init__(self, x: np.ndarray, blur: bool = False):
        self.x, self.blur = torch.from_numpy(x).float() / 255, blur

    def sample(self, n, generator=None, prior="default"):
        x = self.x[torch.randint(0, len(self.x), (n,), generator=generator)]
        blur = self.blur or prior == "standard"
        return F.avg_pool2d(x, 3, 1, 1, count_include_pad=False) if blur else x


class FittedPriorModel(ImagesModel):
    fitted_prior = object()  # as a VAE with a fitted prior: model.sample(..., prior="standard") draws N(0, I)


def test_figures_are_seeded_and_real_images_score_at_the_floor_blurred_ones_worse(clf, digits):
    real = ImagesModel(digits.x_train)
    a = sample_figures(real, clf, digits.x_test, digits.x_train, n=N, seed=0)
    assert KEYS <= set(a) and a["sample_n"] == N and a["sample_k"] == 3
    assert a == sample_figures(real, clf, digits.x_test, digits.x_train, n=N, seed=0)
    assert a["sample_fd"] != sample_figures(real, clf, digits.x_test, digits.x_train, n=N, seed=1)["sample_fd"]
    assert a["classifier_accuracy"] == clf.test_accuracy
    assert a["sample_fd"] < 1.5 * a["sample_floor_fd"]  # samples drawn from the training images: the floor itself
    assert abs(a["sample_recall"] - a["sample_floor_recall"]) < 0.1
    blurred = sample_figures(ImagesModel(digits.x_train, blur=True), clf, digits.x_test, digits.x_train, n=N)
    assert blurred["sample_floor_fd"] == a["sample_floor_fd"]
    assert blurred["sample_fd"] > 3 * a["sample_fd"]
    assert blurred["sample_recall"] < a["sample_recall"] - 0.1


def test_a_fitted_prior_brings_the_standard_normal_figures_beside(clf, digits):
    m = sample_metrics(FittedPriorModel(digits.x_train), clf, "", digits.x_test, digits.x_train, n=N)
    assert m["sample_prior"] == "fitted"
    assert m["sample_fd_standard"] > 3 * m["sample_fd"]  # the standard draws here are the blurred ones
    plain = sample_metrics(ImagesModel(digits.x_train), clf, "", digits.x_test, digits.x_train, n=N)
    assert "sample_fd_standard" not in plain and plain["sample_fd"] == m["sample_fd"]
    assert sample_metrics(ImagesModel(digits.x_train), None, "no classifier", digits.x_test, digits.x_train) == {
        "sample_note": "no classifier"}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory, tiny_cfg, clf):
    out = tmp_path_factory.mktemp("ckpts")
    torch.manual_seed(0)
    for name, cfg in (("vae", tiny_cfg()), ("vqvae", tiny_cfg(model="vqvae"))):
        save_checkpoint(out / name, build_model(cfg).eval(), cfg)
    save_classifier(out / "vae" / "classifier", clf)
    save_checkpoint(out / "bare", build_model(tiny_cfg()).eval(), tiny_cfg())  # no classifier anywhere
    return out


def run_json(capsys, *argv) -> dict:
    evaluate_main([*map(str, argv), "--json", "--iwae-k", "0"])
    return json.loads(capsys.readouterr().out)


def test_evaluate_json_has_the_sample_keys_beside_the_test_metrics(checkpoints, capsys):
    m = run_json(capsys, checkpoints / "vae", "--sample-n", 100)
    assert KEYS <= set(m) and "neg_elbo" in m and m["sample_n"] == 100
    assert "sample_fd" not in run_json(capsys, checkpoints / "vae", "--sample-n", 0)


def test_evaluate_notes_why_the_figures_are_skipped(checkpoints, capsys):
    m = run_json(capsys, checkpoints / "bare", "--sample-n", 100)
    assert "sample_fd" not in m and "no classifier for digits" in m["sample_note"]
    assert "train_classifier --data digits" in m["sample_note"]
    m = run_json(capsys, checkpoints / "vqvae", "--sample-n", 100, "--classifier", checkpoints / "vae" / "classifier")
    assert "cannot sample" in m["sample_note"] and "train_prior" in m["sample_note"]


def test_samples_only_update_merges_into_eval_json(checkpoints, capsys, tmp_path):
    path = tmp_path / "eval.json"
    path.write_text(json.dumps({"mse": 0.5, "sample_fd": 99.0, "sample_fd_standard": 1.0}))
    m = run_json(capsys, checkpoints / "vae", "--samples-only", "--sample-n", 100, "--update", path)
    assert "neg_elbo" not in m and KEYS <= set(m)
    saved = json.loads(path.read_text())
    assert saved["mse"] == 0.5 and saved["sample_fd"] == m["sample_fd"] != 99.0
    assert "sample_fd_standard" not in saved  # an earlier run's figure this one did not make is dropped
    path.write_text("[1]")
    with pytest.raises(ValueError, match="not a JSON object"):
        merge_into(path, m)
