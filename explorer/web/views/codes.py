"""The VQ-VAE codes view: a test image's code grid to edit cell by cell (or paint whole), its decode at once, and the
codebook: a map of the code vectors by usage (click a code to use it) and the sorted usage histogram. With a prior
over codes: its most likely codes for the selected cell (click one to use it), and "resample from here". For a test
image's grid, its quantisation cell by cell (heat maps of the error and of the distance z_e may move before its code
flips, z_e's decode, the cell's nearest codes)."""
from dataclasses import replace

import gradio as gr
import numpy as np
import plotly.graph_objects as go

from explorer.compute.bounded_cache import BoundedCache
from explorer.compute.code_grid import GridError, paint, set_cell
from explorer.figures import maps as plots
from explorer.figures.pictures import data_uri, show
from explorer.service.explorer import Explorer
from explorer.service.sampling import SampleSettings
from explorer.web.components.choices import choices, probability_choices
from explorer.web.components.grid import code_grid, grid_value
from explorer.web.components.image import figure_html, inline_image
from explorer.web.components.plot import clickable_plot, figure_json, plot_value
from explorer.web.components.quant import nearest_choices, quantization_html
from explorer.web.session import CodesSession, LatentSession
from explorer.web.views import FIGURES, Page, handled, image_file, new_map_selection, reporter
from explorer.web.views.url import wanted


