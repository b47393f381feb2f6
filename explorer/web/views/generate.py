"""The generate view: samples of both models side by side, a VAE's from N(0, I) and from its prior fitted to the
aggregate posterior (vae_core.fit_prior; a line saying how to fit one when it has none), and a VQ-VAE's from its
learned prior over codes, with a seed, a count, the prior's temperature and top-k, and the time each sample took.
A click on a VQ sample opens its code grid in the codes view. Under each model's samples, the sample-quality figures
its checkpoint recorded (computed by vae_core.evaluate over 5,000 samples, not live)."""
from dataclasses import replace

import gradio as gr

from explorer.service.explorer import Explorer
from explorer.service.sampling import SampleSettings
from explorer.web.session import CodesSession, GenerateSession
from explorer.web.views import Page, image_file

GALLERY = {"columns": 4, "height": "auto", "object_fit": "contain", "allow_preview": False, "format": "png"}


class GenerateView:
    title = "Generate"
    key = "generate"  # its tab's id

    def __init__(self, ex: Explorer):
        self.ex = ex

    def build(self):
        with gr.Row():
            self.seed = gr.Number(0, precision=0, minimum=0, label="seed", elem_id="gen-seed")
            self.n = gr.Slider(1, 64, value=16, step=1, label="samples")
            self.temperature = gr.Slider(0.1, 2.0, value=1.0, step=0.05, label="prior temperature (VQ-VAE)")
            self.top_k = gr.Number(0, precision=0, minimum=0, label="top-k codes (VQ-VAE; 0: all)")
            self.again = gr.Button("new seed")
        with gr.Row():
            with gr.Column(scale=2):
                with gr.Row():
                    self.vae_standard = gr.Gallery(label="VAE: z ~ N(0, I), decoded", elem_id="gen-vae", **GALLERY)
                    self.vae_samples = gr.Gallery(label="VAE: z from its fitted prior (a Gaussian mixture fitted to "
                                                        "the aggregate posterior), decoded", elem_id="gen-vae-fitted",
                                                  **GALLERY)
                self.vae_quality = gr.Markdown(elem_id="gen-vae-quality")
            with gr.Column():
                self.vq_samples = gr.Gallery(label="VQ-VAE: code grids from the prior, decoded (click one to edit "
                                                   "it)", elem_id="gen-vq", **GALLERY)
                self.vq_quality = gr.Markdown(elem_id="gen-vq-quality")
        self.info = gr.Markdown(elem_id="gen-info")
        self.state = gr.State(GenerateSession())

    def column(self, name: str, settings: SampleSettings, gallery: gr.Gallery,
               which: str = "") -> tuple[list, str, object]:
        """(gallery files, a line of text, the samples) for one model (a VAE's from the prior `which` names: fitted
        or standard); no samples when it cannot generate."""
        if not name:
            return [], "", None
        gen = self.ex.generate
        problem = gen.no_prior(name) or (gen.no_fitted_prior(name) if which == "fitted" else None)
        if problem:
            return [], problem, None
        s = self.ex.generate.sample(name, settings if not which else replace(settings, prior=which))
        which = {"fitted": " from the fitted prior", "standard": " from N(0, I)", "": ""}[which]
        return ([image_file(im, gallery) for im in s.images],
                f"**{name}**{which}: {len(s.images)} samples, {s.ms_per_sample:.2f} ms each to sample and decode.", s)

    def generate(self, vae: str, vq: str, seed, n, temperature, top_k) -> dict:
        settings = SampleSettings(n, seed, temperature, top_k).checked()
        standard_files, standard_line, _ = self.column(vae, settings, self.vae_standard, "standard")
        vae_files, vae_line, _ = self.column(vae, settings, self.vae_samples, "fitted")
        vq_files, vq_line, s = self.column(vq, settings, self.vq_samples)
        grids = () if s is None else tuple(tuple(map(tuple, g.tolist())) for g in s.grids)
        return {self.vae_standard: standard_files, self.vae_samples: vae_files, self.vq_samples: vq_files,
                self.info: f"{standard_line}  \n{vae_line}  \n{vq_line}",
                self.vae_quality: self.quality(vae), self.vq_quality: self.quality(vq),
                self.state: GenerateSession(vq=vq or "", grids=grids)}

    def quality(self, name: str) -> str:
        """The sample-quality figures checkpoint `name` recorded, as a line under its samples."""
        return f"**{name}**: {self.ex.store.sample_note(name)}" if name else ""

    def new_seed(self, seed, vae: str, vq: str, n, temperature, top_k) -> dict:
        seed = int(seed or 0) + 1
        return {**self.generate(vae, vq, seed, n, temperature, top_k), self.seed: seed}

    def on_select(self, st: GenerateSession, codes: CodesSession, evt: gr.SelectData) -> dict:
        """A click on VQ sample i: its code grid, in the codes view."""
        i = evt.index if isinstance(evt.index, int) else None
        if i is None or not 0 <= i < len(st.grids):
            return gr.skip()  # (an empty dict is not "no updates" to Gradio: it wants a value per output)
        return {**self.codes.show_grid(codes, st.vq, st.grids[i]), self.page.tabs: gr.Tabs(selected="codes")}

    def wire(self, page: Page, tab: gr.Tab):
        self.page, self.codes = page, page.codes
        s = self.state
        settings = [self.seed, self.n, self.temperature, self.top_k]
        inputs = [page.vae, page.vq, *settings]
        outputs = {self.vae_standard, self.vae_samples, self.vq_samples, self.info, self.vae_quality, self.vq_quality,
                   s}
        page.on_open([page.vae, page.vq], self.generate, inputs, outputs, self.vq_samples, "generate")
        for edit in (self.seed.submit, self.n.release, self.temperature.release, self.top_k.submit):
            page.live(edit, self.generate, inputs, outputs, trigger_mode="always_last")
        page.live(self.again.click, self.new_seed, [self.seed, page.vae, page.vq, *settings[1:]],
                  outputs | {self.seed})
        page.live(self.vq_samples.select, self.on_select, [s, self.codes.state],
                  self.codes.grid_output_set() | {page.tabs})
