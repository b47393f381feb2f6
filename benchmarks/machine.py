"""The machine a benchmark ran on, described in the same words by every benchmark.

machine() gives the CPU's model name, its core count, whether it runs bf16 natively (oneDNN with AMX or
AVX512-BF16: where vae_core trains conv models in bf16 by default), the torch version, and the GPU's name when the
benchmark runs on CUDA; describe() makes the one line each benchmark prints above its table.
"""
import os
import platform
from pathlib import Path

import torch


def cpu_name() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what the platform module says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def native_bf16() -> bool:
    """True where oneDNN runs bf16 natively on this CPU (AMX or AVX512-BF16)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def machine(device="cpu") -> dict:
    """The CPU's model name, cores, whether it has native bf16, torch, and the GPU's name on CUDA."""
    m = {"cpu": cpu_name(), "cores": os.cpu_count(), "cpu_native_bf16": native_bf16(), "torch": torch.__version__}
    if torch.device(device).type == "cuda":
        m["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return m


def describe(m: dict) -> str:
    """One line for a report: 'CPU <name> (<n> cores), native bf16: yes|no[, GPU <name>]; torch <version>'."""
    gpu = f", GPU {m['gpu']}" if "gpu" in m else ""
    return (f"CPU {m['cpu']} ({m['cores']} cores), native bf16: {'yes' if m['cpu_native_bf16'] else 'no'}{gpu}; "
            f"torch {m['torch']}")
