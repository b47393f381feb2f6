"""The playground's controls as one frozen dataclass, each checked against its range with a message that says
what to enter instead (an image set that is not installed is refused too). `shape` names the settings that need a
fresh model (the run restarts when one changes); the others take effect at the next step. `steps_per_scene` is
slow motion: that many steps between drawn scenes, and the scenes come slower (pool.py, the canvas)."""
from dataclasses import dataclass, fields, replace

from explorer.errors import PlaygroundError
from explorer.playground.data import IMAGE_SETS, TOY_SETS, missing

MODEL_KINDS = ("vae", "vqvae")
CODEBOOKS = ("ema", "loss")
ARCHS = ("mlp", "conv")  # the image VAE's body (the VQ-VAE's is always conv)
DATA_SETS = (*TOY_SETS, *IMAGE_SETS)
SPEEDS = (0, 10, 1)  # steps per scene: full speed, slow motion, one step a scene
RESTART_THRESHOLD = 0.33  # dead-code restarts on: vae_core's default dead_threshold; off: 0


@dataclass(frozen=True)
class PlaygroundSettings:
    model: str = "vae"  # vae or vqvae
    data: str = "moons"  # a toy set or an image set (data.py)
    seed: int = 0
    latent_dim: int = 2  # the VAE's latent: 1 or 2
    arch: str = "mlp"  # the image VAE's body: mlp or conv
    lr: float = 3e-3  # Adam's learning rate
    batch_size: int = 128
    mc_samples: int = 1  # L samples of z per point
    beta: float = 1.0  # weight on the KL term
    num_codes: int = 16  # K
    commitment: float = 0.25
    codebook_weight: float = 1.0  # of the codebook loss (codebook = loss)
    codebook: str = "ema"  # ema or loss
    ema_decay: float = 0.9
    kmeans_init: bool = True
    restarts: bool = True  # dead-code restarts
    steps_per_scene: int = 0  # slow motion: this many steps per drawn scene (0: as many as a time slice holds)

    def shape(self) -> tuple:
        """What a fresh model is built from: a change restarts the run."""
        arch = self.arch if self.is_images else None  # points have one body
        return (self.model, self.data, self.seed, self.latent_dim, arch, self.num_codes, self.codebook,
                self.kmeans_init)

    @property
    def is_images(self) -> bool:
        return self.data in IMAGE_SETS

    @property
    def dead_threshold(self) -> float:
        return RESTART_THRESHOLD if self.restarts else 0.0


# (low, high) of each numeric control, both included
RANGES = {"seed": (0, 2**31 - 1), "latent_dim": (1, 2), "lr": (1e-5, 0.1), "batch_size": (8, 1024),
          "mc_samples": (1, 64), "beta": (0.0, 10.0), "num_codes": (2, 64), "commitment": (0.0, 10.0),
          "codebook_weight": (0.0, 10.0), "ema_decay": (0.5, 0.999), "steps_per_scene": (0, 100)}
CHOICES = {"model": MODEL_KINDS, "data": DATA_SETS, "codebook": CODEBOOKS, "arch": ARCHS}
INTEGERS = {"seed", "latent_dim", "batch_size", "mc_samples", "num_codes", "steps_per_scene"}
LABELS = {"seed": "seed", "latent_dim": "latent size", "lr": "learning rate", "batch_size": "batch size",
          "mc_samples": "L (samples of z)", "beta": "beta", "num_codes": "K (codes)", "commitment": "commitment weight",
          "codebook_weight": "codebook weight", "ema_decay": "EMA decay",
          "steps_per_scene": "steps per scene"}


def check_settings(values: dict, base: PlaygroundSettings = PlaygroundSettings()) -> PlaygroundSettings:
    """`base` with `values` ({name: value}, None: keep base's) checked: raises PlaygroundError naming the control and
    its range."""
    known = {f.name for f in fields(PlaygroundSettings)}
    changes = {}
    for name, value in values.items():
        if name not in known:
            raise PlaygroundError(f"unknown playground control {name!r}")
        if value is None:
            continue
        if name in CHOICES:
            if value not in CHOICES[name]:
                raise PlaygroundError(f"{name} must be one of {', '.join(CHOICES[name])}, got {value!r}")
            if name == "data" and missing(value):
                raise PlaygroundError(missing(value))
        elif name in ("kmeans_init", "restarts"):
            value = bool(value)
        else:
            low, high = RANGES[name]
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise PlaygroundError(f"{LABELS[name]} must be a number from {low:g} to {high:g}") from None
            if not low <= number <= high:  # nan fails too
                raise PlaygroundError(f"{LABELS[name]} must be from {low:g} to {high:g}, got {value}: enter a value "
                                      "in that range")
            if name in INTEGERS:
                if number != int(number):
                    raise PlaygroundError(f"{LABELS[name]} must be a whole number, got {value}")
                number = int(number)
            if name == "steps_per_scene" and number not in SPEEDS:
                raise PlaygroundError(f"steps per scene must be one of {', '.join(map(str, SPEEDS))} (0: full "
                                      f"speed), got {value}")
            value = number
        changes[name] = value
    return replace(base, **changes)
