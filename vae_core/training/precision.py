"""Mixed precision for training: bf16 autocast where the hardware computes bf16 natively.

On CUDA, and on CPUs whose oneDNN has native bf16 (AMX or AVX512-BF16), the convolutions of a conv model run in
bf16 with channels-last (NHWC) tensors (on a CPU they are NHWC in float32 too), which trains faster (docs/benchmarks.md,
"What the conv VAE's recipe is worth").
Weights, optimizer state, losses and the VQ codebook stay in float32; evaluation runs in float32.
The MLP preset stays in float32 on a CPU: its dense layers gain nothing from bf16 there.
"""
from contextlib import nullcontext
from functools import cache

import torch

from ..config import Config


@cache
def cpu_has_bf16() -> bool:
    """True where oneDNN runs bf16 natively (AMX or AVX512-BF16)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def uses_bf16(cfg: Config, device: torch.device) -> bool:
    if not cfg.amp:
        return False
    if device.type == "cuda":
        return True
    return device.type == "cpu" and cfg.arch == "conv" and cpu_has_bf16()


def autocast(cfg: Config, device: torch.device):
    """The context to run a training forward pass in: bf16 autocast, or nothing."""
    return torch.autocast(device.type, dtype=torch.bfloat16) if uses_bf16(cfg, device) else nullcontext()


def memory_format(cfg: Config, device: torch.device) -> torch.memory_format:
    """channels_last for conv models on a CPU, and in bf16 on CUDA: oneDNN's fast kernels are NHWC in float32 too
    (docs/benchmarks.md, "What each CPU change bought"), as are cuDNN's bf16 ones."""
    nhwc = cfg.arch == "conv" and (device.type == "cpu" or uses_bf16(cfg, device))
    return torch.channels_last if nhwc else torch.contiguous_format


def training_model(model: torch.nn.Module, cfg: Config, device: torch.device) -> torch.nn.Module:
    """The model on `device`, its conv weights in the training layout."""
    return model.to(device, memory_format=memory_format(cfg, device))


def training_losses(net, x: torch.Tensor, cfg: Config, device: torch.device) -> dict[str, torch.Tensor]:
    """net(x), the model's loss dict, in the training precision and layout (vae_core.train and the benchmarks)."""
    with autocast(cfg, device):
        return net(x.contiguous(memory_format=memory_format(cfg, device)))
