"""A Plotly chart inside gr.HTML whose clicks reach Python (gr.Plot has no click events in Gradio 6).

plotly.js is the copy shipped inside the installed `plotly` package, served by Gradio as a static file: no CDN.
The component's value is a short key; the page fetches the figure JSON for it from the server function `figure`
(Gradio copies every output's value several times per event, so a 400 kB figure as the value would slow down every
click in the app). Hovering a point can show its image (`thumbnail`). A click on a point triggers
`click` with {kind: "point", index: customdata, x, y}; a click on empty space with {kind: "space", x, y}.
A companion `marker` component draws the current-latent marker as a layout shape (a ring of fixed pixel size):
moving a shape redraws only the shapes, where restyling a trace would redraw all 10,000 WebGL points.
"""
import json
from pathlib import Path

import gradio as gr
import plotly

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
HEAD = f'<script src="/gradio_api/file={PLOTLY_JS}"></script>'

SHAPE_JS = r"""
window.vxMarkerShape = (x, y) => ({type: 'circle', xref: 'x', yref: 'y', xsizemode: 'pixel', ysizemode: 'pixel',
  xanchor: x, yanchor: y, x0: -9, x1: 9, y0: -9, y1: 9, line: {color: 'black', width: 3}});
"""

DRAW_JS = SHAPE_JS + r"""
const gd = element.querySelector('.vx-plot');
let pointClicked = false;  // this press hit a point: plotly_click has sent it
async function draw() {
  const key = props.value;
  if (!key) return;
  const fig = JSON.parse(await server.figure(key));
  if (props.value !== key) return;  // another figure was asked for meanwhile
  // WebGL canvases at the screen's own pixel ratio (Plotly's default, 2, draws 4x the pixels on a plain screen and
  // makes every compositor frame after a click copy them)
  // doubleClickDelay: Plotly's default (500 ms) takes two quick clicks on different points for a double click,
  // which resets the zoom and redraws every WebGL point
  Plotly.react(gd, fig.data, fig.layout, {responsive: true, displaylogo: false, scrollZoom: true,
                                          doubleClickDelay: 300,
                                          plotGlPixelRatio: Math.min(2, Math.max(1, window.devicePixelRatio || 1))});
  if (gd.dataset.marker) {  // a new figure drops the shapes: put the marker back
    const [x, y] = JSON.parse(gd.dataset.marker);
    Plotly.relayout(gd, {shapes: x === null ? [] : [vxMarkerShape(x, y)]});
  }
  gd.dataset.ready = String(Date.now());
  if (!gd._vxBound) {
    gd._vxBound = true;
    gd.on('plotly_click', (d) => {
      const p = d.points && d.points[0];
      if (!p || p.customdata === undefined) return;
      pointClicked = true;
      trigger('click', {kind: 'point', index: Number(p.customdata), x: p.x, y: p.y});
    });
    gd.addEventListener('pointerdown', () => { pointClicked = false; }, true);
    gd.addEventListener('click', (evt) => {
      setTimeout(() => {  // after Plotly's own click handling, which may find a point under the mouse
        if (pointClicked) return;
        const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, r = gd.getBoundingClientRect();
        const px = evt.clientX - r.left - xa._offset, py = evt.clientY - r.top - ya._offset;
        if (px < 0 || py < 0 || px > xa._length || py > ya._length) return;
        trigger('click', {kind: 'space', x: xa.p2d(px), y: ya.p2d(py)});
      }, 0);
    });
    if (server.thumbnail) bindThumbnails();
  }
}
function bindThumbnails() {
  // hovering a point for HOVER_MS shows its image beside the cursor; a press cancels (no work on the click path)
  const tip = document.createElement('img');
  tip.className = 'vx-thumb';
  tip.style.cssText = 'position:fixed;display:none;width:84px;height:84px;image-rendering:pixelated;' +
                      'pointer-events:none;border:1px solid #999;background:#fff;z-index:1000';
  element.appendChild(tip);
  const cache = new Map();
  let timer = null, want = null;
  const hide = () => { clearTimeout(timer); want = null; tip.style.display = 'none'; };
  gd.on('plotly_hover', (d) => {
    const p = d.points && d.points[0];
    if (!p || p.customdata === undefined || !d.event) return;
    hide();
    const key = props.value + '#' + p.customdata, x = d.event.clientX, y = d.event.clientY;
    want = key;
    timer = setTimeout(async () => {
      if (!cache.has(key)) {
        const uri = await server.thumbnail({key: props.value, index: Number(p.customdata)});
        if (typeof uri !== 'string') return;  // the server said why in its log
        cache.set(key, uri);
      }
      if (want !== key) return;
      tip.src = cache.get(key);
      tip.style.left = (x + 16) + 'px';
      tip.style.top = (y + 16) + 'px';
      tip.style.display = 'block';
    }, HOVER_MS);
  });
  gd.on('plotly_unhover', hide);
  gd.addEventListener('pointerdown', hide, true);
}
const HOVER_MS = 150;
draw();
watch('value', draw);
"""

MARKER_JS = SHAPE_JS + r"""
function move() {
  if (!props.value) return;
  const m = JSON.parse(props.value);
  const gd = document.querySelector('#' + m.target + ' .vx-plot');
  if (!gd || !gd.data) { setTimeout(move, 200); return; }
  Plotly.relayout(gd, {shapes: m.x === null ? [] : [vxMarkerShape(m.x, m.y)]});
  gd.dataset.marker = JSON.stringify([m.x, m.y]);
}
move();
watch('value', move);
"""


def allow_plotly_js() -> None:
    """Let Gradio serve plotly.min.js (that one file only)."""
    gr.set_static_paths([str(PLOTLY_JS)])


def clickable_plot(elem_id: str, figure, height: int = 520, thumbnail=None) -> gr.HTML:
    """`figure(key) -> str` returns the figure JSON (figure_json) for the key set as the component's value;
    `thumbnail({key, index}) -> str`, if given, a data URI of point `index`'s image, shown on hover."""
    functions = [figure] + ([thumbnail] if thumbnail else [])
    assert [f.__name__ for f in functions] == ["figure", "thumbnail"][:len(functions)], "DRAW_JS calls these names"
    return gr.HTML(value="", html_template=f'<div class="vx-plot" style="height:{height}px;width:100%"></div>',
                   js_on_load=DRAW_JS, head=HEAD, elem_id=elem_id, min_height=height, server_functions=functions)


def plot_marker(elem_id: str) -> gr.HTML:
    return gr.HTML(value="", html_template='<span class="vx-marker"></span>', js_on_load=MARKER_JS, head=HEAD,
                   elem_id=elem_id)


def figure_json(fig: dict) -> str:
    return json.dumps(fig, separators=(",", ":"))


def marker_json(target: str, x: float | None, y: float | None) -> str:
    return json.dumps({"target": target, "x": x, "y": y})
