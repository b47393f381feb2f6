"""One playground run: a point VAE or VQ-VAE (vae_core/models/points.py) training on a toy set, or vae_core's own
VAE or VQ-VAE on an image set (the image case: images.py), in time slices. What differs between the two models is
the run's kind (kinds.py); the step is vae_core's (vae_core.training.loop.optimizer_step).

    step:  one Adam step on the model's own loss (the VAE's -ELBO with the settings' L and beta, or the VQ-VAE's
           loss) over a batch
    slice: steps until `budget` seconds of compute have passed (at least one), then a snapshot for drawing
    a step's arrows: with a set number of steps per slice (one step, slow motion) on 2-D data, the move of the
           reconstructions of ARROWS shown points over the slice's last step, x_hat_after - x_hat_before (the
           direction that step's gradient sends them, as the optimiser took it)
    gradient variance of the L-sample estimate, over R independent draws of eps on one fixed batch:
        Var_L = sum_p Var_r[g_rp],   g_r = d(-ELBO_L)/d(encoder parameters) with its own eps, r = 1..R
A non-finite loss pauses the run with a note saying which setting to lower; the model is then rebuilt by reset.
An image run's model can leave as a vae_core checkpoint (to_checkpoint), for the explorer's other tabs.
"""
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from explorer.errors import PlaygroundError
from explorer.playground.data import toy_points
from explorer.playground.images import VARIANCE_BATCH as IMAGE_VARIANCE_BATCH
from explorer.playground.images import ImageCase
from explorer.playground.kinds import KINDS
from explorer.playground.settings import PlaygroundSettings
from vae_core.config import Config
from vae_core.models.points import point_config
from vae_core.training.loop import optimizer_step

SHOWN = 500  # points drawn (a fixed, seeded subset of the data)
ARROWS = 100  # of the shown points, those whose reconstructions carry a step's arrows
CURVE_POINTS = 400  # updates kept for the curves
VARIANCE_L = (1, 4, 16)
VARIANCE_REPEATS = 8
VARIANCE_BATCH = 64


def model_config(s: PlaygroundSettings) -> Config:
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
            del column[:-CURVE_POINTS]


