"""The models view: the summary, test metrics, recorded sample-quality figures and training curves of the chosen
checkpoints."""
import gradio as gr
import plotly.graph_objects as go

from explorer.figures import maps as plots
from explorer.service.explorer import Explorer
from explorer.web.views import Page


class ModelsView:
    title = "Models"
    key = "models"  # its tab's id

    def __init__(self, ex: Explorer):
        self.ex = ex

    def build(self):
        with gr.Row():
            with gr.Column():
                self.vae_summary = gr.Markdown()
                self.vae_curves = gr.Plot(label="VAE training")
            with gr.Column():
                self.vq_summary = gr.Markdown()
                self.vq_curves = gr.Plot(label="VQ-VAE training")

    def describe(self, name: str, kind: str):
        if not name:
            return "", None
        return self.ex.store.summary(name), go.Figure(plots.training_curves(self.ex.store.history(name), kind))

    def open(self, vae: str, vq: str):
        return (*self.describe(vae, "vae"), *self.describe(vq, "vqvae"))

    def wire(self, page: Page, tab: gr.Tab):
        outputs = [self.vae_summary, self.vae_curves, self.vq_summary, self.vq_curves]
        page.on_open([page.vae, page.vq], self.open, [page.vae, page.vq], outputs, self.vae_summary, "models")
