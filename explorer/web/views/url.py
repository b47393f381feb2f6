"""Shareable URL state (url_state.py): the address bar's query holds the checkpoints, the tab, the map's
selected image (or latent), the Maths tab's axes, L and seed, the codes view's image and cell, and the Lessons tab's
lesson and step; opening such a URL restores them.

Reading: on page load `restore` sets the pickers and the tab from `request.query_params`, and each view's `open`
asks `wanted` for the rest (the selection, the Maths settings) when it opens the checkpoint the URL names. Values that
do not fit (a bad number, an unknown checkpoint, an index beyond the test set, axes the VAE does not have) are dropped
with a warning; the page opens anyway.
Writing: whenever the map's marker, the Maths axes' value (dims, marker, samples), the code grid or the tab changes,
`query` computes the query string into a hidden gr.HTML whose JavaScript (components/url.js) puts it in the address
bar with history.replaceState.
"""
import gradio as gr
import numpy as np

from explorer.service.explorer import Explorer
from explorer.service.url_state import ViewState, to_query
from explorer.web.components import asset
from explorer.web.session import CodesSession, LatentSession, LessonSession, MathsSession
from explorer.web.views import LIVE, Page

JS = asset("url.js")
DIGITS = 4  # a latent's numbers in the URL, rounded


def wanted(ex: Explorer, request: gr.Request | None, key: str, name: str) -> ViewState | None:
    """The URL's view state when it asks for checkpoint `name` as its `key` ("vae" or "vq"; none named: the
    default), else None. Never raises: what does not fit is dropped (restore warns about it)."""
    if request is None or not name:
        return None
    state = ex.restore_state(dict(request.query_params)).state
    kind = "vae" if key == "vae" else "vqvae"
    return state if (getattr(state, key) or next(iter(ex.store.names(kind)), None)) == name else None


def view_state(ex: Explorer, latent: LatentSession, codes: CodesSession, tab: str, vq: str,
               maths: MathsSession | None = None, lessons: LessonSession | None = None) -> ViewState:
    """What the page shows, as a ViewState: the latent only when it is not the selected image's own mu(x), the Maths
    axes only when they are not the two most active dimensions (what the tab opens on); on the Lessons tab, the
    lesson, its step, and the step's image and seed."""
    z, index = None, None
    if latent.loaded:
        index = latent.index
        mu = ex.map.point(latent.vae, latent.index).latent
        if not np.allclose(np.asarray(latent.latent), mu, atol=10**-DIGITS):
            z = tuple(round(float(v), DIGITS) for v in latent.latent)
    code_index = codes.index if codes.loaded else None
    cell = codes.cell if codes.loaded and codes.index is not None and tuple(codes.cell) != (0, 0) else None
    axes, samples, seed = None, ViewState.samples, ViewState.seed
    if maths is not None and maths.loaded:
        samples, seed = maths.samples, maths.seed
        if [maths.i, maths.j] != [int(d) for d in ex.store.dims_by_kl(maths.vae)[:2]]:
            axes = (maths.i, maths.j)
    lesson = step = None
    if tab == "lessons" and lessons is not None and lessons.loaded:
        lesson, step, index, seed, z = lessons.lesson, lessons.step, lessons.index, lessons.seed, None
    return ViewState(vae=latent.vae or None, vq=(codes.vq if codes.loaded else vq) or None, tab=tab or "map",
                     index=index, z=z, axes=axes, samples=samples, seed=seed, code_index=code_index, cell=cell,
                     lesson=lesson, step=step)


class UrlSync:
    def __init__(self, ex: Explorer):
        self.ex = ex

    def build(self):
        self.query = gr.HTML("", js_on_load=JS, elem_id="url-state")
        self.tab = gr.State("map")  # the id of the tab shown

    def restore(self, request: gr.Request) -> dict:
        rs = self.ex.restore_state(dict(request.query_params))
        for m in rs.messages:
            gr.Warning(m)
        s, out = rs.state, {}
        if s.vae:
            out[self.page.vae] = s.vae
        if s.vq:
            out[self.page.vq] = s.vq
        if s.tab in self.keys:
            out.update({self.page.tabs: gr.Tabs(selected=s.tab), self.tab: s.tab})
        elif s.tab != "map":
            gr.Warning(f"there is no {s.tab!r} tab on this page: showing the latent map")
        return out

    def on_tab(self, latent: LatentSession, codes: CodesSession, maths: MathsSession, lessons: LessonSession,
               vq: str, evt: gr.SelectData) -> dict:
        tab = getattr(evt, "id", None)
        tab = tab if tab in self.keys else "map"
        return {self.tab: tab, self.query: self.write(latent, codes, maths, lessons, tab, vq)}

    def write(self, latent: LatentSession, codes: CodesSession, maths: MathsSession, lessons: LessonSession,
              tab: str, vq: str) -> str:
        return to_query(view_state(self.ex, latent, codes, tab, vq, maths, lessons))

    def wire(self, page: Page, keys: list[str]):
        self.page, self.keys = page, list(keys)
        page.demo.load(self.restore, None, [page.vae, page.vq, page.tabs, self.tab], api_visibility="private")
        sessions = [page.latent, page.codes.state, page.maths.state, page.views["lessons"].state]
        page.tabs.select(self.on_tab, [*sessions, page.vq], [self.tab, self.query], **LIVE)
        # the sessions' gr.State fire no change after live (unqueued) events: watch what the page shows of them, the
        # map's value (its marker follows the latent), the Maths axes' value (their dims, marker and Monte Carlo
        # samples: L and the seed), the code grid (its selected cell) and the lesson's measurement (its step)
        for shown in (page.views["map"].plot, page.maths.plot, page.codes.grid, page.views["lessons"].measure):
            shown.change(self.write, [*sessions, self.tab, page.vq], self.query, **LIVE)
