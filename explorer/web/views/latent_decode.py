"""How a view decodes its current latent for the page (map.py, maths.py): a fast model's full decode at once; a slow
model's (service/latent_map.py) preview at once, captioned "decoding...", with the request the page then sends for
the full decode, which runs in a worker thread (components/image.py)."""
import json

from PIL import Image

from explorer.service.explorer import Explorer
from explorer.web.components.image import decoded


def pending_decode(ex: Explorer, name: str, latent, index: int | None, what: str) -> tuple[dict, Image.Image | None]:
    """A slow model's latent image before its full decode, as components/image.py's decoded() with the model's name:
    its preview (or none), "decoding...", and the request the page sends for the full decode; and the preview image
    (None without one)."""
    preview, label = ex.map.decode_preview(name, list(latent)), ex.map.preview_label(name)
    pending = {"checkpoint": name, "latent": [float(v) for v in latent], "index": index}
    return {**decoded(preview, f"{what} ({label + '; ' if label else ''}decoding...)", pending), "checkpoint": name}, \
        preview


def pending_value(ex: Explorer, name: str, latent, index: int | None, what: str) -> tuple[str, Image.Image | None]:
    """pending_decode as the latent image's value (components/image.py's latent_value), and the preview image."""
    value, preview = pending_decode(ex, name, latent, index, what)
    return json.dumps(value), preview


def decode_value(ex: Explorer, name: str, latent, index: int | None, full: bool, what: str) -> dict:
    """The decode a request asks for (components/image.py's decoded()): the full decode when `full` (a value's
    `pending`) or the model is fast, else the slow model's pending_decode."""
    if full or not ex.map.is_slow(name):
        image, seconds = ex.map.decode_full(name, list(latent), index)
        return decoded(image, f"{what} (full decode, {seconds:.1f} s)" if full else None)
    return pending_decode(ex, name, latent, index, what)[0]


def offloaded(ex: Explorer, name: str, request: dict) -> bool:
    """Whether a decode request runs in a worker thread: a full decode asked for, or any decode of a slow model."""
    return bool(request.get("full")) or ex.map.is_slow(name)