class CodesView:
    title = "VQ-VAE codes"
    key = "codes"  # its tab's id

    def __init__(self, ex: Explorer):
        self.ex = ex
        self.figures = BoundedCache(FIGURES)  # codebook figure JSON by checkpoint, shared by all sessions

    # --- server functions -----------------------------------------------------------------------------------------
    @handled
    def figure(self, name: str) -> str:
        """The codebook map of checkpoint `name` as Plotly figure JSON."""
        def draw():
            cb = self.ex.codes.codebook(name)
            return figure_json(plots.codebook_map(cb.coords, cb.counts, cb.method))
        return self.figures.get(name, draw)

    @handled
    def thumbnail(self, point: dict) -> str:
        """The decode of a grid made only of code point["index"] of checkpoint point["key"], as a data URI."""
        name, code = str(point.get("key")), point.get("index")
        g = self.ex.codes.grid_size(name)
        return data_uri(self.ex.codes.decode_codes(name, [[code] * g for _ in range(g)], side=0))

    # --- layout ---------------------------------------------------------------------------------------------------
    def build(self):
        with gr.Row():
            with gr.Column():
                self.index = gr.Number(0, precision=0, label="image index (test split)", elem_id="codes-index")
                self.grid = code_grid("code-grid")
                self.suggest = choices("code-suggestions")
                self.nearest = choices("code-nearest")
                self.resample = gr.Button("resample from here (the prior draws this cell and the ones after it)")
                with gr.Row():
                    self.code = gr.Number(0, precision=0, label="code index for the selected cell",
                                          elem_id="code-index")
                    self.paint = gr.Button("paint whole grid with this code")
                    self.reset = gr.Button("reset grid")
            with gr.Column(), gr.Row():
                self.original = gr.Image(label="image", format="png")
                self.decoded = inline_image("vq-decoded")
            with gr.Column():
                self.plot = clickable_plot("codebook-map", self.figure, self.thumbnail, 380)
                self.usage = gr.Plot(label="usage")
        self.quant = gr.HTML("", elem_id="quantization")
        self.state = gr.State(CodesSession())

    # --- outputs --------------------------------------------------------------------------------------------------
    def grid_outputs(self, st: CodesSession) -> dict:
        image = self.ex.codes.decode_codes(st.vq, [list(r) for r in st.grid], side=0)
        return {self.state: st, self.grid: grid_value(st.grid, st.cell),
                self.decoded: figure_html(image, "decoded code grid"), self.suggest: self.suggestions(st),
                self.nearest: nearest_choices(self.quantization(st), st.cell)}

    def quantization(self, st: CodesSession):
        """The quantisation of the test image whose grid is loaded (None for a grid sampled from the prior)."""
        if st.index is None:
            return None
        return self.ex.codes.quantization(st.vq, st.index)  # kept by the Explorer for the latest images

    def suggestions(self, st: CodesSession) -> str:
        r, c = st.cell
        problem = self.ex.generate.no_prior(st.vq)
        if problem:
            return probability_choices(problem, [])
        top = self.ex.generate.suggestions(st.vq, st.grid, r, c)
        return probability_choices(f"The prior's most likely codes for cell ({r}, {c}) given the cells above and to "
                                   "its left (click one to use it):", top)

    def grid_output_set(self) -> set:
        """The components show_grid's outputs go to."""
        return {self.state, self.grid, self.decoded, self.suggest, self.nearest, self.quant, self.original, self.code}

    def show_grid(self, st: CodesSession, vq: str, grid) -> dict:
        """Open a code grid that no test image made (a sample from the prior) for editing."""
        g = tuple(tuple(int(v) for v in row) for row in grid)
        st = replace(st, loaded=True, vq=vq, index=None, grid=g, original=g, cell=(0, 0))
        return {**self.grid_outputs(st), self.original: None, self.code: g[0][0], self.quant: quantization_html(None)}

    def select(self, st: CodesSession, index) -> dict:
        """Load test image `index`'s code grid (as the encoder made it)."""
        index = int(np.clip(index or 0, 0, len(self.ex.store.data(st.vq).x_test) - 1))
        g = tuple(tuple(int(v) for v in row) for row in self.ex.codes.grid(st.vq, index))
        st = replace(st, index=index, grid=g, original=g, cell=(0, 0))
        out = self.grid_outputs(st)
        out.update({self.original: image_file(show(self.ex.store.image(st.vq, index)[0]), self.original),
                    self.code: g[0][0], self.index: index, self.quant: quantization_html(self.quantization(st))})
        return out

    # --- events ---------------------------------------------------------------------------------------------------
    def open(self, vq: str, latent: LatentSession, request: gr.Request,
             progress=gr.Progress(track_tqdm=True)) -> dict:  # noqa: B008 - how Gradio passes progress
        if not vq:
            return {self.state: CodesSession()}
        progress(0, desc=f"opening {vq}")
        cb = self.ex.codes.codebook(vq, progress=reporter(progress))
        self.figure(vq)
        index = latent.index if latent.loaded else 0
        want = wanted(self.ex, request, "vq", vq)  # the URL's image and cell (url.py)
        if want and want.code_index is not None:
            index = want.code_index
        out = self.select(CodesSession(loaded=True, vq=vq, map_index=index), index)
        if want and want.cell is not None:  # restore_state checked that it lies inside the grid
            st = replace(out[self.state], cell=tuple(want.cell))
            out.update({**self.grid_outputs(st), self.code: st.grid[st.cell[0]][st.cell[1]]})
        out[self.plot] = plot_value(vq)
        out[self.usage] = go.Figure(plots.usage_histogram(cb.counts, cb.usage()))
        return out

    def on_index(self, st: CodesSession, index) -> dict:
        return self.select(st.checked(), index)

    def on_tab(self, st: CodesSession, latent: LatentSession) -> dict:
        """Opening the tab shows the code grid of the image selected on the map, if that selection is new."""
        selection = new_map_selection(latent, (st.map_index, latent.latent))
        if st.loaded and selection is not None:
            return self.select(replace(st, map_index=latent.index), latent.index)
        return {self.state: st}

    def on_cell(self, st: CodesSession, evt: gr.EventData) -> dict:
        st = st.checked()
        try:
            r, c = int(getattr(evt, "row", None)), int(getattr(evt, "col", None))
        except (TypeError, ValueError) as e:
            raise GridError("a cell click needs a row and a column") from e
        if not (0 <= r < len(st.grid) and 0 <= c < len(st.grid)):
            raise GridError(f"cell ({r}, {c}) is outside the {len(st.grid)}x{len(st.grid)} grid")
        st = replace(st, cell=(r, c))
        return {**self.grid_outputs(st), self.code: st.grid[r][c]}

    def on_code(self, st: CodesSession, code) -> dict:
        st = st.checked()
        r, c = st.cell
        code = self.ex.codes.checked_code(st.vq, code)
        return self.grid_outputs(st.with_grid(set_cell(np.array(st.grid), r, c, code)))

    def on_codebook_click(self, st: CodesSession, evt: gr.EventData) -> dict:
        st = st.checked()
        if getattr(evt, "kind", None) != "point":  # empty space between codes: nothing to pick
            return {self.state: st}
        code = int(getattr(evt, "index", None))
        return {**self.on_code(st, code), self.code: code}

    def on_suggestion(self, st: CodesSession, evt: gr.EventData) -> dict:
        code = getattr(evt, "code", None)
        return {**self.on_code(st, code), self.code: self.ex.codes.checked_code(st.vq, code)}

    def on_resample(self, st: CodesSession) -> dict:
        st = st.checked()
        seed = int(np.random.default_rng().integers(2**31))
        return self.grid_outputs(st.with_grid(self.ex.generate.resample_from(st.vq, st.grid, *st.cell,
                                                                    SampleSettings(seed=seed))))

    def on_paint(self, st: CodesSession, code) -> dict:
        st = st.checked()
        return self.grid_outputs(st.with_grid(paint(np.array(st.grid), self.ex.codes.checked_code(st.vq, code))))

    def on_reset(self, st: CodesSession) -> dict:
        st = st.checked()
        return self.grid_outputs(replace(st, grid=st.original))

    def wire(self, page: Page, tab: gr.Tab):
        s = self.state
        everything = {s, self.grid, self.decoded, self.suggest, self.nearest, self.quant, self.original, self.code,
                      self.index, self.plot, self.usage}
        edit = {s, self.grid, self.decoded, self.suggest, self.nearest}
        page.on_open([page.vq], self.open, [page.vq, page.latent], everything, self.plot, "codes")
        page.live(self.index.submit, self.on_index, [s, self.index], everything)
        page.live(tab.select, self.on_tab, [s, page.latent], everything)
        page.live(self.grid.click, self.on_cell, s, edit | {self.code})
        page.live(self.code.input, self.on_code, [s, self.code], edit, trigger_mode="always_last")
        page.live(self.plot.click, self.on_codebook_click, s, edit | {self.code})
        page.live(self.paint.click, self.on_paint, [s, self.code], edit)
        page.live(self.reset.click, self.on_reset, s, edit)
        page.live(self.suggest.click, self.on_suggestion, s, edit | {self.code})
        page.live(self.nearest.click, self.on_suggestion, s, edit | {self.code})
        page.live(self.resample.click, self.on_resample, s, edit)
