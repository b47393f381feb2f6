"""A Plotly chart inside gr.HTML whose clicks reach Python (gr.Plot has no click events in Gradio 6).

plotly.js is the copy shipped inside the installed `plotly` package, served by Gradio as a static file: no CDN.
The component's value is short JSON {key, marker, points}: `key` names a figure that the page fetches from the server
function `figure` (Gradio copies every output's value several times per event, so a 400 kB figure as the value would
slow down every click in the app); `marker` is [x, y] of the current latent, drawn as a layout shape (moving a shape
redraws only the shapes, where restyling or adding a trace would redraw all 10,000 WebGL points), or null; `points`
is null or {name, color, xy: [[x, y], ...]}: a few more positions (the Maths tab's Monte Carlo samples), drawn as
small shapes too (not in the legend: the figure can name them with a trace of its own, see plots_maths.py).
Hovering a point shows its image (server function `thumbnail`). A click on a point triggers `click` with
{kind: "point", index: customdata, x, y}; a click on empty space with {kind: "space", x, y}. With decode="<elem_id>"
a click also asks that latent image (image.py) to decode it at once, before the `click` event's round trip.
With a server function `status(key) -> {key, note, pending}`, a figure whose layout.meta says it is pending (a
linear map while UMAP's is computed) is followed: the note shows above the plot, and once `status` names another
key the component triggers `submit` (its view then sends a value with that key). Clicks carry the key of the
figure they were made on.
"""
import json
from pathlib import Path

import gradio as gr
import numpy as np
import plotly

from explorer.web.components import asset

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
HEAD = f'<script src="/gradio_api/file={PLOTLY_JS}"></script>'
JS = asset("plot.js")


def allow_plotly_js() -> None:
    """Let Gradio serve plotly.min.js (that one file only)."""
    gr.set_static_paths([str(PLOTLY_JS)])


def clickable_plot(elem_id: str, figure, thumbnail, height: int = 520, decode: str = "", status=None) -> gr.HTML:
    """`figure(key) -> str` returns the figure JSON (figure_json) for a key; `thumbnail({key, index}) -> str` a data
    URI of point `index`'s image; `status(key) -> dict` (optional) how a pending figure goes. The JavaScript calls
    them as server.figure, server.thumbnail and server.status."""
    template = (f'<div class="vx-plot-note"></div><div class="vx-plot" data-decode="{decode}" '
                f'data-status="{int(status is not None)}" data-height="{int(height)}"></div>')
    functions = [_named(figure, "figure"), _named(thumbnail, "thumbnail")]
    if status is not None:
        functions.append(_named(status, "status"))
    return gr.HTML(value="", html_template=template, js_on_load=JS, head=HEAD, elem_id=elem_id, min_height=height,
                   server_functions=functions)


def _named(fn, name: str):
    """fn under the name the JavaScript calls it by (gr.HTML exposes server functions by __name__)."""
    def call(arg):
        return fn(arg)
    call.__name__ = call.__qualname__ = name
    call.__doc__ = fn.__doc__
    return call


def plot_value(key: str, marker: tuple[float, float] | None = None, points=None, points_name: str = "",
               points_color: str = "orange") -> str:
    """The component's value: which figure, where the current-latent marker is (None: no marker) and extra `points`
    ((n, 2) positions, None or empty: none), named `points_name` (the shapes' name), filled with `points_color`."""
    extra = None
    if points is not None and len(points):
        xy = np.round(np.asarray(points, dtype=np.float64).reshape(-1, 2), 4).tolist()
        extra = {"name": points_name, "color": points_color, "xy": xy}
    return json.dumps({"key": key, "marker": None if marker is None else [float(marker[0]), float(marker[1])],
                       "points": extra})


def figure_json(fig: dict) -> str:
    return json.dumps(fig, separators=(",", ":"))
