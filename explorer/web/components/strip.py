"""A strip of clickable thumbnails (the k nearest test images of the current latent), each with a caption; a click
on one triggers `click` with {index}: the test image it shows."""
import html

import gradio as gr

from explorer.figures.pictures import data_uri
from explorer.web.components import asset

JS = asset("strip.js")


def strip_html(title: str, items: list) -> str:
    """`items`: (test image index, PIL image, caption) triples, in order; an empty list shows the title only."""
    cells = "".join(
        f'<button class="vx-strip-item" data-index="{int(i)}" title="test image #{int(i)}: {html.escape(cap)}">'
        f'<img src="{data_uri(im)}" alt="test image {int(i)}"><span>{html.escape(cap)}</span></button>'
        for i, im, cap in items)
    return f'<div class="vx-strip"><div class="vx-strip-title">{html.escape(title)}</div>{cells}</div>'


def thumbnail_strip(elem_id: str) -> gr.HTML:
    return gr.HTML("", js_on_load=JS, elem_id=elem_id)
