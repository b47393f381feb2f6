"""One slider per shown latent dimension, drawn in a single gr.HTML.

Sixteen gr.Slider components would make every event in the app slower: Gradio's page copies the properties of every
component that was ever an event's output, several times per event. Here the component's value is JSON
{dims, labels, values, rev}; moving a slider (or typing a number and pressing Enter) triggers `input` with
{dim, value}. `rev` changes on every value the server sends, so that sending the same latent again (reset) still
moves sliders the user has dragged away.
"""
import itertools
import json

import gradio as gr

LIMIT = 4.0  # slider range: +-4 standard deviations of the prior N(0, I)
_revisions = itertools.count()

SLIDERS_JS = r"""
const box = element.querySelector('.vx-sliders');
function render() {
  if (!props.value) return;
  const s = JSON.parse(props.value);
  const key = s.dims.join(',') + '|' + s.labels.join(',');
  if (box.dataset.key !== key) {  // other dimensions: new rows; else only new values
    box.innerHTML = s.dims.map((d, i) => `<div class="vx-slider" id="slider-${i}">
      <label>${s.labels[i]}<input type="number" step="0.01" data-dim="${d}"></label>
      <input type="range" min="${-s.limit}" max="${s.limit}" step="0.01" data-dim="${d}"></div>`).join('');
    box.dataset.key = key;
  }
  box.querySelectorAll('.vx-slider').forEach((row, i) => {
    for (const inp of row.querySelectorAll('input')) inp.value = s.values[i];
  });
}
function send(inp) {
  const v = Number(inp.value);
  if (inp.value === '' || !Number.isFinite(v)) return;
  for (const other of inp.closest('.vx-slider').querySelectorAll('input')) if (other !== inp) other.value = v;
  trigger('input', {dim: Number(inp.dataset.dim), value: v});
}
box.addEventListener('input', (e) => { if (e.target.type === 'range') send(e.target); });
box.addEventListener('keydown', (e) => { if (e.target.type === 'number' && e.key === 'Enter') send(e.target); });
render();
watch('value', render);
"""

CSS = """
.vx-sliders { display: grid; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); gap: 6px 16px; }
.vx-slider label { display: flex; justify-content: space-between; align-items: center; font-size: 13px; }
.vx-slider input[type=number] { width: 70px; }
.vx-slider input[type=range] { width: 100%; }
"""


def latent_sliders(elem_id: str) -> gr.HTML:
    return gr.HTML(value="", html_template='<div class="vx-sliders"></div>', js_on_load=SLIDERS_JS,
                   elem_id=elem_id)


def sliders_value(dims: list[int], labels: list[str], values: list[float]) -> str:
    """The component's value: which dimensions show, their labels and their values."""
    return json.dumps({"dims": [int(d) for d in dims], "labels": list(labels),
                       "values": [round(float(v), 2) for v in values], "limit": LIMIT, "rev": next(_revisions)})


class SliderError(ValueError):
    pass


def slider_event(data: dict | None, latent_dim: int) -> tuple[int, float]:
    """(dimension, value) from an `input` event's data, checked."""
    try:
        dim, value = int(data["dim"]), float(data["value"])
    except (TypeError, KeyError, ValueError) as e:
        raise SliderError(f"a slider event needs a dimension and a number, got {data!r}") from e
    if not 0 <= dim < latent_dim:
        raise SliderError(f"latent dimension must be in 0..{latent_dim - 1}, got {dim}")
    return dim, value
