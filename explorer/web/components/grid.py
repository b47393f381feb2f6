"""The VQ-VAE code grid as a table of clickable cells showing their indices, the selected cell outlined; a click on a
cell triggers `click` with {row, col}. Grids larger than 12 x 12 (up to 32 x 32 and beyond) get smaller cells, in a
box that scrolls rather than stretching the page."""
import gradio as gr

from explorer.web.components import asset

JS = asset("grid.js")


def grid_html(grid, cell) -> str:
    if not grid:
        return "<p>No VQ-VAE loaded.</p>"
    rows = []
    for r, row in enumerate(grid):
        tds = "".join(
            f'<td data-row="{r}" data-col="{c}" class="{"sel" if (r, c) == tuple(cell) else ""}">{v}</td>'
            for c, v in enumerate(row))
        rows.append(f"<tr>{tds}</tr>")
    size = "" if len(grid) <= 12 else " vx-grid-medium" if len(grid) <= 20 else " vx-grid-dense"
    return f'<div class="vx-grid-box"><table class="vx-grid{size}">{"".join(rows)}</table></div>'


def code_grid(elem_id: str) -> gr.HTML:
    return gr.HTML(grid_html(None, (0, 0)), js_on_load=JS, elem_id=elem_id)
