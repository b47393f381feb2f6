"""The playground's canvas: panels in a plane and curves, drawn in the browser from one compact scene per update
(figures/playground.py), so a tick ships a few tens of kilobytes and no plotting library redraws."""
import gradio as gr

from explorer.web.components import asset

JS = asset("playground.js")
TEMPLATE = '<div class="vx-pg"><div class="vx-pg-panels"></div><div class="vx-pg-curves"></div></div>'


def playground_canvas(elem_id: str) -> gr.HTML:
    return gr.HTML("", html_template=TEMPLATE, js_on_load=JS, elem_id=elem_id, min_height=560)
