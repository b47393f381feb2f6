"""Images in and out of the app: read any upload safely, and draw tensors, strips and error maps."""
import base64
import io

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from explorer.errors import ImageInputError
from vae_core.data.images import make_grid, to_pil

MAX_PIXELS = 40_000_000  # uploads larger than this are refused (JPEGs are first decoded at reduced size)
DISPLAY = 224  # side in pixels of the images the app shows


def _to_8bit(im: Image.Image) -> Image.Image:
    """Any PIL mode -> 'L' or 'RGB' (alpha composited on black, 16-bit and float scaled to 0..255)."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        a = np.asarray(im, dtype=np.float64)
        hi = 65535.0 if im.mode.startswith("I;16") or a.max() > 255 else 255.0
        return Image.fromarray(np.clip(a / hi * 255.0, 0, 255).astype(np.uint8), "L")
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        black = Image.new("RGBA", im.size, (0, 0, 0, 255))
        return Image.alpha_composite(black, im).convert("RGB")
    if im.mode in ("L", "RGB"):
        return im
    return im.convert("L" if im.mode == "1" else "RGB")


def load_upload(source, channels: int, size: int) -> tuple[np.ndarray, str]:
    """Read an uploaded image (path, file object or PIL image) as uint8 (C, size, size) and a note of changes.

    The image is fitted inside a square (padded with black, as in Fashion-MNIST) and converted to the model's
    channels. Non-images, truncated files and images over MAX_PIXELS raise ImageInputError.
    """
    if source is None or (isinstance(source, str) and not source):
        raise ImageInputError("no image given: upload a PNG or JPEG")
    try:
        im = source if isinstance(source, Image.Image) else Image.open(source)
        w, h = im.size
        if w * h > MAX_PIXELS and im.format == "JPEG":
            im.draft("RGB" if im.mode != "L" else "L", (max(size, 1024), max(size, 1024)))
        if im.size[0] * im.size[1] > MAX_PIXELS:
            raise ImageInputError(f"image is {w}x{h} pixels; the limit is {MAX_PIXELS // 1_000_000} megapixels. "
                                  "Downscale it and upload again")
        mode = im.mode
        im = _to_8bit(ImageOps.exif_transpose(im) if im.format == "JPEG" else im)
        im.load()
    except ImageInputError:
        raise
    except Image.DecompressionBombError as e:
        raise ImageInputError(f"image too large to open safely ({e}); the limit is "
                              f"{MAX_PIXELS // 1_000_000} megapixels. Downscale it and upload again") from e
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise ImageInputError(f"could not read the upload as an image ({e}); upload a PNG or JPEG") from e
    im = ImageOps.pad(im, (size, size), method=Image.BILINEAR, color=0)
    im = im.convert("L" if channels == 1 else "RGB")
    a = np.asarray(im)
    a = a[None] if channels == 1 else a.transpose(2, 0, 1)
    note = f"converted from {w}x{h} {mode} to {size}x{size} {'grey' if channels == 1 else 'RGB'}"
    if w != h:
        note += " (padded to a square)"
    return np.ascontiguousarray(a), ("" if (w, h) == (size, size) and im.mode == mode else note)


def show(x: torch.Tensor, side: int = DISPLAY) -> Image.Image:
    """One image (C, H, W) in [0, 1] enlarged to about `side` pixels with sharp pixels (side 0: as it is)."""
    return to_pil(x, max(1, side // x.shape[-1]))


def strip(x: torch.Tensor, side: int = 112) -> Image.Image:
    """(N, C, H, W) -> one row of images."""
    return to_pil(make_grid(x.cpu(), nrow=len(x)), max(1, side // x.shape[-1]))


def error_map(x: torch.Tensor, x_hat: torch.Tensor, side: int = DISPLAY) -> Image.Image:
    """|x - x_hat| per pixel (mean over channels), coloured black -> red -> yellow -> white, full scale at 0.5."""
    e = (x - x_hat).abs().mean(0).clamp(0, 0.5).cpu().numpy() / 0.5
    rgb = np.stack([np.clip(3 * e, 0, 1), np.clip(3 * e - 1, 0, 1), np.clip(3 * e - 2, 0, 1)], -1)
    im = Image.fromarray((rgb * 255).round().astype(np.uint8), "RGB")
    k = max(1, side // im.width)
    return im.resize((im.width * k, im.height * k), Image.NEAREST)


def data_uri(im: Image.Image) -> str:
    """PNG data URI of a PIL image, for inlining in HTML."""
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=False, compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
