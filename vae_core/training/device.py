"""Which device to train on, and the batch size and learning rate that fit it."""
import torch

# (batch size, Adam lr) by device type, the best of sweeps at equal wall-clock on an H200 and on the 2-core CPU
# (docs/benchmarks.md, "The trainer's command against the example's script"). Other devices (MPS) are unmeasured
# and keep the CPU's values.
TRAINING_DEFAULTS = {"cuda": (512, 3e-3), "cpu": (64, 3e-3)}


def pick_device(name: str = "auto") -> torch.device:
    """CUDA if present, else Apple's MPS, else the CPU; `name` forces one."""
    if name != "auto":
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def training_defaults(device: torch.device | str) -> tuple[int, float]:
    """(batch size, lr) for `python -m vae_core.train` on `device` when --batch-size / --lr are not given."""
    return TRAINING_DEFAULTS.get(torch.device(device).type, TRAINING_DEFAULTS["cpu"])


def adam(params, lr: float, device: torch.device | str) -> torch.optim.Adam:
    """Adam; on a CPU or CUDA its fused kernel, one pass over all the parameters per step instead of a dozen small
    ops per tensor (the same update up to float rounding; docs/benchmarks.md, "What each CPU change bought"). The
    fused kernel walks raw memory: a parameter, its gradient and its moments must share strides. Autograd gives
    gradients their parameter's strides; moments restored from a checkpoint are put in them by
    vae_core.training.run_folder.restore_training_state."""
    return torch.optim.Adam(params, lr=lr, fused=torch.device(device).type in ("cpu", "cuda"))
