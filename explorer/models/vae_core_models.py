"""vae_core's VAE and VQ-VAE behind the model interface: the same numbers as vae_core computes (the adapters only
name what the explorer calls), with vae_core's decoder distribution and prior; and its checkpoint folders
(config.json + model.safetensors) found and described (open_folder).

On a device other than the CPU the network runs there, while its priors (the fitted prior over z, the prior over
code grids) and a copy of its likelihood stay on the CPU: they sample from the explorer's CPU generators, so a seed
gives the same draws on every device. Every method takes and gives CPU tensors (device.py: inward, outward)."""
import copy
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch

from explorer.models.device import CPU, generator_on, inward, outward, placement, stored_numbers
from explorer.models.found import FoundModel, TestSplit
from explorer.models.interface import CodeModel, LatentModel
from vae_core import load
from vae_core.checkpoint import CONFIG, PRIOR, WEIGHTS, CheckpointError, read_config
from vae_core.config import Config
from vae_core.training.run_folder import HISTORY

SUMMARY_FIRST = ["neg_elbo", "kl", "bits_per_dim", "iwae_nll", "mse", "psnr", "perplexity", "codes_used", "dead_codes"]
NOT_METRICS = {"epoch", "iwae_k"}


def is_sample_key(key: str) -> bool:
    """The sample-quality figures, which have a line of their own (explorer/service/sample_figures.py)."""
    return key.startswith("sample_") or key == "classifier_accuracy"


def is_model_folder(path: Path) -> bool:
    return (path / CONFIG).exists()


def open_folder(path: Path, log=print) -> "VaeCoreFolder | None":
    """The vae_core checkpoint at `path`, or None (logged with why, when it cannot be opened)."""
    if not (path / WEIGHTS).exists():
        log(f"skipping {path}: it has a {CONFIG} but no {WEIGHTS} (neither a vae_core checkpoint nor a diffusers "
            "model folder with diffusion_pytorch_model.safetensors)")
        return None
    try:
        cfg = read_config(path)
    except CheckpointError as e:
        log(f"skipping {path}: {e}")
        return None
    if cfg.model not in ("vae", "vqvae"):
        return None  # a classifier or a prior's folder: not a model to explore
    return VaeCoreFolder(path.name, cfg.model, cfg.image_shape, path.resolve(), (path / WEIGHTS).resolve(), cfg=cfg)


@dataclass
class VaeCoreFolder(FoundModel):
    cfg: Config = field(default=None, repr=False)  # vae_core's settings and record (config.json)

    def load(self, device=CPU, dtype=None):
        if dtype not in (None, torch.float32):  # vae_core's decoders keep their last layer in float32 (autocast off)
            raise ValueError(f"a vae_core model runs in float32 (its own bfloat16 is autocast), not {dtype}")
        model = load(self.folder, device)
        if model.prior is not None:
            model.prior.to(CPU)  # priors sample on the CPU (the module docstring)
        return VaeCoreVAE(model) if model.cfg.model == "vae" else VaeCoreVQVAE(model)

    def numbers(self) -> int:
        prior = self.folder / PRIOR / WEIGHTS
        return super().numbers() + (stored_numbers(prior) if prior.exists() else 0)

    def record(self) -> dict:
        return self.cfg.metrics

    def test_split(self) -> TestSplit:
        c = self.cfg
        return TestSplit(c.data, c.data_dir, c.channels, c.image_size, c.seed)

    def history(self) -> list[dict]:
        p = self.folder / HISTORY
        return [json.loads(ln) for ln in p.read_text().splitlines() if ln.strip()] if p.exists() else []

    def summary(self) -> str:
        """Data set, size, and the test metrics recorded in config.json."""
        c, m = self.cfg, self.cfg.metrics
        codes = (f"FSQ levels {c.fsq_levels}: K = {c.num_codes} codes" if c.quantizer == "fsq"
                 else f"K = {c.num_codes} codes of D = {c.code_dim}")
        size = (f"latent {c.latent_dim} ({c.arch}, {c.likelihood})" if c.model == "vae"
                else f"{codes}, grid {c.image_size // 4}x{c.image_size // 4}")
        # whatever metrics the checkpoint recorded (models differ: bits_per_dim only for some likelihoods), known first
        keys = [k for k in SUMMARY_FIRST if k in m] + sorted(k for k in m if k not in SUMMARY_FIRST)
        metrics = ", ".join(f"{k} {m[k]:.4g}" for k in keys if k not in NOT_METRICS and not is_sample_key(k)
                            and isinstance(m[k], (int, float)) and not isinstance(m[k], bool))
        return (f"**{self.name}**: {c.model.upper()} on {c.data} ({c.channels}x{c.image_size}x{c.image_size}), "
                f"{size}; {m.get('epoch', '?')} epochs.  \n{m.get('split', 'test').capitalize()} split: "
                f"{metrics or 'no metrics recorded'}")


