"""A row of clickable codes, each with a label and maybe a bar (the prior's most likely codes for a cell, with their
probabilities; a cell's nearest codes, with their distances); a click on one triggers `click` with {code}. The value
is JSON {title, items: [{code, label, hint, bar}]}, drawn by choices.js (so the static site draws it the same way)."""
import json

import gradio as gr

from explorer.web.components import asset

JS = asset("choices.js")


def choices_value(title: str, items: list[dict] = ()) -> str:
    """The component's value: `items` are {code, label, hint (the tooltip), bar (0..1, or None)}, in order; no items
    shows the title only."""
    return json.dumps({"title": title, "items": [
        {"code": int(i["code"]), "label": str(i["label"]), "hint": str(i.get("hint", "")), "bar": i.get("bar")}
        for i in items]})


def probability_choices(title: str, items: list[tuple[int, float]]) -> str:
    """(code, probability) pairs, most likely first, each with a bar of its probability."""
    return choices_value(title, [{"code": c, "label": f"{100 * p:.1f}%", "hint": f"code {int(c)}: p = {p:.3f}",
                                  "bar": round(float(p), 4)} for c, p in items])


def choices(elem_id: str) -> gr.HTML:
    return gr.HTML(choices_value(""), html_template='<div class="vx-choices-host"></div>', js_on_load=JS,
                   elem_id=elem_id)
