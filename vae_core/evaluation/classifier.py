"""A small image classifier whose penultimate layer is the feature space of the sample-quality figures.

    x (C x H x W in [0, 1]) -> conv3x3(16) ReLU maxpool2 -> conv3x3(32) ReLU maxpool2 -> linear(128) ReLU = f(x)
                            -> linear(classes) = logits

`features(x)` is f(x), the 128 activations the Frechet distance and the k-NN precision/recall compare
(vae_core.evaluation.sample_quality); the logits only train it (cross-entropy on the labels of the training split).

A classifier is a folder like a checkpoint: `config.json` (the layer sizes, the data set's name, the image shape,
the label names, the recorded test accuracy) + `model.safetensors`, written through the same `.saving/` journal
(vae_core.checkpoint), never pickled. Train one with
    python -m vae_core.train_classifier --data fashion-mnist --out classifiers/fashion-mnist
"""
import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

from .. import __version__
from ..checkpoint import COMPLETE, CONFIG, PICKLE_SUFFIXES, STAGING, WEIGHTS, CheckpointError, read_tensors, recover

KIND = "classifier"  # config.json's "kind": tells a classifier folder from a model checkpoint
TRAIN_COMMAND = "python -m vae_core.train_classifier --data DATA --out FOLDER"


class ClassifierError(CheckpointError):
    """A classifier folder that cannot be loaded, or images it cannot take; the message says what to do."""


@dataclass
class ClassifierConfig:
    """A classifier's layer sizes and what it was trained on and scored; config.json."""

    image_shape: tuple[int, int, int] = (1, 28, 28)  # (C, H, W) of the images it takes
    num_classes: int = 10
    width: int = 16  # channels of the first conv layer (twice as many in the second)
    features: int = 128  # width of the penultimate layer: the feature space
    data: str = ""  # the data set's name (a named set, or the folder/file it was loaded from)
    label_names: list[str] = field(default_factory=list)
    test_accuracy: float = float("nan")  # share of the test split classified right
    validation_accuracy: float = float("nan")  # at the epoch kept (chosen on the validation split)
    epochs: int = 0  # the epoch kept
    version: str = ""  # of vae_core, when saved

    def to_dict(self) -> dict:
        return {"kind": KIND, **asdict(self), "image_shape": list(self.image_shape)}

    @classmethod
    def from_dict(cls, d: dict) -> "ClassifierConfig":
        if d.get("kind") != KIND:
            raise ValueError(f"kind is {d.get('kind')!r}, not {KIND!r}")
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        cfg = cls(**known)
        cfg.image_shape = tuple(int(s) for s in cfg.image_shape)
        if len(cfg.image_shape) != 3 or cfg.image_shape[0] not in (1, 3) or min(cfg.image_shape[1:]) < 4:
            raise ValueError(f"image_shape must be (C, H, W) with C in 1 or 3 and H, W >= 4, got {cfg.image_shape}")
        return cfg


