"""One slider per shown latent dimension, drawn in a single gr.HTML.

Sixteen gr.Slider components would make every event in the app slower: Gradio's page copies the properties of every
component that was ever an event's output, several times per event. Here the component's value is JSON
{checkpoint, latent, dims, labels, values, limit, rev}. While a slider is dragged, every move asks the page's latent
image (image.py) to decode the changed latent at once (a 'vx-decode' DOM event), so the image follows the pointer;
releasing it (or typing a number and pressing Enter) triggers `input` with {dim, value}, which updates the session,
the map marker and the image through Gradio's event path. `rev` changes on every value the server sends, so that
sending the same latent again (reset) still moves sliders the user has dragged away.
"""
import itertools
import json

import gradio as gr
import numpy as np

from explorer.compute.directions import SLIDER_SDS
from explorer.errors import SliderError
from explorer.web.components import asset

LIMIT = 4.0  # slider range: +-4 standard deviations of the prior N(0, I)
JS = asset("sliders.js")
_revisions = itertools.count()


def latent_sliders(elem_id: str, target: str) -> gr.HTML:
    """`target`: the elem_id of the latent image (image.py) a drag asks to decode."""
    return gr.HTML(value="", html_template=f'<div class="vx-sliders" data-target="{target}"></div>', js_on_load=JS,
                   elem_id=elem_id)


def sliders_value(dims: list[int], labels: list[str], values: list[float], checkpoint: str = "",
                  latent=(), directions=None) -> str:
    """The component's value: which dimensions show, their labels and values, and the whole latent they edit (of
    `checkpoint`), which a drag decodes without asking the session. With `directions` (compute/directions.py) the
    sliders are coefficients along principal directions dims (z' = z + (a - a_k(z)) v_k, in the page too), each
    spanning +-SLIDER_SDS of its standard deviation."""
    value = {"checkpoint": checkpoint, "latent": [float(v) for v in latent], "dims": [int(d) for d in dims],
             "labels": list(labels), "values": [round(float(v), 2) for v in values], "limit": LIMIT,
             "rev": next(_revisions)}
    if directions is not None:
        value["mean"] = np.round(directions.mean, 5).tolist()
        value["vectors"] = [np.round(directions.vectors[d], 5).tolist() for d in dims]
        value["limits"] = [round(SLIDER_SDS * float(directions.sd[d]), 2) for d in dims]
    return json.dumps(value)


def slider_event(data: dict | None, latent_dim: int) -> tuple[int, float]:
    """(dimension, value) from an `input` event's data, checked."""
    try:
        dim, value = int(data["dim"]), float(data["value"])
    except (TypeError, KeyError, ValueError) as e:
        raise SliderError(f"a slider event needs a dimension and a number, got {data!r}") from e
    if not 0 <= dim < latent_dim:
        raise SliderError(f"latent dimension must be in 0..{latent_dim - 1}, got {dim}")
    return dim, value
