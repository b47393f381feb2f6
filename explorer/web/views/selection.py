"""The map view's selection panel: a box or lasso selection on the latent map (plot.js `select`) shows a gallery of
the selected test images, their pixel mean, the decode of their mean latent and the mean of their decodes, and
offers the selection as CSV and NPZ downloads (explorer/service/export.py), written once per selection, in an event of
their own that follows the gallery's (writing the files need not hold the gallery back)."""
import gradio as gr
import numpy as np
import torch
from PIL import Image

from explorer.service.explorer import Explorer
from explorer.service.export import SelectionError
from explorer.web.components.image import figure_html
from explorer.web.files import export_files
from explorer.web.session import LatentSession
from explorer.web.views import LIVE, Page, expiring
from vae_core.data.images import to_pil

HINT = "Pick the box or lasso tool in the map's toolbar and drag over points to select them."


def summary_html(s) -> str:
    """The gallery and the three mean images of a SelectionSummary (export.selection_summary)."""
    g = s.gallery[..., 0] if s.gallery.shape[-1] == 1 else s.gallery
    figures = [figure_html(Image.fromarray(g), f"the first {s.shown} of {s.total} selected"),
               figure_html(to_pil(torch.from_numpy(s.mean_image)), "pixel mean"),
               figure_html(to_pil(torch.from_numpy(s.mean_latent_decode)), "decode of the mean latent"),
               figure_html(to_pil(torch.from_numpy(s.mean_of_decodes)), f"mean of {s.averaged} decodes")]
    return f'<div class="vx-selection">{"".join(figures)}</div>'


def selected_indices(evt: gr.EventData) -> np.ndarray:
    """The indices a `select` event carries, as an array (empty: nothing selected); what they hold and their bounds
    are checked by export.validate_indices."""
    raw = getattr(evt, "indices", None)
    if not isinstance(raw, list):
        raise SelectionError("a map selection needs a list of point indices")
    try:
        a = np.asarray(raw)
    except (TypeError, ValueError) as e:
        raise SelectionError("a map selection is a flat list of whole numbers") from e
    if a.size and (a.ndim != 1 or a.dtype.kind not in "iuf" or a.dtype == bool):
        raise SelectionError("a map selection is a flat list of whole numbers")
    return a


class SelectionPanel:
    def __init__(self, ex: Explorer):
        self.ex = ex

    def build(self):
        with gr.Accordion("Selection (box or lasso on the map)", open=True):
            self.info = gr.Markdown(HINT, elem_id="selection-summary")
            self.images = gr.HTML("", elem_id="selection-images")
            with gr.Row():
                self.csv = gr.DownloadButton("download the selection as CSV", visible=False, elem_id="export-csv")
                self.npz = gr.DownloadButton("download the selection as NPZ", visible=False, elem_id="export-npz")
        self.selected = gr.State(None)  # the selection shown (sorted test image indices), for the downloads

    def on_select(self, st: LatentSession, evt: gr.EventData) -> dict:
        """The selection's summary and gallery; the downloads are hidden until on_export has written them."""
        st = st.checked()
        idx = selected_indices(evt)
        hidden = {self.csv: gr.update(visible=False), self.npz: gr.update(visible=False)}
        if idx.size == 0:
            return {self.info: HINT, self.images: "", self.selected: None, **hidden}
        s = self.ex.map.selection_summary(st.vae, idx)
        return {self.info: f"**{s.total} test images selected** (index, label, map x, y and latent z per row)",
                self.images: summary_html(s), self.selected: np.unique(idx), **hidden}

    def on_export(self, st: LatentSession, idx) -> dict:
        """The selection as CSV and NPZ downloads (none selected: none)."""
        if idx is None or len(idx) == 0:
            return {self.csv: gr.update(visible=False), self.npz: gr.update(visible=False)}
        name = st.checked().vae
        files = export_files(self.ex.map.export_selection(name, idx), name, self.csv.GRADIO_CACHE)
        return {self.csv: gr.update(value=files.csv, visible=True), self.npz: gr.update(value=files.npz, visible=True)}

    def wire(self, page: Page, plot: gr.HTML, state: gr.State):
        shown = page.live(plot.select, self.on_select, state,
                          {self.info, self.images, self.selected, self.csv, self.npz}, trigger_mode="always_last")
        shown.success(expiring(self.on_export, page.notice), [state, self.selected], {self.csv, self.npz, page.notice},
                   **LIVE)
