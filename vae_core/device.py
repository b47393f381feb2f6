import torch


def pick_device(name: str = "auto") -> torch.device:
    """CUDA if present, else Apple's MPS, else the CPU; `name` forces one."""
    if name != "auto":
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
