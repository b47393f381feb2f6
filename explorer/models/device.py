"""Where a model runs: the device named by --device, chosen once when the explorer starts; the precision each kind of
model runs in there; whether its weights fit; and how tensors cross the door.

    choose_device("auto" | "cpu" | "cuda" | "cuda:N" | "mps")  -> torch.device, or DeviceUnavailable saying what to do
                                                                (a device asked for is never replaced by the CPU)
    half_dtype(device)    the precision of a model that allows half precision (diffusers): bfloat16 on a CUDA device
                          that has it (float16's range overflows in some autoencoders), else float16; float32 on the CPU
    check_fits(...)       ModelTooLarge when weights (numbers x bytes per number) exceed the device's free memory
    inward / outward      every model method takes CPU tensors and gives CPU float32 ones: inputs are moved and cast
                          to the weights' device and dtype on the way in, outputs back on the way out
"""
import json
import math
import struct
from pathlib import Path

import torch

from explorer.errors import DeviceUnavailable, ModelTooLarge
from vae_core.training.device import pick_device

CPU = torch.device("cpu")
DEVICE_HELP = ("where the models run: auto (CUDA, else MPS, else the CPU), cpu, cuda, cuda:N or mps; a device that is "
               "not here is refused, never replaced by the CPU (default auto)")
MEMINFO = Path("/proc/meminfo")


def choose_device(name: str | torch.device = "auto") -> torch.device:
    """The device `name` asks for: "auto" is CUDA if present, else MPS, else the CPU; a named one must be here."""
    text = str(name).strip().lower()
    if text == "auto":
        text = pick_device("auto").type
    try:
        device = torch.device(text)
    except RuntimeError:
        device = None
    if device is None or device.type not in ("cpu", "cuda", "mps"):
        raise DeviceUnavailable(f"unknown device {name!r}: use auto, cpu, cuda (or cuda:N, N counting from 0) or mps")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceUnavailable("no CUDA device here (torch.cuda.is_available() is False): use --device cpu or "
                                    "auto, or install a CUDA build of torch")
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise DeviceUnavailable(f"no {text} here: this machine has {count} CUDA device{'s' * (count != 1)} "
                                    f"(cuda:0 to cuda:{count - 1}); use one of them, or --device cuda")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise DeviceUnavailable("no MPS device here (torch.backends.mps.is_available() is False; MPS needs Apple "
                                "silicon and macOS 12.3 or later): use --device cpu or auto")
    if device.type != "cpu" and device.index is None:  # as its weights will say they are: cuda:0, not cuda
        device = torch.device(device.type, torch.cuda.current_device() if device.type == "cuda" else 0)
    return device


def half_dtype(device: torch.device) -> torch.dtype:
    """The dtype of a model that allows half precision on `device`: float32 on the CPU (its half precision is slow
    without native support, and changes the numbers users know)."""
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "mps":
        return torch.float16
    return torch.float32


def stored_numbers(path: str | Path) -> int:
    """How many numbers a safetensors file holds, from its header alone (no weights are read)."""
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
    return sum(math.prod(t["shape"]) for k, t in header.items() if k != "__metadata__")


def available_ram(meminfo: str) -> int | None:
    """MemAvailable of a /proc/meminfo text, in bytes (None when it has none)."""
    for line in meminfo.splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024  # kB
    return None


def free_bytes(device: torch.device) -> int | None:
    """Memory free on `device` for new weights, in bytes; None when this machine cannot say."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    if device.type == "mps" and hasattr(torch.mps, "recommended_max_memory"):
        return int(torch.mps.recommended_max_memory() - torch.mps.current_allocated_memory())
    if device.type == "cpu" and MEMINFO.exists():
        return available_ram(MEMINFO.read_text())
    return None


def size_text(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.1f} GiB" if n_bytes >= 2**30 else f"{n_bytes / 2**20:.1f} MiB"


def check_fits(name: str, numbers: int, dtype: torch.dtype, free: int | None, device: torch.device) -> None:
    """ModelTooLarge when `numbers` weights in `dtype` take more than `free` bytes (None: unknown, not refused)."""
    need = numbers * dtype.itemsize  # bytes = numbers x bytes per number
    if free is not None and need > free:
        raise ModelTooLarge(f"{name} does not fit on {device}: its weights take {size_text(need)} ({numbers:,} "
                            f"numbers in {str(dtype).removeprefix('torch.')}) and {size_text(free)} is free there. "
                            "Free some memory, or choose another --device.")


def placement(parameters) -> tuple[torch.device, torch.dtype]:
    """Where a model's weights are and their dtype: its first floating parameter's (CPU float32 without one)."""
    for p in parameters:
        if p.is_floating_point():
            return p.device, p.dtype
    return CPU, torch.float32


def inward(x: torch.Tensor, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """An input on the model's device; floats in the model's dtype, integers (code grids) as they are."""
    return x.to(device, dtype) if x.is_floating_point() else x.to(device)


def outward(y: torch.Tensor) -> torch.Tensor:
    """An output back on the CPU; floats as float32."""
    return y.float().cpu() if y.is_floating_point() else y.cpu()


def generator_on(generator: torch.Generator | None, device: torch.device) -> torch.Generator | None:
    """A generator on `device` for draws the model makes there: `generator` itself when it is there, else one seeded
    from a draw of it (so a seeded CPU generator still gives repeatable draws on any device)."""
    if generator is None or generator.device.type == device.type:
        return generator
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    return torch.Generator(device).manual_seed(seed)
