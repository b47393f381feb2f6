"""The sample-quality benchmark, briefly: tiny digits checkpoints side by side, and its table."""
import pytest
import torch

from tests.benchmark_module import load_benchmark
from vae_core import build_model, save_checkpoint
from vae_core.evaluation.classifier import Classifier, ClassifierConfig, save_classifier

pytestmark = pytest.mark.usefixtures("vc_one_thread")


def test_the_models_are_scored_side_by_side_with_the_floor_and_a_note_for_one_that_cannot_sample(tmp_path, tiny_cfg):
    bench = load_benchmark("sample_quality_benchmark")
    torch.manual_seed(0)
    for name, cfg in (("vae", tiny_cfg()), ("vq", tiny_cfg(model="vqvae"))):
        save_checkpoint(tmp_path / name, build_model(cfg).eval(), cfg)
    save_classifier(tmp_path / "vae" / "classifier",
                    Classifier(ClassifierConfig(image_shape=(1, 8, 8), width=4, features=8, test_accuracy=0.75)))
    r = bench.run([tmp_path / "vae", tmp_path / "vq"], n=40, log=lambda *a: None)
    vae, vq = r["rows"]
    assert vae["checkpoint"] == "vae" and vae["sampled"] == "z ~ N(0, I)" and vae["fd"] >= r["floor"]["fd"]
    assert "cannot sample" in vq["note"]
    text = bench.table(r)
    assert "test accuracy 75.0%" in text and "| `vae` | z ~ N(0, I) |" in text and "Floor (40 training" in text
