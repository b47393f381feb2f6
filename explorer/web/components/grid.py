"""The VQ-VAE code grid as a table of clickable cells showing their indices, the selected cell outlined; a click on a
cell triggers `click` with {row, col}."""
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
    return f'<table class="vx-grid">{"".join(rows)}</table>'


def code_grid(elem_id: str) -> gr.HTML:
    return gr.HTML(grid_html(None, (0, 0)), js_on_load=JS, elem_id=elem_id)
