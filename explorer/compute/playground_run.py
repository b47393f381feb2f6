"""One playground run: a point VAE or VQ-VAE (vae_core/models/points.py) training on a toy set, or vae_core's own
VAE or VQ-VAE on an image set (the image case: playground_images.py), in time slices.

    step:  one Adam step on the model's own loss (vae_core: -ELBO with L samples, or the VQ-VAE's loss) over a batch
    slice: steps until `budget` seconds of compute have passed (at least one), then a snapshot for drawing
    gradient variance of the L-sample estimate, over R independent draws of eps on one fixed batch:
        Var_L = sum_p Var_r[g_rp],   g_r = d(-ELBO_L)/d(encoder parameters) with its own eps, r = 1..R
A non-finite loss pauses the run with a note saying which setting to lower; the model is then rebuilt by reset.
An image run's model can leave as a vae_core checkpoint (to_checkpoint), for the explorer's other tabs.
"""
import time
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from explorer.compute.playground_images import VARIANCE_BATCH as IMAGE_VARIANCE_BATCH
from explorer.compute.playground_images import ImageCase
from explorer.compute.playground_settings import PlaygroundSettings
from explorer.compute.toy_data import toy_points
from explorer.errors import PlaygroundError
from vae_core.config import Config
from vae_core.models.points import PointVAE, PointVQVAE, point_config
from vae_core.models.quantize import codebook_usage

SHOWN = 500  # points drawn (a fixed, seeded subset of the data)
ELLIPSES = 60  # posteriors drawn as ellipses
HISTORY = 400  # updates kept for the curves
VARIANCE_L = (1, 4, 16)
VARIANCE_REPEATS = 8
VARIANCE_BATCH = 64


def model_config(s: PlaygroundSettings):
    """vae_core's Config for these settings (a point model: 2-D data, MLP bodies)."""
    return point_config(model=s.model, latent_dim=s.latent_dim, beta=s.beta, mc_samples=s.mc_samples,
                        num_codes=s.num_codes, commitment=s.commitment, codebook=s.codebook,
                        codebook_weight=s.codebook_weight, ema_decay=s.ema_decay, dead_threshold=s.dead_threshold,
                        kmeans_init=s.kmeans_init, lr=s.lr, batch_size=s.batch_size, seed=s.seed)


@dataclass
class Curves:
    """Per update: the step reached and the losses averaged over its slice (VAE: recon, kl, -ELBO; VQ-VAE: recon,
    vq, loss), and for the VQ-VAE the codebook's perplexity, share of codes used and restarts so far."""

    step: list = field(default_factory=list)
    recon: list = field(default_factory=list)
    second: list = field(default_factory=list)  # kl or vq
    loss: list = field(default_factory=list)
    perplexity: list = field(default_factory=list)
    used: list = field(default_factory=list)
    restarts: list = field(default_factory=list)
    variance: dict = field(default_factory=dict)  # {L: [Var_L of each measurement]} (VAE)

    def add(self, **values) -> None:
        for name, v in values.items():
            column = getattr(self, name)
            column.append(float(v))
            del column[:-HISTORY]


