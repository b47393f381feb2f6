"""One configuration dataclass for models and training; it round-trips to JSON.

Each setting is documented once, here, in its field's metadata: the commands' --help is generated from it
(`python -m vae_core.train`, `python -m vae_core.train_prior`). A checkpoint's `config.json` is
`Config.to_dict()`: the settings, and under "record" what the run recorded (`Record`: metrics, label names,
version), which training never writes into the caller's Config.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

MODELS = ("vae", "vqvae", "prior", "latent_prior")  # prior: over a VQ-VAE's code grids (vae_core.train_prior);
# latent_prior: a density over a VAE's z fitted to its aggregate posterior (vae_core.fit_prior)
COVARIANCES = ("full", "diag")
FIT_ON = ("samples", "means")
ARCHS = ("conv", "mlp")
LIKELIHOODS = ("bernoulli", "discretized_logistic", "discretized_gaussian")
SCALES = ("decoder", "shared", "shared_scalar", "optimal", "fixed")
# likelihoods of checkpoints written before 0.3.0: (likelihood, scale) they load as
LEGACY_LIKELIHOODS = {"gaussian": ("discretized_gaussian", "shared"),
                      "gaussian_fixed": ("discretized_gaussian", "fixed")}
CODEBOOKS = ("ema", "loss")
QUANTIZERS = ("vq", "fsq")
VQ_LIKELIHOODS = ("mse", "discretized_logistic", "discretized_gaussian")
COMPILE_MODES = ("", "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")  # "": eager


def parse_levels(levels: str) -> tuple[int, ...]:
    """(8, 8, 8) for "8,8,8"; ValueError for anything else."""
    return tuple(int(part) for part in levels.split(","))


def levels_ok(levels: str) -> bool:
    """True for comma-separated level counts, each at least 2."""
    try:
        return all(n >= 2 for n in parse_levels(levels))
    except ValueError:
        return False


def fsq_codes(levels: str) -> int:
    """K = prod_i L_i, the size of FSQ's grid of levels."""
    k = 1
    for n in parse_levels(levels):
        k *= n
    return k


NOT_FOR_PRIOR = object()  # metadata "prior" / "fit_prior": a setting that prior's command does not take


def setting(default, help: str, prior=NOT_FOR_PRIOR, fit_prior=NOT_FOR_PRIOR):
    """A Config field with its help text (the commands' --help is generated from it) and, where
    `python -m vae_core.train_prior` takes it too, the prior's default (`prior`); where `python -m
    vae_core.fit_prior` (a VAE's fitted latent prior) takes it, that command's default (`fit_prior`)."""
    return field(default=default, metadata={"help": help, "prior": prior, "fit_prior": fit_prior})


@dataclass
class Record:
    """What a run recorded about itself, apart from the settings that made it: config.json's "record"."""

    label_names: list[str] = field(default_factory=list)  # the data set's class names
    version: str = ""  # of vae_core, when the checkpoint was saved
    metrics: dict = field(default_factory=dict)  # the last evaluation (the split it ran on: metrics["split"])
    trained_on: str = ""  # a prior: SHA-256 of the VQ-VAE (VAE) weights file whose codes (latents) it was fitted to

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


RECORDED = tuple(f.name for f in dataclasses.fields(Record))  # the top-level keys of configs before Record