class VaeCoreVAE(LatentModel):
    has_decoder_scale = True  # vae_core decoders give p(x|z): a location and a scale per pixel (or Bernoulli logits)

    def __init__(self, vae):
        self.vae, self.cfg = vae, vae.cfg
        self.image_shape = vae.cfg.image_shape
        self.latent_shape = (vae.cfg.latent_dim,)
        self.at = placement(vae.parameters())  # (device, dtype) of its weights
        # p(x|z): log_prob, mean (the location), expectation, sample; on the CPU, as the decoder's outputs are
        likelihood = vae.likelihood
        self.likelihood = likelihood if self.at == (CPU, torch.float32) else copy.deepcopy(likelihood).to(CPU).float()
        self.description = f"vae_core VAE ({vae.cfg.arch}, {vae.cfg.likelihood})"

    def parameters(self):
        return self.vae.parameters()

    def encode(self, x):
        mu, log_sigma = self.vae.encode(inward(x, *self.at))
        return outward(mu), outward(log_sigma)

    def decode(self, z):
        """The parameters of p(x|z) (vae_core VAE.decode)."""
        return outward(self.vae.decode(inward(z, *self.at)))

    def decode_location(self, z):
        return outward(self.vae.decode_location(inward(z, *self.at)))

    def log_importance_weights(self, x, k, generator=None):
        return outward(self.vae.log_importance_weights(inward(x, *self.at), k, generator_on(generator, self.at[0])))

    @property
    def fitted_prior(self):
        """The prior over z fitted to the aggregate posterior (vae_core.fit_prior), or None."""
        return self.vae.fitted_prior

    @property
    def prior_problem(self):
        return self.vae.prior_problem

    @torch.no_grad()
    def sample_latents(self, n, generator=None, temperature=1.0, prior="fitted"):
        return outward(self.vae.sample_latents(n, generator, temperature, prior))

    @torch.no_grad()
    def sample(self, n, generator=None, temperature=1.0, prior="fitted"):
        """The fitted prior's samples when the checkpoint has one (prior="standard": N(0, I)'s), decoded: vae_core
        VAE.sample, with z moved in (inward) as every input is."""
        return self.decode_location(self.sample_latents(n, generator, temperature, prior))


class VaeCoreVQVAE(CodeModel):
    def __init__(self, vq):
        self.vq, self.cfg = vq, vq.cfg
        self.image_shape = vq.cfg.image_shape
        self.prior, self.prior_problem = vq.prior, getattr(vq, "prior_problem", None)  # the prior on the CPU
        self.at = placement(vq.parameters())  # (device, dtype) of its weights
        c = vq.cfg
        codes = (f"FSQ, levels {c.fsq_levels}: K = {c.num_codes}, D = {vq.codebook.shape[1]}" if c.quantizer == "fsq"
                 else f"K = {c.num_codes}, D = {c.code_dim}")
        self.description = f"vae_core VQ-VAE ({codes})"

    def parameters(self):
        return self.vq.parameters()

    @property
    def codebook(self):
        return outward(self.vq.codebook)

    @property
    def num_codes(self):
        return self.vq.cfg.num_codes

    @property
    def grid_size(self):
        return self.vq.grid_size

    def encode(self, x):
        return outward(self.vq.encode(inward(x, *self.at)))

    def quantize(self, z_e):
        z_q, indices, _ = self.vq.quantize(inward(z_e, *self.at))
        return outward(z_q), outward(indices)

    def decode(self, z_q):
        """The image the decoder draws, in [0, 1] (vae_core VQVAE.decode_location)."""
        return outward(self.vq.decode_location(inward(z_q, *self.at)))

    def decode_indices(self, grid):
        return outward(self.vq.decode_indices(inward(grid, *self.at)))

    def reconstruct(self, x):
        return outward(self.vq.reconstruct(inward(x, *self.at)))