class PlaygroundRun:
    """A model, its optimiser and its data, for one browser tab. Not thread-safe: the pool steps it under a lock."""

    def __init__(self, settings: PlaygroundSettings):
        self.settings = settings
        self.kind = KINDS[settings.model]()
        self.images = ImageCase(settings) if settings.is_images else None  # None: 2-D points
        self.data = self.images.x if self.images else torch.from_numpy(toy_points(settings.data, settings.seed))
        self.generator = torch.Generator().manual_seed(settings.seed)
        if not self.images:  # the points drawn (an image run's case picks its own images)
            rng = np.random.default_rng(settings.seed)
            self.shown = torch.from_numpy(np.sort(rng.choice(len(self.data), SHOWN, replace=False)))
        with torch.random.fork_rng():
            torch.manual_seed(settings.seed)  # the initial weights (and the quantizer's first-batch picks)
            self.model = (self.kind.image_model(self.images.config(settings)) if self.images else
                          self.kind.point_model(model_config(settings)))
        self.opt = torch.optim.Adam(self.model.parameters(), lr=settings.lr)
        self.steps = 0
        self.seen = 0  # data (points or images) trained on
        self.curves = Curves()
        self.paused_note = ""  # why training stopped by itself (a non-finite loss)
        self.variance: dict[int, float] = {}  # Var_L of the last measurement, by L
        self.step_move: dict | None = None  # the last measured step's arrows (module docstring), or None
        self.apply(settings)
        if self.images:
            self.images.after_steps(self.model, self.kind, self.seen)  # epoch 0: the untrained model

    def apply(self, s: PlaygroundSettings) -> None:
        """Take settings that need no new model: at the next step."""
        if s.shape() != self.settings.shape():
            raise ValueError("these settings need a new run (PlaygroundRun(settings))")
        self.settings = s
        for group in self.opt.param_groups:
            group["lr"] = s.lr
        self.kind.apply(self.model, s)

    # --- training -------------------------------------------------------------------------------------------------
    def batch(self) -> torch.Tensor:
        idx = torch.randint(0, len(self.data), (self.settings.batch_size,), generator=self.generator)
        return self.data[idx]

    def step(self) -> dict | None:
        """One Adam step; None (and paused, with a note) when the loss is not finite."""
        self.model.train()
        x = self.batch()
        out = self.kind.losses(self.model, x, self.settings, self.generator)
        if not torch.isfinite(out["loss"]):
            self.paused_note = (f"the loss became {float(out['loss'].detach())} at step {self.steps + 1}: lower the "
                                f"learning rate (now {self.settings.lr:g}){self.kind.also_lower}, then press reset")
            return None
        optimizer_step(self.opt, out["loss"])
        self.steps += 1
        self.seen += len(x)
        self.kind.stepped(self.model)
        return {k: float(v.detach()) for k, v in out.items()}

    def train_for(self, budget: float, max_steps: int | None = None) -> int:
        """Steps until `budget` seconds have passed (at least one, at most max_steps); the curves get one entry."""
        start, done, sums = time.perf_counter(), 0, {}
        measure = max_steps is not None and self.images is None  # the last step's arrows (module docstring)
        before = None
        self.kind.slice_started(self.model)
        while True:
            if measure and done == max_steps - 1:
                before = self.arrow_reconstructions()
            out = self.step()
            if out is None:
                break
            done += 1
            for k, v in out.items():
                sums[k] = sums.get(k, 0.0) + v
            if (max_steps is not None and done >= max_steps) or time.perf_counter() - start >= budget:
                break
        self.step_move = None
        if before is not None and done == max_steps:
            after = self.arrow_reconstructions()
            self.step_move = {"step": self.steps, "from": before.numpy(), "move": (after - before).numpy()}
        if done:
            mean = {k: v / done for k, v in sums.items()}
            self.curves.add(step=self.steps, recon=mean["recon"], second=mean[self.kind.second], loss=mean["loss"],
                            **self.kind.usage(self.model, self.data, self.images is not None))
        if self.images:
            self.images.after_steps(self.model, self.kind, self.seen)
        return done

    @torch.no_grad()
    def arrow_reconstructions(self) -> torch.Tensor:
        """x_hat of the ARROWS points that carry a step's arrows (evaluation mode: the codebook does not move)."""
        self.model.eval()
        return self.model.reconstruct(self.data[self.shown[::max(1, SHOWN // ARROWS)]])

    # --- what is measured -------------------------------------------------------------------------------------
    def gradient_variance(self, ls=VARIANCE_L, repeats: int = VARIANCE_REPEATS) -> dict[int, float]:
        """Var_L (module docstring) for each L in `ls`, on one batch of the data, eps drawn afresh each repeat."""
        if not self.kind.draws_eps:
            raise ValueError("the gradient variance over L is the VAE's (a VQ-VAE draws no samples)")
        n = IMAGE_VARIANCE_BATCH if self.images else VARIANCE_BATCH
        x = self.data[torch.randint(0, len(self.data), (n,), generator=self.generator)]
        params = list(self.model.encoder.parameters())
        result = {}
        for L in ls:
            grads = []
            for _ in range(repeats):
                loss = self.model.loss(x, self.generator, samples=L, beta=self.settings.beta)["loss"]
                g = torch.autograd.grad(loss, params)
                grads.append(torch.cat([t.flatten() for t in g]))
            result[L] = float(torch.stack(grads).var(0).sum())
            column = self.curves.variance.setdefault(L, [])
            column.append(result[L])
            del column[:-CURVE_POINTS]
        self.variance = result
        return result

    # --- what is drawn ------------------------------------------------------------------------------------------
    @torch.no_grad()
    def snapshot(self) -> dict:
        """Arrays for the scenes (scenes.py), numpy, of the shown points; an image run's are those of its last
        epoch's end, kept (images.py): plain data, picklable."""
        out = {"kind": self.settings.model, "steps": self.steps, "curves": self.curves, "note": self.paused_note,
               "variance": dict(self.variance)}
        if self.images:
            return {**out, **self.images.snapshot(self.seen)}
        self.model.eval()
        x = self.data[self.shown]
        if self.step_move is not None:
            out["step_move"] = self.step_move
        return {**out, "case": "points", "data": x.numpy(),
                **self.kind.point_drawings(self.model, x, self.data, self.settings, SHOWN)}

    def to_checkpoint(self) -> tuple[torch.nn.Module, Config]:
        """(a copy of the model, its Config) for vae_core.checkpoint.save_checkpoint(folder, model, cfg): the Config
        names the data set, so the other tabs open the checkpoint on that set's test split. Image runs only."""
        if self.images is None:
            raise PlaygroundError("Save as checkpoint is for image runs: the other tabs show images")
        return self.images.checkpoint(self.model, self.settings, self.seen)
