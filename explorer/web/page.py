"""The Gradio page: the model pickers, one tab per view (explorer/web/views/), the named API endpoints (api.py).

Each view builds its own components and wires its own events; this module only lays them out. The `Explorer` is
shared and read-only; what a tab has selected lives in its session (session.py).
"""
import gradio as gr

from explorer.service.explorer import Explorer
from explorer.web.api import add_endpoints
from explorer.web.components import page_css
from explorer.web.views import Page
from explorer.web.views.codes import CodesView
from explorer.web.views.compare import CompareView
from explorer.web.views.generate import GenerateView
from explorer.web.views.interpolate import InterpolateView
from explorer.web.views.lessons import LessonsView
from explorer.web.views.map import MapView
from explorer.web.views.maths import MathsView
from explorer.web.views.models import ModelsView
from explorer.web.views.playground import PlaygroundView
from explorer.web.views.url import UrlSync

CSS = page_css()
# in tab order; maths and codes follow the map's selection, generate opens grids in codes
VIEWS = (MapView, MathsView, CodesView, GenerateView, CompareView, InterpolateView, ModelsView, LessonsView)


def build(ex: Explorer, playground=None) -> gr.Blocks:
    """The page over `ex`; with `playground` (a playground.pool.PlaygroundPool) a Playground tab trains in it."""
    vaes, vqs = ex.store.names("vae"), ex.store.names("vqvae")
    # old cached files are deleted by explorer.web.cache_sweeper.start_sweeper (app.py): Gradio's own delete_cache stops
    # for good at the first request that lands during one of its passes
    with gr.Blocks(title="vae-explorer") as demo:
        gr.Markdown("# vae-explorer\nClick the latent map, move the sliders, edit VQ codes, generate, compare models.")
        with gr.Row():
            vae = gr.Dropdown(vaes, value=vaes[0] if vaes else None, label="VAE checkpoint")
            vq = gr.Dropdown(vqs, value=vqs[0] if vqs else None, label="VQ-VAE checkpoint")
        gr.Markdown("" if vaes and vqs else "Train a VAE and a VQ-VAE (see README) to use every view.")
        notice = gr.HTML("", html_template='<div class="vx-notice">${value}</div>', elem_id="notice")
        url = UrlSync(ex)
        url.build()  # the address bar's query (shareable state)
        views, tab_of = {}, {}
        with gr.Tabs() as tabs:
            for View in VIEWS + ((PlaygroundView,) if playground is not None else ()):
                view = View(ex, playground) if View is PlaygroundView else View(ex)
                with gr.Tab(view.title, id=view.key) as tab:
                    view.build()  # its components and its session state
                views[view.key], tab_of[view.key] = view, tab
        page = Page(demo, vae, vq, notice, tabs, views)
        add_endpoints(ex, vaes[0] if vaes else "", vqs[0] if vqs else "")
        for key, view in views.items():  # every view is built: any order of wiring works
            view.wire(page, tab_of[key])
        url.wire(page, list(views))
    return demo
