"""A preview decoder: a small convolutional stand-in for a slow model's decoder (TAESD's shape, narrower), trained by
`python -m explorer.preview` and kept beside the model as preview.safetensors (weights) + preview.json (its
PreviewConfig: the shapes, the width, its fidelity and how it was trained). The app shows its image at once and the
full decode when that is ready; the static site ships it where the full decoder is too large for a page.

    z (B, d) -> standardised (z - shift) / scale -> (C, h, w) (a spatial latent as it is; a flat one through a linear
    layer onto a small grid) -> tanh(z / 3) * 3 -> conv, blocks, then per upsampling stage: 2x nearest, conv, blocks
    (none after the last) -> conv to the image's channels -> image (B, C, H, W), clamped to [0, 1]

A block is TAESD's: relu(x + conv(relu(conv(relu(conv(x)))))). The preview opens at the model door
(found.FoundModel.open) as `LatentModel.preview`; one trained for other weights than the model's now is not used
(`stale`, with the command that retrains it).
"""
import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

WEIGHTS = "preview.safetensors"
CONFIG = "preview.json"
TARGETS = ("full decoder", "images")  # what it was fitted to: the full decoder's outputs, or the images themselves


@dataclass
class PreviewConfig:
    """Everything needed to rebuild a preview decoder and say what it is worth; round-trips to JSON."""

    latent_shape: tuple[int, ...]  # the model's latent: (d,) or (C, h, w)
    image_shape: tuple[int, int, int]  # (C, H, W)
    width: int = 32  # channels of every conv layer (default_width)
    blocks: int = 1  # blocks per upsampling stage
    model_weights: str = ""  # sha256 (first 16 hex) of the model's weights file it was trained for
    target: str = "full decoder"  # one of TARGETS
    fidelity_db: float | None = None  # PSNR against the full decoder on held-out latents
    held_out: int = 0  # latents the fidelity was measured on
    pairs: int = 0  # latents it was trained on
    steps: int = 0  # optimiser steps
    train_seconds: float = 0.0  # wall time of training, without measuring the fidelity
    extra: dict = field(default_factory=dict)  # anything else the trainer recorded (threads, the learning rate)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> "PreviewConfig":
        d = json.loads(text)
        d["latent_shape"], d["image_shape"] = tuple(d["latent_shape"]), tuple(d["image_shape"])
        return cls(**d)

    @property
    def label(self) -> str:
        """How the page labels its images: "preview, 27.3 dB"."""
        return "preview" if self.fidelity_db is None else f"preview, {self.fidelity_db:.1f} dB"


def default_width(image_shape: tuple[int, int, int]) -> int:
    """Channels for a preview of images this size: fewer for large images, whose last layers dominate its cost (a
    multiple of 16: CPU convolutions are far faster per operation at those widths; docs/benchmarks.md)."""
    return 32 if image_shape[1] * image_shape[2] <= 64 * 64 else 16


def grid_of(cfg: PreviewConfig) -> tuple[tuple[int, int, int], int]:
    """The (channels, h, w) the convolutions start from, and the number of 2x upsampling stages up to the image."""
    _, height, _ = cfg.image_shape
    if len(cfg.latent_shape) == 3:
        c, h, w = cfg.latent_shape
        return (c, h, w), max(0, round(math.log2(height / h)))
    side, ups = height, 0
    while side % 2 == 0 and side // 2 >= 4:  # a flat latent: the smallest grid a whole number of halvings away
        side, ups = side // 2, ups + 1
    return (cfg.width, side, side * cfg.image_shape[2] // height), ups


class Block(nn.Module):
    def __init__(self, n: int):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(n, n, 3, padding=1), nn.ReLU(), nn.Conv2d(n, n, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(n, n, 3, padding=1))

    def forward(self, x):
        return torch.relu(x + self.conv(x))  # TAESD's block


class PreviewDecoder(nn.Module):
    """z (B, d) -> image (B, C, H, W), unclamped (decode() clamps)."""

    def __init__(self, cfg: PreviewConfig):
        super().__init__()
        self.cfg = cfg
        d = math.prod(cfg.latent_shape)
        (c, h, w), ups = grid_of(cfg)
        self.start = (c, h, w)
        self.register_buffer("shift", torch.zeros(d))  # the training latents' mean and standard deviation
        self.register_buffer("scale", torch.ones(d))
        self.linear = nn.Linear(d, c * h * w) if len(cfg.latent_shape) == 1 else nn.Identity()
        n = cfg.width
        layers = [nn.Conv2d(c, n, 3, padding=1), nn.ReLU(), *(Block(n) for _ in range(cfg.blocks))]
        for i in range(ups):  # the last stage goes straight to the output: little work at the image's full size
            layers += [nn.Upsample(scale_factor=2), nn.Conv2d(n, n, 3, padding=1, bias=False)]
            layers += [Block(n) for _ in range(cfg.blocks)] if i < ups - 1 else [nn.ReLU()]
        layers.append(nn.Conv2d(n, cfg.image_shape[0], 3, padding=1))
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z = (z.float() - self.shift) / self.scale  # standardised
        z = self.linear(z).reshape(-1, *self.start)
        y = self.body(torch.tanh(z / 3) * 3)  # TAESD's soft clamp of the latent
        if y.shape[-2:] != self.cfg.image_shape[1:]:  # a latent grid no whole number of halvings from the image
            y = nn.functional.interpolate(y, size=self.cfg.image_shape[1:], mode="nearest")
        return y


class Preview:
    """A trained preview decoder as the model door offers it: `decode_location(z)` like the model's own."""

    def __init__(self, net: PreviewDecoder):
        self.net = net.eval()
        self.cfg = net.cfg

    @property
    def label(self) -> str:
        return self.cfg.label

    def parameters(self):
        return self.net.parameters()

    @torch.no_grad()
    def decode_location(self, z: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] for latents z (B, d): the preview's guess at the full decoder's."""
        return self.net(z).clamp(0.0, 1.0)


def weights_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def save(net: PreviewDecoder, folder: Path) -> Path:
    """Write preview.safetensors and preview.json into `folder` (weights first: a preview.json always has weights)."""
    folder = Path(folder)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, folder / WEIGHTS)
    (folder / CONFIG).write_text(net.cfg.to_json())
    return folder / CONFIG


def load(folder: Path) -> Preview:
    cfg = PreviewConfig.from_json((Path(folder) / CONFIG).read_text())
    net = PreviewDecoder(cfg)
    net.load_state_dict(load_file(Path(folder) / WEIGHTS))
    return Preview(net)


def stale(folder: Path, weights: Path | None) -> str | None:
    """Why the preview in `folder` does not fit the model's weights now (with the fix), or None when it fits."""
    recorded = json.loads((Path(folder) / CONFIG).read_text()).get("model_weights", "")
    if weights is not None and recorded and recorded != weights_hash(weights):
        return (f"the preview decoder in {Path(folder).name}/ was trained for other weights; retrain it with "
                f"python -m explorer.preview {folder}")
    return None


def find(folder: Path | None, weights: Path | None, log=print) -> Preview | None:
    """The preview decoder beside a model (in its folder), or None when there is none or it is stale (logged)."""
    if folder is None or not (Path(folder) / CONFIG).exists() or not (Path(folder) / WEIGHTS).exists():
        return None
    if problem := stale(folder, weights):
        log(problem)
        return None
    return load(folder)