@dataclass
class Config:
    # --- model ---
    model: str = setting("vae", "vae or vqvae")
    arch: str = setting("conv", "conv, or mlp for the classic 784-400-latent VAE")
    channels: int = setting(1, "image channels, 1 or 3 (default: the data set's)")
    image_size: int = setting(28, "image side, divisible by 4 (default: the data set's)")
    width: int = setting(32, "conv channels at half the image size (twice as many at a quarter); the VAE encoder "
                             "has half as many")
    hidden: int = setting(400, "hidden units of the MLP preset")
    latent_dim: int = setting(16, "VAE latent size")
    likelihood: str = setting("discretized_logistic",
                              "p(x|z): discretized_logistic or discretized_gaussian (normalised over the 256 grey "
                              "levels, so -log p is a code length), or bernoulli (for binary images; on grey ones a "
                              "loss, not a likelihood)")
    scale: str = setting("decoder", "scale of a discretised likelihood: decoder (the decoder outputs it per pixel, "
                                    "a function of z), shared (one learned value per pixel, the same for every "
                                    "image), shared_scalar (one learned value for every pixel and image: the "
                                    "sigma-VAE's shared scale), optimal (the sigma-VAE's calibrated decoder: in "
                                    "training each batch's closed-form optimum, matched to its MSE; at evaluation "
                                    "the fixed average of the training batches', so -log p stays a code length) or "
                                    "fixed (--fixed-scale). docs/benchmarks.md compares them at equal training")
    fixed_scale: float = setting(0.1, "the scale when --scale fixed")
    beta: float = setting(1.0, "weight on the KL term KL(q(z|x) || N(0, I))")
    mc_samples: int = setting(1, "Monte Carlo samples L of z per image")
    num_codes: int = setting(512, "VQ-VAE codebook size K (with --quantizer fsq: the product of --fsq-levels, "
                                  "which the trainer fills in when it is not given)")
    code_dim: int = setting(64, "VQ-VAE code vector size D (--quantizer vq; FSQ's codes have one number per level "
                                "count of --fsq-levels)")
    quantizer: str = setting("vq", "vq (nearest of K learned codes) or fsq (finite scalar quantisation: each of a "
                                   "cell's numbers bounded and rounded to one of its --fsq-levels; the codebook is "
                                   "the fixed grid of levels, so there are no codebook or commitment terms and no "
                                   "dead-code restarts: --codebook, --commitment, --ema-decay, --dead-threshold and "
                                   "--kmeans-init do not apply)")
    fsq_levels: str = setting("8,8,8", "levels per number of an FSQ code, comma-separated: 8,8,8 gives K = 512 "
                                       "codes of 3 numbers (--quantizer fsq)")
    vq_likelihood: str = setting("mse", "the VQ-VAE's reconstruction term: mse (squared error; the likelihood "
                                        "bound then fits one scale per pixel with the prior) or "
                                        "discretized_logistic / discretized_gaussian (-log p(x|z_q), the decoder "
                                        "outputting a location and a log scale per pixel, as the VAE's --scale "
                                        "decoder; the shipped fashion-vqvae: the shorter code length and the "
                                        "better samples at equal time, docs/benchmarks.md)")
    res_blocks: int = setting(2, "VQ-VAE residual blocks at a quarter of the image size, in the encoder and the "
                                 "decoder each")
    commitment: float = setting(0.25, "weight of the commitment term ||z_e - sg[e]||^2 (beta of the VQ-VAE paper)")
    codebook: str = setting("ema", "ema (EMA updates) or loss (codebook loss term)")
    codebook_weight: float = setting(1.0, "weight of the codebook term ||sg[z_e] - e||^2 (--codebook loss)")
    ema_decay: float = setting(0.9, "decay of the EMA codebook and code counts (benchmarks/quantizer_benchmark.py "
                                    "compares decays on the validation split)")
    dead_threshold: float = setting(0.33, "restart a code whose EMA count of vectors per batch falls under this "
                                          "share of an equal split (0: never)")
    kmeans_init: bool = setting(True, "start the codes at k-means centroids of the first batch (--no-kmeans-init: "
                                      "at random vectors of it)")
    # --- prior over a VQ-VAE's code grids (model = prior: num_codes and image_size are the VQ-VAE's) ---
    # vae_core.train_prior takes them without the prefix: --layers, --heads, --dim, --dropout
    prior_layers: int = setting(2, "transformer blocks", prior=2)
    prior_heads: int = setting(4, "attention heads per block", prior=4)
    prior_dim: int = setting(128, "embedding width (a multiple of the heads)", prior=128)
    prior_dropout: float = setting(0.0, "dropout on attention weights and block outputs, in training", prior=0.0)
    # --- a VAE's fitted prior over z (model = latent_prior: latent_dim is the VAE's), a Gaussian mixture ---
    # vae_core.fit_prior takes them without the prefix: --components, --covariance, --fit-on, --draws, --iterations
    gmm_components: int = setting(100, "mixture components K", fit_prior=100)
    gmm_covariance: str = setting("full", "each component's covariance: full, or diag (diagonal)", fit_prior="full")
    gmm_fit_on: str = setting("samples", "what EM fits: samples (z ~ q(z|x) of each training image, the aggregate "
                                         "posterior) or means (the posterior means mu(x))", fit_prior="samples")
    gmm_draws: int = setting(1, "z ~ q(z|x) drawn per training image (--fit-on samples)", fit_prior=1)
    gmm_iterations: int = setting(60, "most EM iterations (EM stops sooner when the training log-likelihood "
                                       "gains under 1e-5 nats per point)", fit_prior=60)
    # --- data and training ---
    data: str = setting("fashion-mnist", "fashion-mnist, mnist, digits, a folder of IDX files or images, or an .npz")
    data_dir: str = setting("", "folder to look for named data sets in before /usr/share/datasets and downloading",
                            prior="", fit_prior="")
    validation: int = setting(-1, "training images held out (seeded) as the validation split, on which each "
                                  "epoch is evaluated and settings are chosen: -1 picks min(5000, a tenth of the "
                                  "training split); 0: none (each epoch is evaluated on the test split). A prior "
                                  "holds out its VQ-VAE's")
    epochs: int = setting(20, "total epochs (with --resume: train until this many; the lr decay spans all of them, "
                              "so extending a finished run raises the lr again)", prior=5)
    batch_size: int = setting(64, "images (code grids, for the prior) per step", prior=128)
    lr: float = setting(3e-3, "Adam learning rate", prior=2e-3)
    warmdown: float = setting(0.5, "share of training at its end over which the lr falls linearly to 0 "
                                   "(0: constant)", prior=0.5)
    seed: int = setting(0, "seed for initialisation, shuffling and sampling, and of the validation split "
                           "(a prior holds out its VQ-VAE's)", prior=0, fit_prior=0)
    time_budget: float = setting(0.0, "stop after this many seconds of wall-clock time since the command started "
                                      "(Python's start and imports included), evaluation and saving included, with "
                                      "the lr warm-down spread over them; --epochs becomes a cap (0: none); at most "
                                      "a fifth of it goes to evaluating and saving (short epochs are not each "
                                      "evaluated). Where the clock stops a run depends on the machine, so such "
                                      "runs are not bit-reproducible", prior=0.0, fit_prior=0.0)
    amp: bool = setting(True, "bf16 mixed precision on CUDA, and for conv models on CPUs with native bf16 (AMX, "
                              "AVX512-BF16)")
    compile: str = setting("", "torch.compile the training forward pass, in a mode: default (plain --compile), "
                               "reduce-overhead (CUDA graphs), max-autotune, max-autotune-no-cudagraphs. Compiling "
                               "takes seconds to minutes; it did not pay on the 2-core CPU (README, Benchmarks)")
    # --- what the run recorded (not a setting: config.json's "record"; see Record) ---
    record: Record = field(default_factory=Record, compare=False, repr=False)

    @property
    def metrics(self) -> dict:
        return self.record.metrics

    @property
    def label_names(self) -> list[str]:
        return self.record.label_names

    @property
    def version(self) -> str:
        return self.record.version

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
            (self.quantizer in QUANTIZERS, f"quantizer must be one of {QUANTIZERS}, got {self.quantizer!r}"),
            (self.vq_likelihood in VQ_LIKELIHOODS,
             f"vq_likelihood must be one of {VQ_LIKELIHOODS}, got {self.vq_likelihood!r}"),
            (levels_ok(self.fsq_levels),
             f"fsq_levels must be comma-separated level counts of at least 2, e.g. 8,8,8; got {self.fsq_levels!r}"),
            (self.quantizer != "fsq" or not levels_ok(self.fsq_levels) or self.num_codes == fsq_codes(self.fsq_levels),
             f"with --quantizer fsq the codebook is the grid of --fsq-levels {self.fsq_levels}: num_codes must be "
             f"their product, {fsq_codes(self.fsq_levels) if levels_ok(self.fsq_levels) else '?'}, "
             f"got {self.num_codes}"),
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
            (self.validation >= -1, f"validation must be -1 (auto), 0 (none) or an image count, got {self.validation}"),
            (self.mc_samples >= 1, f"mc_samples must be at least 1, got {self.mc_samples}"),
            (not (self.model == "vqvae" and self.arch == "mlp"), "the VQ-VAE has no MLP preset: use arch=conv"),
            (self.prior_layers >= 1 and self.prior_heads >= 1, "prior_layers and prior_heads must be at least 1"),
            (self.prior_dim % self.prior_heads == 0,
             f"prior_dim ({self.prior_dim}) must be a multiple of prior_heads ({self.prior_heads})"),
            (0 <= self.prior_dropout < 1, f"prior_dropout must be in [0, 1), got {self.prior_dropout}"),
            (self.gmm_components >= 1, f"gmm_components must be at least 1, got {self.gmm_components}"),
            (self.gmm_covariance in COVARIANCES,
             f"gmm_covariance must be one of {COVARIANCES}, got {self.gmm_covariance!r}"),
            (self.gmm_fit_on in FIT_ON, f"gmm_fit_on must be one of {FIT_ON}, got {self.gmm_fit_on!r}"),
            (self.gmm_draws >= 1, f"gmm_draws must be at least 1, got {self.gmm_draws}"),
            (self.gmm_iterations >= 1, f"gmm_iterations must be at least 1, got {self.gmm_iterations}"),
            (not (self.model == "prior" and self.likelihood == "bernoulli"),
             "the prior's decoder likelihood must be discretised: discretized_logistic or discretized_gaussian"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.channels, self.image_size, self.image_size)

    def settings(self) -> dict:
        """The settings alone, without the record."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "record"}

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "record": self.record.to_dict()}

    def with_record(self, record: Record) -> Config:
        """A copy of these settings carrying `record`; this Config is left as it is."""
        return dataclasses.replace(self, record=record)

    @classmethod
    def from_dict(cls, d: dict) -> Config:
        known = {f.name for f in dataclasses.fields(cls)} | set(RECORDED)
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"config.json has unknown keys {unknown}; was it written by another program?")
        d = dict(d)
        if d.get("likelihood") in LEGACY_LIKELIHOODS:  # continuous Gaussians now load as discretised ones
            d["likelihood"], d["scale"] = LEGACY_LIKELIHOODS[d["likelihood"]]
        d.setdefault("validation", 0)  # written before the validation split: evaluated on the test split
        d.setdefault("vq_likelihood", "mse")  # written before the option: trained for squared error
        record = dict(d.pop("record", {}) or {})
        record.update({k: d.pop(k) for k in RECORDED if k in d})  # written before Record: at the top level
        return cls(**d, record=Record(**record))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2))

    @classmethod
    def load(cls, path: str | Path) -> Config:
        return cls.from_dict(json.loads(Path(path).read_text()))
