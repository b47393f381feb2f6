"""The playground's image case: vae_core's own VAE (a small MLP or conv body) or VQ-VAE (conv) on an image set
(data.py), with vae_core's likelihood, the discretised logistic per pixel, so every loss is in nats per image:

    bits/dim = nats per image / (D ln 2),   D = the numbers per image (784 for Fashion-MNIST, 64 for the digits)

An epoch is a pass's worth of images (the set's size in images drawn into batches). At each epoch's end the case
draws what the page shows (the run's kind draws its own part: kinds.py) and keeps it, so snapshots between epochs
cost nothing:

    VAE:     the latent map: mu(x) of SHOWN fixed images (the latent itself, 1 or 2 numbers: no projection) and
             sigma(x) of them; a strip: STRIP fixed images, their reconstructions (the decoder's location at
             z = mu(x)) and samples, z ~ N(0, I) decoded
    VQ-VAE:  codebook usage: n_k = how many cells of all the images pick code k (dead: n_k = 0); a strip: the
             images, their reconstructions dec(z_q) and grids whose cells each draw a code on their own,
             c_ij ~ n_ij,k / sum_k n_ij,k (that cell's code frequencies over the images), decoded: no prior over
             the grid, so the cells do not agree on one picture (the Generate tab's prior models the grid)
Between epochs the codebook's curves come from the codes the training batches picked (kinds.VQVAEKind.usage).
"""
import dataclasses

import numpy as np
import torch

from explorer.playground.data import DATA_SEED, image_set
from explorer.playground.settings import PlaygroundSettings
from vae_core.config import Config, Record
from vae_core.models import build_model

SHOWN = 500  # images on the latent map (a fixed, seeded subset)
STRIP = 8  # images in each row of the strip
HIDDEN = 256  # the MLP body's hidden units
WIDTH = 16  # conv channels at half the image size
CODE_DIM = 8  # the VQ-VAE's code vectors
VARIANCE_BATCH = 8  # images in the gradient variance's batch: one decoded image costs hundreds of points


def image_config(s: PlaygroundSettings, name: str, image_shape: tuple[int, int, int]) -> Config:
    """vae_core's Config for these settings on image set `name`: what vae_core.load rebuilds the model from."""
    c, h, _ = image_shape
    return Config(model=s.model, arch=s.arch if s.model == "vae" else "conv", channels=c, image_size=h,
                  width=WIDTH, hidden=HIDDEN, latent_dim=s.latent_dim, likelihood="discretized_logistic",
                  scale="decoder", vq_likelihood="discretized_logistic", beta=s.beta, mc_samples=s.mc_samples,
                  num_codes=s.num_codes, code_dim=CODE_DIM, res_blocks=0, commitment=s.commitment,
                  codebook=s.codebook, codebook_weight=s.codebook_weight, ema_decay=s.ema_decay,
                  dead_threshold=s.dead_threshold, kmeans_init=s.kmeans_init, data=name, validation=0,
                  batch_size=s.batch_size, lr=s.lr, seed=DATA_SEED, epochs=1)


def as_uint8(images: torch.Tensor) -> np.ndarray:
    """(n, 1, H, W) in [0, 1] -> (n, H, W) grey levels 0..255."""
    return (images[:, 0] * 255).round().clamp(0, 255).to(torch.uint8).numpy()


class ImageCase:
    """An image run's data and what it draws at each epoch's end."""

    def __init__(self, s: PlaygroundSettings):
        self.set = image_set(s.data)
        self.x, self.seed = self.set.x, s.seed
        rng = np.random.default_rng(s.seed)
        n = len(self.x)
        self.shown = torch.from_numpy(np.sort(rng.choice(n, min(SHOWN, n), replace=False)))
        # the strip: the first shown image of each class in turn, so the row shows different things
        labels = self.set.labels[self.shown.numpy()]
        firsts = [int(self.shown[np.flatnonzero(labels == k)[0]]) for k in np.unique(labels)]
        self.strip = torch.tensor((firsts * STRIP)[:STRIP])
        self.epoch = -1  # the epoch whose end `drawn` shows (0: before training)
        self.drawn: dict = {}

    def config(self, s: PlaygroundSettings) -> Config:
        """vae_core's Config of a model with settings `s` on these images."""
        return image_config(s, self.set.name, self.set.image_shape)

    def epochs_done(self, seen: int) -> int:
        return seen // len(self.x)

    def after_steps(self, model, kind, seen: int) -> None:
        """Draw again when `seen` images trained on crossed an epoch's end."""
        if self.epochs_done(seen) != self.epoch:
            self.draw(model, kind, self.epochs_done(seen))

    @torch.no_grad()
    def draw(self, model, kind, epoch: int) -> None:
        """The shown images' labels, the strip's images and reconstructions, and the kind's own drawings."""
        model.eval()
        strip = self.x[self.strip]
        g = torch.Generator().manual_seed(self.seed + 1)  # the same draws at every epoch
        out = {"labels": self.set.labels[self.shown.numpy()].astype(np.uint8), "strip_data": as_uint8(strip),
               "strip_recon": as_uint8(model.reconstruct(strip))}
        out.update(kind.image_drawings(model, self.x, self.x[self.shown], STRIP, g))
        self.drawn, self.epoch = out, epoch

    def snapshot(self, seen: int) -> dict:
        """The last epoch's drawings (the same arrays until the next epoch) and where training is now."""
        return {"case": "images", "set": self.set.name, "label_names": list(self.set.label_names),
                "pixels": self.set.pixels, "epoch": self.epoch,
                "epoch_progress": (seen % len(self.x)) / len(self.x), **self.drawn}

    def checkpoint(self, model, s: PlaygroundSettings, seen: int) -> tuple[torch.nn.Module, Config]:
        """A copy of `model` (eval mode, no hooks) and its Config, with the settings `s` it trains with now, naming
        the data set, with the epochs trained."""
        cfg = dataclasses.replace(self.config(s), epochs=max(1, self.epochs_done(seen)),
                                  record=Record(label_names=list(self.set.label_names)))
        copy = build_model(cfg)
        copy.load_state_dict(model.state_dict())
        return copy.eval(), cfg
