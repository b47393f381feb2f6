"""What differs between a playground run of a VAE and one of a VQ-VAE, as two small classes with the same methods:
the run (run.py) and its image case (images.py) call them and never ask which model they train. One object per run
(KINDS[settings.model]()): the VQ-VAE's keeps the run's codebook counts and restarts.

    VAE:     loss = -ELBO_L = -1/L sum_l log p(x|z_l) + beta KL(q(z|x) || N(0, I)),  z_l = mu + sigma eps_l,
             L and beta from the settings at each step (the model's own loss, given them: no config is changed)
             draws: mu and sigma of q(z|x), reconstructions, samples of the prior decoded, and (2-D data) the
             decoder over a grid of latents, +-3 sd of the prior (manifold.py)
    VQ-VAE:  loss = reconstruction + commitment and codebook terms (the quantizer holds the settings' weights)
             counts: the codes all the points pick, or (images) the cells of the batches trained on; dead-code
             restarts; draws: z_e, the codebook, each code's step and the commitment pull, dec(z) over a grid of
             the codes' plane (points), code counts
             over all the images and grids drawn cell by cell from them (images)
"""
import torch

from explorer.playground.images import as_uint8
from explorer.playground.manifold import PRIOR_SD, grid_box, warped_grid
from explorer.playground.settings import PlaygroundSettings
from vae_core.config import Config
from vae_core.models import build_model
from vae_core.models.points import PointVAE, PointVQVAE
from vae_core.models.quantize import codebook_usage


class VAEKind:
    """A VAE run: L and beta go to each loss; the gradient variance over L is measured (it draws eps)."""

    second = "kl"  # the loss's term drawn beside the reconstruction
    draws_eps = True
    also_lower = ""  # what else to lower when the loss is not finite, beside the learning rate

    def point_model(self, cfg: Config) -> PointVAE:
        return PointVAE(cfg)

    def image_model(self, cfg: Config):
        return build_model(cfg)

    def apply(self, model, s: PlaygroundSettings) -> None:
        """Settings that act on the model between steps: none (L and beta go to each loss)."""

    def losses(self, model, x: torch.Tensor, s: PlaygroundSettings, generator: torch.Generator) -> dict:
        return model.loss(x, generator, samples=s.mc_samples, beta=s.beta)

    def slice_started(self, model) -> None:
        """Before a slice of steps: nothing to keep."""

    def stepped(self, model) -> None:
        """After each step: nothing to count."""

    def usage(self, model, data: torch.Tensor, images: bool) -> dict:
        """The curves' extra columns for this update: none."""
        return {}

    @torch.no_grad()
    def point_drawings(self, model: PointVAE, x: torch.Tensor, data: torch.Tensor, s: PlaygroundSettings,
                       shown: int) -> dict:
        q = model.posterior(x)
        g = torch.Generator().manual_seed(s.seed + 1)  # the same prior draws every frame
        grid_z, grid_x = warped_grid(model.decode_location, -PRIOR_SD, PRIOR_SD, model.cfg.latent_dim)
        return {"recon": model.reconstruct(x).numpy(), "samples": model.sample(shown, g).numpy(),
                "mu": q.mean.numpy(), "sigma": q.sigma.numpy(), "grid_z": grid_z, "grid_x": grid_x}

    @torch.no_grad()
    def image_drawings(self, model, images: torch.Tensor, x: torch.Tensor, strip: int, g: torch.Generator) -> dict:
        """The latent map's mu(x) and sigma(x) of the shown images `x`, and `strip` samples z ~ N(0, I) decoded."""
        q = model.posterior(x)
        return {"mu": q.mean.numpy(), "sigma": q.sigma.numpy(),
                "strip_samples": as_uint8(model.sample(strip, g, prior="standard"))}


