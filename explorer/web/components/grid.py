"""The VQ-VAE code grid as a table of clickable cells showing their indices, the selected cell outlined; a click on a
cell triggers `click` with {row, col}. The value is JSON {grid: [[code, ...], ...], cell: [row, col]} (`grid_value`),
drawn by grid.js (so the static site draws it the same way). Grids larger than 12 x 12 (up to 32 x 32 and beyond) get
smaller cells, in a box that scrolls rather than stretching the page."""
import json

import gradio as gr

from explorer.web.components import asset

JS = asset("grid.js")


def grid_value(grid, cell) -> str:
    """The component's value: the code grid (None: no VQ-VAE loaded) and the selected cell."""
    rows = [] if grid is None else [[int(v) for v in row] for row in grid]
    return json.dumps({"grid": rows, "cell": [int(cell[0]), int(cell[1])]})


def code_grid(elem_id: str) -> gr.HTML:
    return gr.HTML(grid_value(None, (0, 0)), html_template='<div class="vx-grid-host"></div>', js_on_load=JS,
                   elem_id=elem_id)
