"""The sample-quality classifier: its folder round trip, features, what it refuses, and finding one for a data set."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vae_core.evaluation.classifier import (
    Classifier,
    ClassifierConfig,
    ClassifierError,
    load_classifier,
    save_classifier,
)
from vae_core.evaluation.classifier_lookup import find_classifier

pytestmark = pytest.mark.usefixtures("vc_one_thread")
ROOT = Path(__file__).resolve().parents[2]


def tiny(shape=(1, 8, 8), accuracy=0.5) -> Classifier:
    torch.manual_seed(0)
    return Classifier(ClassifierConfig(image_shape=shape, width=4, features=12, data="digits",
                                       test_accuracy=accuracy)).eval()


def test_save_and_load_give_the_same_features_and_record(tmp_path):
    clf = tiny(accuracy=0.875)
    save_classifier(tmp_path / "clf", clf)
    assert sorted(p.name for p in (tmp_path / "clf").iterdir()) == ["config.json", "model.safetensors"]
    back = load_classifier(tmp_path / "clf")
    x = torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    assert back.test_accuracy == 0.875 and back.cfg.data == "digits" and back.image_shape == (1, 8, 8)
    assert torch.equal(back.features(x), clf.features(x))
    assert back.features(x).shape == (5, 12)


def test_features_refuse_another_image_shape_saying_which_it_takes():
    with pytest.raises(ClassifierError, match=r"\(N, 1, 8, 8\).*got \(2, 3, 8, 8\)"):
        tiny().features(torch.rand(2, 3, 8, 8))
    with pytest.raises(ClassifierError, match="divide uint8 images by 255"):
        tiny().features(torch.zeros(2, 1, 8, 8, dtype=torch.uint8))


def test_loading_says_what_to_do_when_the_folder_is_not_a_classifier(tmp_path):
    with pytest.raises(ClassifierError, match="train_classifier"):
        load_classifier(tmp_path / "none")
    (tmp_path / "pickled").mkdir()
    (tmp_path / "pickled" / "model.pt").write_bytes(b"x")
    with pytest.raises(ClassifierError, match="pickle files are never loaded"):
        load_classifier(tmp_path / "pickled")
    save_classifier(tmp_path / "c", tiny())
    (tmp_path / "c" / "config.json").write_text(json.dumps({"kind": "vae"}))
    with pytest.raises(ClassifierError, match="not a classifier's config"):
        load_classifier(tmp_path / "c")


def test_the_shipped_fashion_classifier_records_its_test_accuracy():
    clf = load_classifier(ROOT / "classifiers" / "fashion-mnist")
    assert clf.image_shape == (1, 28, 28) and clf.cfg.data == "fashion-mnist"
    assert 0.88 <= clf.test_accuracy <= 1.0
    assert (ROOT / "classifiers" / "fashion-mnist" / "model.safetensors").stat().st_size < 1 << 20


def test_find_classifier_looks_beside_the_checkpoint_and_skips_with_a_note(tmp_path):
    save_classifier(tmp_path / "ckpt" / "classifier", tiny())
    clf, note = find_classifier("digits", (1, 8, 8), checkpoint=tmp_path / "ckpt")
    assert clf is not None and "test accuracy 0.5000" in note
    clf, note = find_classifier("digits", (1, 16, 16), checkpoint=tmp_path / "ckpt")
    assert clf is None and "takes images of (1, 8, 8)" in note and "train_classifier --data digits" in note
    clf, note = find_classifier(str(tmp_path / "unlabelled"), (1, 8, 8), has_labels=False)
    assert clf is None and "has no labels" in note
    with pytest.raises(ClassifierError, match="takes images of"):
        find_classifier("digits", (1, 16, 16), folder=tmp_path / "ckpt" / "classifier")


@pytest.mark.slow
def test_training_refuses_data_without_labels(tmp_path):
    import numpy as np

    np.savez(tmp_path / "plain.npz", x=np.zeros((20, 8, 8), dtype=np.uint8))
    r = subprocess.run([sys.executable, "-m", "vae_core.train_classifier", "--data", str(tmp_path / "plain.npz"),
                        "--out", str(tmp_path / "c")], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 1 and "has no labels" in r.stderr
    assert not (tmp_path / "c").exists()
