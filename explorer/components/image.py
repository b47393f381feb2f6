"""Images inlined in gr.HTML as data URIs (no file written, no second request), and the one image that follows the
pointer: `latent_image` decodes what the map and the sliders send it as 'vx-decode' DOM events through its server
function `decode`, and shows each result as soon as it arrives (the newest request wins; one in flight at a time).
Gradio events still set its value as usual; a direct decode that was under way when a new value came is dropped.
"""
import gradio as gr

from ..images import data_uri
from . import asset

JS = asset("image.js")


def figure_html(image, caption: str) -> str:
    """An image inlined as a data URI with its caption.

    Pass the model's own pixels (side=0): CSS enlarges them sharply, and a 28x28 PNG is a tenth of the bytes to
    encode, send and decode of a 224x224 one."""
    return (f'<figure class="vx-img"><img src="{data_uri(image)}" alt="{caption}">'
            f"<figcaption>{caption}</figcaption></figure>")


def inline_image(elem_id: str) -> gr.HTML:
    return gr.HTML("", elem_id=elem_id, min_height=250)


def latent_image(elem_id: str, decode) -> gr.HTML:
    """`decode(request) -> str`: a data URI for a request {key, kind, index | x, y} (a map click) or
    {checkpoint, latent} (a slider drag)."""
    def decode_request(request):
        return decode(request)
    decode_request.__name__ = "decode"  # the JavaScript calls server.decode
    return gr.HTML("", elem_id=elem_id, min_height=250, js_on_load=JS, server_functions=[decode_request])
