"""A row of clickable choices with a probability bar each (the prior's most likely codes for a cell); a click on one
triggers `click` with {code}."""
import html

import gradio as gr

from explorer.web.components import asset

JS = asset("choices.js")


def choices_html(title: str, items: list[tuple[int, float]]) -> str:
    """`items`: (code, probability) pairs, most likely first; an empty list shows the title only."""
    buttons = "".join(
        f'<button class="vx-choice" data-code="{int(c)}" title="code {int(c)}: p = {p:.3f}">'
        f'<span class="vx-code">{int(c)}</span><span class="vx-bar" style="width:{max(2, round(60 * p))}px"></span>'
        f'<span class="vx-p">{100 * p:.1f}%</span></button>' for c, p in items)
    return f'<div class="vx-choices"><div class="vx-choices-title">{html.escape(title)}</div>{buttons}</div>'


def choices(elem_id: str) -> gr.HTML:
    return gr.HTML("", js_on_load=JS, elem_id=elem_id)
