"""Images in gr.HTML: `figure_html` inlines an image as a data URI (no file written, no second request), and
`latent_image` is the one image that follows the pointer.

A slow model's latent image comes in two steps: a value (from a Gradio event or a direct decode) may carry `pending`,
the request for the full decode, and a caption saying "decoding..."; the page then asks for it ({...pending, full:
true}), shortly after the latent stops changing (FULL_DELAY_MS in image.js), one at a time, the newest next, and draws
it only if nothing newer was shown meanwhile. Such decodes run in a worker thread (`offload`), never on the server's
event loop, so every other request goes on being served.

The latent image is a <canvas> drawn from the image's raw 8-bit pixels ({width, height, channels, data: base64}):
no PNG to encode on the server or to decode in the browser, whose asynchronous image loading waits behind whatever
else the page is doing (Plotly's hover work after a map click). It decodes what the map and the sliders send it as
'vx-decode' DOM events (those whose detail.target is its elem_id) through its server function `decode`, and draws each
result as soon as it arrives (the newest request wins; one in flight at a time). Gradio events still set its value as
usual (`latent_value`); a direct decode that was under way when a new value came is dropped. Where the server
offers the model's decoder to the page (web/page_decoder.py), those requests are decoded in the page instead. Each
drawing bumps the canvas's `data-frame` attribute, which tests and benchmarks watch.
"""
import asyncio
import base64
import json

import gradio as gr
import numpy as np
from PIL import Image

from explorer.figures.pictures import data_uri
from explorer.web.components import asset

JS = asset("image.js")


def figure_html(image, caption: str) -> str:
    """An image inlined as a data URI with its caption.

    Pass the model's own pixels (side=0): CSS enlarges them sharply, and a 28x28 PNG is a tenth of the bytes to
    encode, send and decode of a 224x224 one."""
    return (f'<figure class="vx-img"><img src="{data_uri(image)}" alt="{caption}">'
            f"<figcaption>{caption}</figcaption></figure>")


def inline_image(elem_id: str) -> gr.HTML:
    return gr.HTML("", elem_id=elem_id, min_height=250)


def pixels(image: Image.Image) -> dict:
    """An 8-bit grey or RGB image as {width, height, channels, data}: its bytes, row by row, base64-encoded."""
    a = np.asarray(image.convert("RGB") if image.mode not in ("L", "RGB") else image, dtype=np.uint8)
    return {"width": int(a.shape[1]), "height": int(a.shape[0]), "channels": 1 if a.ndim == 2 else int(a.shape[2]),
            "data": base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii")}


def decoded(image: Image.Image | None, caption: str | None = None, pending: dict | None = None) -> dict:
    """A decode for the page: its pixels (none: only a caption while the full decode runs), a caption (None: keep
    the one shown), and the request of the full decode still to come (`pending`), if any."""
    out = pixels(image) if image is not None else {}
    if caption is not None:
        out["caption"] = caption
    if pending is not None:
        out["pending"] = pending
    return out


def latent_value(image: Image.Image | None, caption: str, pending: dict | None = None,
                 checkpoint: str | None = None) -> str:
    """The latent image's value: its pixels and caption (and the full decode to ask for, see decoded); with
    `checkpoint`, the model it shows (the page then asks for its decoder at once: page_decoder)."""
    return json.dumps({**decoded(image, caption, pending), **({"checkpoint": checkpoint} if checkpoint else {})})


def latent_image(elem_id: str, decode, offload=lambda request: False, page_decoder=None) -> gr.HTML:
    """`decode(request) -> dict` (decoded()): the decode for a request {key, kind, index | x, y} (a map click),
    {checkpoint, latent} (a slider drag) or a value's `pending` with full: true. `offload(request)`: whether it is
    slow, to be run in a worker thread. With `page_decoder(name) -> dict` (web/page_decoder.py's offer), the page
    decodes itself once a model's decoder is offered to it."""
    async def decode_request(request):  # async: a fast decode runs on the event loop, no hop to a worker thread
        if offload(request):
            return await asyncio.to_thread(decode, request)
        return decode(request)
    decode_request.__name__ = "decode"  # the JavaScript calls server.decode

    async def offer(name):
        return page_decoder(str(name)) if page_decoder else {"off": "this view decodes on the server"}
    offer.__name__ = "page_decoder"
    template = (f'<figure class="vx-img"><canvas role="img" data-target="{elem_id}"></canvas>'
                '<figcaption></figcaption></figure>')
    return gr.HTML("", html_template=template, elem_id=elem_id, min_height=250, js_on_load=JS,
                   server_functions=[decode_request, offer])