class PlaygroundRun:
    """A model, its optimiser and its data, for one browser tab. Not thread-safe: the service steps it under a lock."""

    def __init__(self, settings: PlaygroundSettings):
        self.settings = settings
        self.images = ImageCase(settings) if settings.is_images else None  # None: 2-D points
        self.data = self.images.x if self.images else torch.from_numpy(toy_points(settings.data, settings.seed))
        self.generator = torch.Generator().manual_seed(settings.seed)
        if not self.images:  # the points drawn (an image run's case picks its own images)
            rng = np.random.default_rng(settings.seed)
            self.shown = torch.from_numpy(np.sort(rng.choice(len(self.data), SHOWN, replace=False)))
        with torch.random.fork_rng():
            torch.manual_seed(settings.seed)  # the initial weights (and the quantizer's first-batch picks)
            if self.images:
                self.model = self.images.build(settings)
            else:
                cfg = model_config(settings)
                self.model = PointVAE(cfg) if settings.model == "vae" else PointVQVAE(cfg)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=settings.lr)
        self.steps = 0
        self.seen = 0  # data (points or images) trained on
        self.curves = Curves()
        self.paused_note = ""  # why training stopped by itself (a non-finite loss)
        self.variance: dict[int, float] = {}  # Var_L of the last measurement, by L
        self.restarts = 0
        self.code_step = None  # (K, 2): each code's move over the last slice
        self.apply(settings)
        if self.images:
            self.images.after_steps(self.model, self.seen)  # epoch 0: the untrained model

    @property
    def is_vae(self) -> bool:
        return self.settings.model == "vae"

    def apply(self, s: PlaygroundSettings) -> None:
        """Take settings that need no new model: at the next step."""
        if s.shape() != self.settings.shape():
            raise ValueError("these settings need a new run (PlaygroundRun(settings))")
        self.settings = s
        for group in self.opt.param_groups:
            group["lr"] = s.lr
        self.model.cfg = replace(self.model.cfg, beta=s.beta, mc_samples=s.mc_samples, lr=s.lr,
                                 batch_size=s.batch_size)
        if not self.is_vae:
            q = self.model.quantizer
            q.commitment, q.codebook_weight, q.decay, q.dead_threshold = (s.commitment, s.codebook_weight,
                                                                          s.ema_decay, s.dead_threshold)

    # --- training -------------------------------------------------------------------------------------------------
    def batch(self) -> torch.Tensor:
        idx = torch.randint(0, len(self.data), (self.settings.batch_size,), generator=self.generator)
        return self.data[idx]

    def losses(self, x: torch.Tensor) -> dict:
        return self.model.loss(x, self.generator) if self.is_vae else self.model.loss(x)

    def step(self) -> dict | None:
        """One Adam step; None (and paused, with a note) when the loss is not finite."""
        self.model.train()
        x = self.batch()
        out = self.losses(x)
        if not torch.isfinite(out["loss"]):
            self.paused_note = (f"the loss became {float(out['loss'].detach())} at step {self.steps + 1}: "
                                f"lower the learning "
                                f"rate (now {self.settings.lr:g})" + ("" if self.is_vae else
                                                                        " or the commitment weight")
                                + ", then press reset")
            return None
        self.opt.zero_grad(set_to_none=True)
        out["loss"].backward()
        self.opt.step()
        self.steps += 1
        self.seen += len(x)
        if not self.is_vae:
            self.restarts += self.model.quantizer.pop_restarts()
        return {k: float(v.detach()) for k, v in out.items()}

    def train_for(self, budget: float, max_steps: int | None = None) -> int:
        """Steps until `budget` seconds have passed (at least one, at most max_steps); the curves get one entry."""
        start, done, sums = time.perf_counter(), 0, {}
        before = self.model.codebook.detach().clone() if not (self.is_vae or self.images) else None
        while True:
            out = self.step()
            if out is None:
                break
            done += 1
            for k, v in out.items():
                sums[k] = sums.get(k, 0.0) + v
            if (max_steps is not None and done >= max_steps) or time.perf_counter() - start >= budget:
                break
        if before is not None and self.model.quantizer.initialized:
            self.code_step = (self.model.codebook.detach() - before).numpy()
        if done:
            mean = {k: v / done for k, v in sums.items()}
            extra = self.usage() if not self.is_vae else {}
            self.curves.add(step=self.steps, recon=mean["recon"], second=mean["kl" if self.is_vae else "vq"],
                            loss=mean["loss"], **extra)
        if self.images:
            self.images.after_steps(self.model, self.seen)
        return done

    # --- what is measured -------------------------------------------------------------------------------------
    @torch.no_grad()
    def code_counts(self) -> torch.Tensor:
        """How many of all the data's points pick each code."""
        self.model.eval()
        idx = self.model.quantize(self.model.encode(self.data))[1]
        return torch.bincount(idx, minlength=self.settings.num_codes)

    def usage(self) -> dict:
        """The codebook's perplexity and share of codes used: over all the points, or (images) over the cells of
        the batches trained on since the last call."""
        if self.images:
            return {**self.images.batch_counts(), "restarts": self.restarts}
        u = codebook_usage(self.code_counts())
        return {"perplexity": u["perplexity"], "used": u["codes_used"], "restarts": self.restarts}

    def gradient_variance(self, ls=VARIANCE_L, repeats: int = VARIANCE_REPEATS) -> dict[int, float]:
        """Var_L (module docstring) for each L in `ls`, on one batch of the data, eps drawn afresh each repeat."""
        if not self.is_vae:
            raise ValueError("the gradient variance over L is the VAE's (a VQ-VAE draws no samples)")
        n = IMAGE_VARIANCE_BATCH if self.images else VARIANCE_BATCH
        x = self.data[torch.randint(0, len(self.data), (n,), generator=self.generator)]
        params = list(self.model.encoder.parameters())
        cfg = self.model.cfg
        result = {}
        try:
            for L in ls:
                self.model.cfg = replace(cfg, mc_samples=L)
                grads = []
                for _ in range(repeats):
                    loss = self.model.loss(x, self.generator)["loss"]
                    g = torch.autograd.grad(loss, params)
                    grads.append(torch.cat([t.flatten() for t in g]))
                result[L] = float(torch.stack(grads).var(0).sum())
                column = self.curves.variance.setdefault(L, [])
                column.append(result[L])
                del column[:-HISTORY]
        finally:
            self.model.cfg = cfg
        self.variance = result
        return result

    # --- what is drawn ------------------------------------------------------------------------------------------
    @torch.no_grad()
    def snapshot(self) -> dict:
        """Arrays for the figures (figures/playground.py), numpy, of the shown points; an image run's are those of
        its last epoch's end, kept (playground_images.py): plain data, picklable."""
        out = {"kind": self.settings.model, "steps": self.steps, "curves": self.curves, "note": self.paused_note}
        if self.images:
            return {**out, **self.images.snapshot(self.seen), "variance": dict(self.variance)}
        self.model.eval()
        x = self.data[self.shown]
        out.update(case="points", data=x.numpy())
        if self.is_vae:
            q = self.model.posterior(x)
            out["recon"] = self.model.reconstruct(x).numpy()
            g = torch.Generator().manual_seed(self.settings.seed + 1)  # the same prior draws every frame
            out["samples"] = self.model.sample(SHOWN, g).numpy()
            out["mu"], out["sigma"] = q.mean.numpy(), q.sigma.numpy()
            out["variance"] = dict(self.variance)
        else:
            z_e = self.model.encode(x)
            out["z_e"] = z_e.numpy()
            out["recon"] = self.model.reconstruct(x).numpy()
            if self.model.quantizer.initialized:
                idx = self.model.quantizer.nearest(z_e)
                codes = self.model.codebook.detach()
                out["codes"] = codes.numpy().copy()
                out["index"] = idx.numpy()
                out["dead"] = (self.code_counts() == 0).numpy()
                # the commitment loss's pull on z_e: z_e -> z_e + beta (e - z_e) (its gradient is 2 beta (z_e - e))
                out["pull"] = (self.settings.commitment * (codes[idx] - z_e)).numpy()
                out["code_step"] = self.code_step
        return out

    def to_checkpoint(self) -> tuple[torch.nn.Module, Config]:
        """(a copy of the model, its Config) for vae_core.checkpoint.save_checkpoint(folder, model, cfg): the Config
        names the data set, so the other tabs open the checkpoint on that set's test split. Image runs only."""
        if self.images is None:
            raise PlaygroundError("Save as checkpoint is for image runs: the other tabs show images")
        return self.images.checkpoint(self.model, self.seen)
