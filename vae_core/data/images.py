"""Turn image tensors into PIL images and grids (for the trainer's progress PNGs and the explorer)."""
import numpy as np
import torch
from PIL import Image


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """(C, H, W) or (N, C, H, W) floats in [0, 1] -> uint8 HWC (or NHWC) array."""
    a = (x.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
    return np.moveaxis(a, -3, -1)


def to_pil(x: torch.Tensor, scale: int = 1) -> Image.Image:
    """One image (C, H, W) in [0, 1] -> PIL image, enlarged `scale` times with nearest-neighbour pixels."""
    a = to_uint8(x)
    im = Image.fromarray(a[..., 0] if a.shape[-1] == 1 else a)
    return im.resize((im.width * scale, im.height * scale), Image.NEAREST) if scale > 1 else im


def make_grid(x: torch.Tensor, nrow: int = 8, pad: int = 2) -> torch.Tensor:
    """(N, C, H, W) -> one (C, H', W') image with the N images in rows of nrow, on a white background."""
    n, c, h, w = x.shape
    rows = (n + nrow - 1) // nrow
    grid = torch.ones(c, rows * (h + pad) + pad, nrow * (w + pad) + pad)
    for i in range(n):
        r, k = divmod(i, nrow)
        grid[:, pad + r * (h + pad): pad + r * (h + pad) + h, pad + k * (w + pad): pad + k * (w + pad) + w] = x[i]
    return grid


def save_grid(x: torch.Tensor, path, nrow: int = 8, scale: int = 2) -> None:
    to_pil(make_grid(x.cpu(), nrow), scale).save(path)