class VQVAEKind:
    """A VQ-VAE run: the quantizer takes the settings' weights; its codes are counted and its restarts summed."""

    second = "vq"
    draws_eps = False
    also_lower = " or the commitment weight"

    def __init__(self):
        self.restarts = 0  # dead-code restarts so far
        self.counts = None  # (images) codes the training batches picked since the last `usage`
        self.codes_before = None  # the codebook at the start of the slice
        self.code_step = None  # (K, D): each code's move over the last slice

    def point_model(self, cfg: Config) -> PointVQVAE:
        return PointVQVAE(cfg)

    def image_model(self, cfg: Config):
        model = build_model(cfg)
        model.quantizer.register_forward_hook(self._count_codes)
        return model

    def _count_codes(self, quantizer, _inputs, outputs) -> None:
        if quantizer.training:
            picked = torch.bincount(outputs[1].flatten(), minlength=quantizer.num_codes)
            self.counts = picked if self.counts is None else self.counts + picked

    def apply(self, model, s: PlaygroundSettings) -> None:
        q = model.quantizer
        q.commitment, q.codebook_weight, q.decay, q.dead_threshold = (s.commitment, s.codebook_weight, s.ema_decay,
                                                                      s.dead_threshold)

    def losses(self, model, x: torch.Tensor, s: PlaygroundSettings, generator: torch.Generator) -> dict:
        return model.loss(x)

    def slice_started(self, model) -> None:
        self.codes_before = model.codebook.detach().clone()

    def stepped(self, model) -> None:
        self.restarts += model.quantizer.pop_restarts()

    def usage(self, model, data: torch.Tensor, images: bool) -> dict:
        """The codebook's perplexity, share of codes used and restarts so far: over all the points, or (images) over
        the cells of the batches trained on since the last call."""
        if model.quantizer.initialized:
            self.code_step = (model.codebook.detach() - self.codes_before).numpy()
        if images:
            counts, self.counts = self.counts, None
            if counts is None:
                return {}
        else:
            counts = code_counts(model, data)
        u = codebook_usage(counts)
        return {"perplexity": u["perplexity"], "used": u["codes_used"], "restarts": self.restarts}

    @torch.no_grad()
    def point_drawings(self, model: PointVQVAE, x: torch.Tensor, data: torch.Tensor, s: PlaygroundSettings,
                       shown: int) -> dict:
        z_e = model.encode(x)
        lo, hi = grid_box(z_e.numpy(), model.codebook.detach().numpy() if model.quantizer.initialized else None)
        grid_z, grid_x = warped_grid(model.decode, lo, hi, model.cfg.code_dim)
        out = {"z_e": z_e.numpy(), "recon": model.reconstruct(x).numpy(), "grid_z": grid_z, "grid_x": grid_x}
        if model.quantizer.initialized:
            idx = model.quantizer.nearest(z_e)
            codes = model.codebook.detach()
            out.update(codes=codes.numpy().copy(), index=idx.numpy(),
                       dead=(code_counts(model, data) == 0).numpy(), code_step=self.code_step,
                       # the commitment loss's pull on z_e: z_e -> z_e + beta (e - z_e) (its gradient 2 beta (z_e - e))
                       pull=(s.commitment * (codes[idx] - z_e)).numpy())
        return out

    @torch.no_grad()
    def image_drawings(self, model, images: torch.Tensor, x: torch.Tensor, strip: int, g: torch.Generator) -> dict:
        """Code counts over all the images (n_k, and n_ij,k per cell) and `strip` grids drawn cell by cell from
        them: c_ij ~ n_ij,k / sum_k n_ij,k."""
        grid = torch.cat([model.encode_indices(chunk) for chunk in images.split(500)])  # (N, h, w)
        n, h, w = grid.shape
        k = model.cfg.num_codes
        cells = grid.flatten(1) + k * torch.arange(h * w)  # cell ij's code k at ij * K + k
        per_cell = torch.bincount(cells.flatten(), minlength=h * w * k).view(h * w, k)  # n_ij,k
        drawn = torch.multinomial(per_cell.double(), strip, replacement=True, generator=g)  # (h w, strip)
        counts = per_cell.sum(0)
        u = codebook_usage(counts)
        return {"counts": counts.numpy().astype("float32"), "dead": (counts == 0).numpy(),
                "initialized": bool(model.quantizer.initialized), "epoch_perplexity": u["perplexity"],
                "strip_samples": as_uint8(model.decode_indices(drawn.T.reshape(strip, h, w)))}


@torch.no_grad()
def code_counts(model: PointVQVAE, data: torch.Tensor) -> torch.Tensor:
    """How many of all the data's points pick each code."""
    model.eval()
    idx = model.quantize(model.encode(data))[1]
    return torch.bincount(idx, minlength=model.quantizer.num_codes)


KINDS = {"vae": VAEKind, "vqvae": VQVAEKind}
