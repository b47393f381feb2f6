"""An image batch fitted to another model's input: channels (grey <-> RGB) and size, so that two models with
different inputs (a 28 x 28 grey VAE beside a 64 x 64 RGB VQ-VAE) can reconstruct the same image side by side.

    grey -> RGB: the grey value in each channel;  RGB -> grey: 0.299 R + 0.587 G + 0.114 B (ITU-R 601, as PIL's "L")
    size: bilinear with antialiasing (area-like when shrinking)
"""
import torch
from torch.nn import functional as F

LUMA = (0.299, 0.587, 0.114)


def fit(x: torch.Tensor, shape: tuple[int, int, int]) -> torch.Tensor:
    """x (B, C, H, W) in [0, 1] as (B, *shape); unchanged when it already has that shape."""
    c, h, w = shape
    if x.shape[1] != c:
        if c == 3:
            x = x.expand(-1, 3, -1, -1)  # grey in every channel
        else:
            x = (x * torch.tensor(LUMA, dtype=x.dtype).view(1, 3, 1, 1)).sum(1, keepdim=True)  # luma
    if tuple(x.shape[2:]) != (h, w):
        x = F.interpolate(x, size=(h, w), mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)
    return x.contiguous()
