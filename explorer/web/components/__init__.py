"""The page's own gr.HTML components. Each is a Python module with its JavaScript (and CSS) in files of the same name
beside it, read once at import: no script or style lives in a Python string, and nothing comes from a CDN.

The JavaScript runs as gr.HTML's `js_on_load` (with `element`, `props`, `trigger`, `watch` and `server`, Gradio's
public API for it). Components that must reach each other without a round trip through Gradio's event path talk
through DOM events on `document` ('vx-decode': please decode this latent).
"""
from pathlib import Path

HERE = Path(__file__).parent


def asset(name: str) -> str:
    """The text of a .js or .css file beside this module."""
    return (HERE / name).read_text()


def page_css() -> str:
    """Every component's CSS, for Blocks(css=...)."""
    return "\n".join(p.read_text() for p in sorted(HERE.glob("*.css")))
