"""One configuration dataclass for models and training; it round-trips to JSON.

A checkpoint's `config.json` is `Config.to_dict()` plus the metrics measured for it.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

MODELS = ("vae", "vqvae", "prior")  # prior: over a VQ-VAE's code grids (vae_core.train_prior)
ARCHS = ("conv", "mlp")
LIKELIHOODS = ("bernoulli", "discretized_logistic", "discretized_gaussian")
SCALES = ("decoder", "shared", "fixed")
# likelihoods of checkpoints written before 0.3.0: (likelihood, scale) they load as
LEGACY_LIKELIHOODS = {"gaussian": ("discretized_gaussian", "shared"), "gaussian_fixed": ("discretized_gaussian", "fixed")}
CODEBOOKS = ("ema", "loss")
COMPILE_MODES = ("", "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")  # "": eager


@dataclass
class Config:
    # --- model ---
    model: str = "vae"  # vae | vqvae | prior
    arch: str = "conv"  # conv | mlp (the MLP is the classic 784-400-latent VAE)
    channels: int = 1  # image channels (1 or 3)
    image_size: int = 28  # height = width, divisible by 4
    width: int = 32  # conv channels at H/2 (2 width at H/4); the VAE's encoder has half as many
    hidden: int = 400  # MLP hidden units
    latent_dim: int = 16  # VAE latent size
    likelihood: str = "discretized_logistic"  # bernoulli | discretized_logistic | discretized_gaussian
    scale: str = "decoder"  # scale of a discretised likelihood: decoder (output per pixel) | shared | fixed
    fixed_scale: float = 0.1  # the scale when scale = fixed
    beta: float = 1.0  # weight on KL(q(z|x) || N(0, I))
    mc_samples: int = 1  # L, Monte Carlo samples of z per image
    num_codes: int = 512  # K, VQ-VAE codebook size
    code_dim: int = 64  # D, VQ-VAE code vector size
    res_blocks: int = 2  # VQ-VAE residual blocks at H/4, in the encoder and in the decoder each
    commitment: float = 0.25  # beta of the commitment term ||z_e - sg[e]||^2
    codebook: str = "ema"  # ema | loss
    codebook_weight: float = 1.0  # weight of the codebook term ||sg[z_e] - e||^2 (codebook="loss" only)
    ema_decay: float = 0.9  # of the EMA codebook and code counts (0.9 beat 0.99 in benchmarks/quantizer_benchmark.py)
    dead_threshold: float = 0.33  # a code whose EMA count falls under this share of an equal split is restarted
    kmeans_init: bool = True  # codes start at k-means centroids of the first batch (else at random vectors of it)
    # --- prior over a VQ-VAE's code grids (model = prior: num_codes and image_size are the VQ-VAE's) ---
    prior_layers: int = 2  # transformer blocks
    prior_heads: int = 4  # attention heads per block
    prior_dim: int = 128  # embedding width (a multiple of prior_heads)
    prior_dropout: float = 0.0  # on attention weights and block outputs, in training
    # --- data and training ---
    data: str = "fashion-mnist"
    data_dir: str = ""
    epochs: int = 20
    batch_size: int = 64
    lr: float = 3e-3  # Adam
    warmdown: float = 0.5  # the last share of training, over which the lr falls linearly to 0 (0: constant lr)
    seed: int = 0
    time_budget: float = 0.0  # seconds of wall-clock for the whole run, evaluation included (0: none)
    amp: bool = True  # bf16 autocast on CUDA, and for conv models on CPUs with native bf16 (precision.py)
    compile: str = ""  # torch.compile mode of the training forward pass ("": none; vae_core/compiled.py)
    # --- recorded, not set by hand ---
    label_names: list[str] = field(default_factory=list)
    version: str = ""
    metrics: dict = field(default_factory=dict)

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """Raise ValueError with a message that says what to change."""
        checks = [
            (self.model in MODELS, f"model must be one of {MODELS}, got {self.model!r}"),
            (self.arch in ARCHS, f"arch must be one of {ARCHS}, got {self.arch!r}"),
            (self.likelihood in LIKELIHOODS, f"likelihood must be one of {LIKELIHOODS}, got {self.likelihood!r}"),
            (self.scale in SCALES, f"scale must be one of {SCALES}, got {self.scale!r}"),
            (self.fixed_scale > 0, f"fixed_scale must be positive, got {self.fixed_scale}"),
            (self.codebook in CODEBOOKS, f"codebook must be one of {CODEBOOKS}, got {self.codebook!r}"),
            (self.channels in (1, 3), f"channels must be 1 or 3, got {self.channels}"),
            (self.image_size >= 8 and self.image_size % 4 == 0,
             f"image_size must be a multiple of 4 and at least 8, got {self.image_size}"),
            (self.width >= 2, f"width must be at least 2, got {self.width}"),
            (self.batch_size >= 1, f"batch_size must be at least 1, got {self.batch_size}"),
            (self.lr > 0, f"lr must be positive, got {self.lr}"),
            (self.time_budget >= 0, f"time_budget must be 0 (none) or positive, got {self.time_budget}"),
            (self.compile in COMPILE_MODES, f"compile must be one of {COMPILE_MODES}, got {self.compile!r}"),
            (0 <= self.warmdown <= 1, f"warmdown must be in 0..1, got {self.warmdown}"),
            (1 <= self.latent_dim <= 1024, f"latent_dim must be in 1..1024, got {self.latent_dim}"),
            (self.num_codes >= 2, f"num_codes must be at least 2, got {self.num_codes}"),
            (self.res_blocks >= 0, f"res_blocks must be 0 or more, got {self.res_blocks}"),
            (0 <= self.dead_threshold < 1, f"dead_threshold must be in [0, 1), got {self.dead_threshold}"),
            (self.mc_samples >= 1, f"mc_samples must be at least 1, got {self.mc_samples}"),
            (not (self.model == "vqvae" and self.arch == "mlp"), "the VQ-VAE has no MLP preset: use arch=conv"),
            (self.prior_layers >= 1 and self.prior_heads >= 1, "prior_layers and prior_heads must be at least 1"),
            (self.prior_dim % self.prior_heads == 0,
             f"prior_dim ({self.prior_dim}) must be a multiple of prior_heads ({self.prior_heads})"),
            (0 <= self.prior_dropout < 1, f"prior_dropout must be in [0, 1), got {self.prior_dropout}"),
            (not (self.model == "prior" and self.likelihood == "bernoulli"),
             "the prior's decoder likelihood must be discretised: discretized_logistic or discretized_gaussian"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.channels, self.image_size, self.image_size)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Config:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"config.json has unknown keys {unknown}; was it written by another program?")
        d = dict(d)
        if d.get("likelihood") in LEGACY_LIKELIHOODS:  # continuous Gaussians now load as discretised ones
            d["likelihood"], d["scale"] = LEGACY_LIKELIHOODS[d["likelihood"]]
        return cls(**d)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2))

    @classmethod
    def load(cls, path: str | Path) -> Config:
        return cls.from_dict(json.loads(Path(path).read_text()))