class Classifier(nn.Module):
    """Two conv layers with pooling, a penultimate layer of `features` units, a linear layer to the classes."""

    def __init__(self, cfg: ClassifierConfig):
        super().__init__()
        self.cfg = cfg
        c, h, w = cfg.image_shape
        self.conv1 = nn.Conv2d(c, cfg.width, 3, padding=1)
        self.conv2 = nn.Conv2d(cfg.width, 2 * cfg.width, 3, padding=1)
        self.penultimate = nn.Linear(2 * cfg.width * (h // 4) * (w // 4), cfg.features)
        self.head = nn.Linear(cfg.features, cfg.num_classes)

    @property
    def test_accuracy(self) -> float:
        return self.cfg.test_accuracy

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self.cfg.image_shape

    def check_images(self, x: torch.Tensor) -> None:
        """A ClassifierError unless x is a float batch (N, C, H, W) of this classifier's image shape."""
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or tuple(x.shape[1:]) != self.image_shape:
            shape = tuple(x.shape) if hasattr(x, "shape") else type(x).__name__
            c, h, w = self.image_shape
            raise ClassifierError(f"this classifier takes images shaped (N, {c}, {h}, {w}) (trained on "
                                  f"{self.cfg.data or 'its data set'}), got {shape}: convert the images to "
                                  f"{c}x{h}x{w}, or train a classifier on the model's data set with {TRAIN_COMMAND}")
        if not x.is_floating_point():
            raise ClassifierError(f"images must be floats in [0, 1], got {x.dtype}: divide uint8 images by 255")

    def _penultimate(self, x: torch.Tensor) -> torch.Tensor:
        h = F.max_pool2d(F.relu(self.conv1(x - 0.5)), 2)  # centred pixels: x - 1/2
        h = F.max_pool2d(F.relu(self.conv2(h)), 2)
        return F.relu(self.penultimate(h.flatten(1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (N, classes) of images (N, C, H, W) in [0, 1]."""
        self.check_images(x)
        return self.head(self._penultimate(x))

    @torch.no_grad()
    def features(self, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        """The penultimate activations f(x), (N, features), of images (N, C, H, W) in [0, 1], on the CPU."""
        self.check_images(x)
        was_training = self.training
        self.eval()
        device = next(self.parameters()).device
        out = [self._penultimate(x[i:i + batch_size].to(device).float()).cpu() for i in range(0, len(x), batch_size)]
        self.train(was_training)
        return torch.cat(out) if out else torch.zeros(0, self.cfg.features)


def save_classifier(folder: str | Path, clf: Classifier) -> None:
    """Write config.json + model.safetensors through the `.saving/` journal: a crash leaves one whole folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    recover(folder)
    staging = folder / STAGING
    staging.mkdir()
    clf.cfg.version = __version__
    try:
        weights = {k: v.detach().cpu().contiguous() for k, v in clf.state_dict().items()}
        save_file(weights, str(staging / WEIGHTS), metadata={"format": "vae-explorer-classifier"})
        (staging / CONFIG).write_text(json.dumps(clf.cfg.to_dict(), indent=2))
        for name in (WEIGHTS, CONFIG):
            with open(staging / name, "rb") as f:
                os.fsync(f.fileno())
        (staging / COMPLETE).write_text("classifier")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)  # the previous classifier stays as it was
        raise
    recover(folder)


def is_classifier_folder(folder: str | Path) -> bool:
    """Whether `folder` holds a classifier's config.json (not a model checkpoint's)."""
    try:
        return json.loads((Path(folder) / CONFIG).read_text()).get("kind") == KIND
    except (OSError, ValueError, AttributeError):
        return False


def load_classifier(folder: str | Path, device: str | torch.device = "cpu") -> Classifier:
    """A classifier (eval mode) from its folder; a ClassifierError says what is wrong and what to do."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ClassifierError(f"{folder}: no such classifier folder; train one with {TRAIN_COMMAND}")
    recover(folder)
    if not (folder / WEIGHTS).exists():
        pickles = sorted(p.name for p in folder.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES)
        hint = (f" It holds {pickles}: pickle files are never loaded, since loading them can run code."
                if pickles else "")
        raise ClassifierError(f"{folder}: missing {WEIGHTS}.{hint} Train a classifier with {TRAIN_COMMAND}")
    try:
        cfg = ClassifierConfig.from_dict(json.loads((folder / CONFIG).read_text()))
    except FileNotFoundError as e:
        raise ClassifierError(f"{folder}: missing {CONFIG}; train a classifier with {TRAIN_COMMAND}") from e
    except (json.JSONDecodeError, TypeError, ValueError) as e:
        raise ClassifierError(f"{folder / CONFIG}: not a classifier's config ({e}); train one with "
                              f"{TRAIN_COMMAND}") from e
    clf = Classifier(cfg)
    weights, _ = read_tensors(folder / WEIGHTS)
    expected = clf.state_dict()
    bad = sorted(set(expected) ^ set(weights)) + sorted(k for k in set(expected) & set(weights)
                                                        if expected[k].shape != weights[k].shape)
    if bad:
        raise ClassifierError(f"{folder}: {CONFIG} does not match {WEIGHTS} (tensors {bad[:4]}); retrain it with "
                              f"{TRAIN_COMMAND}")
    clf.load_state_dict(weights)
    return clf.to(device).eval()


__all__ = ["Classifier", "ClassifierConfig", "ClassifierError", "is_classifier_folder", "load_classifier",
           "save_classifier"]
