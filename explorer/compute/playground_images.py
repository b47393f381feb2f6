"""The playground's image case: vae_core's own VAE (a small MLP or conv body) or VQ-VAE (conv) on an image set
(playground_image_sets.py), with vae_core's likelihood, the discretised logistic per pixel, so every loss is in
nats per image:

    bits/dim = nats per image / (D ln 2),   D = the numbers per image (784 for Fashion-MNIST, 64 for the digits)

An epoch is a pass's worth of images (the set's size in images drawn into batches). At each epoch's end the case
draws what the page shows and keeps it, so snapshots between epochs cost nothing:

    VAE:     the latent map: mu(x) of SHOWN fixed images (the latent itself, 1 or 2 numbers: no projection) and
             sigma(x) of them; a strip: STRIP fixed images, their reconstructions (the decoder's location at
             z = mu(x)) and samples, z ~ N(0, I) decoded
    VQ-VAE:  codebook usage: n_k = how many cells of all the images pick code k (dead: n_k = 0); a strip: the
             images, their reconstructions dec(z_q) and grids whose cells each draw a code on their own,
             c_ij ~ n_ij,k / sum_k n_ij,k (that cell's code frequencies over the images), decoded: no prior over
             the grid, so the cells do not agree on one picture (the Generate tab's prior models the grid)
Between epochs the codebook's curves come from the codes the training batches picked (`batch_counts`).
"""
import dataclasses

import numpy as np
import torch

from explorer.compute.playground_image_sets import DATA_SEED, image_set
from explorer.compute.playground_settings import PlaygroundSettings
from vae_core.config import Config, Record
from vae_core.models import VQVAE, build_model
from vae_core.models.quantize import codebook_usage

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
    """An image run's data, what it draws at each epoch's end, and the codes its training batches pick."""

    def __init__(self, s: PlaygroundSettings):
        self.set = image_set(s.data)
        self.x, self.vae, self.seed = self.set.x, s.model == "vae", s.seed
        rng = np.random.default_rng(s.seed)
        n = len(self.x)
        self.shown = torch.from_numpy(np.sort(rng.choice(n, min(SHOWN, n), replace=False)))
        # the strip: the first shown image of each class in turn, so the row shows different things
        labels = self.set.labels[self.shown.numpy()]
        firsts = [int(self.shown[np.flatnonzero(labels == k)[0]]) for k in np.unique(labels)]
        self.strip = torch.tensor((firsts * STRIP)[:STRIP])
        self.epoch = -1  # the epoch whose end `drawn` shows (0: before training)
        self.drawn: dict = {}
        self.counts = None  # codes the training batches picked since the last `batch_counts` (VQ-VAE)

    def build(self, s: PlaygroundSettings):
        model = build_model(image_config(s, self.set.name, self.set.image_shape))
        if not self.vae:
            model.quantizer.register_forward_hook(self._count_codes)
        return model

    def _count_codes(self, quantizer, _inputs, outputs) -> None:
        if quantizer.training:
            picked = torch.bincount(outputs[1].flatten(), minlength=quantizer.num_codes)
            self.counts = picked if self.counts is None else self.counts + picked

    def batch_counts(self) -> dict:
        """Perplexity and share of codes used over the cells of the batches trained on since the last call."""
        counts, self.counts = self.counts, None
        if counts is None:
            return {}
        u = codebook_usage(counts)
        return {"perplexity": u["perplexity"], "used": u["codes_used"]}

    def epochs_done(self, seen: int) -> int:
        return seen // len(self.x)

    def after_steps(self, model, seen: int) -> None:
        """Draw again when `seen` images trained on crossed an epoch's end."""
        if self.epochs_done(seen) != self.epoch:
            self.draw(model, self.epochs_done(seen))

    @torch.no_grad()
    def draw(self, model, epoch: int) -> None:
        model.eval()
        x, strip = self.x[self.shown], self.x[self.strip]
        g = torch.Generator().manual_seed(self.seed + 1)  # the same draws at every epoch
        out = {"labels": self.set.labels[self.shown.numpy()].astype(np.uint8), "strip_data": as_uint8(strip),
               "strip_recon": as_uint8(model.reconstruct(strip))}
        if self.vae:
            q = model.posterior(x)
            out["mu"], out["sigma"] = q.mean.numpy(), q.sigma.numpy()
            out["strip_samples"] = as_uint8(model.sample(STRIP, g, prior="standard"))
        else:
            out.update(self.code_draws(model, g))
        self.drawn, self.epoch = out, epoch

    def code_draws(self, model: VQVAE, g: torch.Generator) -> dict:
        """Code counts over all the images (n_k, and n_ij,k per cell) and STRIP grids drawn cell by cell from them."""
        grid = torch.cat([model.encode_indices(chunk) for chunk in self.x.split(500)])  # (N, h, w)
        n, h, w = grid.shape
        k = model.cfg.num_codes
        cells = grid.flatten(1) + k * torch.arange(h * w)  # cell ij's code k at ij * K + k
        per_cell = torch.bincount(cells.flatten(), minlength=h * w * k).view(h * w, k)  # n_ij,k
        drawn = torch.multinomial(per_cell.double(), STRIP, replacement=True, generator=g)  # (h w, STRIP)
        counts = per_cell.sum(0)
        u = codebook_usage(counts)
        return {"counts": counts.numpy().astype(np.float32), "dead": (counts == 0).numpy(),
                "initialized": bool(model.quantizer.initialized), "epoch_perplexity": u["perplexity"],
                "strip_samples": as_uint8(model.decode_indices(drawn.T.reshape(STRIP, h, w)))}

    def snapshot(self, seen: int) -> dict:
        """The last epoch's drawings (the same arrays until the next epoch) and where training is now."""
        return {"case": "images", "set": self.set.name, "label_names": list(self.set.label_names),
                "pixels": self.set.pixels, "epoch": self.epoch,
                "epoch_progress": (seen % len(self.x)) / len(self.x), **self.drawn}

    def checkpoint(self, model, seen: int) -> tuple[torch.nn.Module, Config]:
        """A copy of `model` (eval mode, no hooks) and its Config naming the data set, with the epochs trained."""
        cfg = dataclasses.replace(model.cfg, epochs=max(1, self.epochs_done(seen)),
                                  record=Record(label_names=list(self.set.label_names)))
        copy = build_model(cfg)
        copy.load_state_dict(model.state_dict())
        return copy.eval(), cfg
