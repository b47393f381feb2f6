"""The interpolate view: decodes along paths between two test images (VAE linear and spherical, VQ-VAE
pre-quantisation). It shows a default pair when the page opens and follows every change of the indices or steps."""
import gradio as gr

from explorer.service.explorer import Explorer
from explorer.web.views import Page, image_file


class InterpolateView:
    title = "Interpolate"
    key = "interpolate"  # its tab's id

    def __init__(self, ex: Explorer):
        self.ex = ex

    def build(self):
        with gr.Row():
            self.a = gr.Number(0, precision=0, label="from image index", elem_id="interp-from")
            self.b = gr.Number(1, precision=0, label="to image index", elem_id="interp-to")
            self.steps = gr.Slider(3, 16, value=10, step=1, label="steps")
        self.linear = gr.Image(label="VAE latent, linear", format="png", elem_id="interp-linear")
        self.spherical = gr.Image(label="VAE latent, spherical", format="png")
        self.vq = gr.Image(label="VQ-VAE, pre-quantisation path", format="png")

    def interpolate(self, vae: str, vq: str, a, b, steps) -> dict:
        if not vae or not vq:  # the view needs both models: leave its images as they are
            return gr.skip()
        r = self.ex.compare.interpolate(vae, vq, int(a or 0), int(b or 0), int(steps))
        return {self.linear: image_file(r.linear, self.linear), self.spherical: image_file(r.spherical, self.spherical),
                self.vq: image_file(r.vq, self.vq)}

    def wire(self, page: Page, tab: gr.Tab):
        inputs, outputs = [page.vae, page.vq, self.a, self.b, self.steps], [self.linear, self.spherical, self.vq]
        page.on_open([page.vae, page.vq], self.interpolate, inputs, outputs, self.linear, "interpolate")
        page.on_edit([self.a.change, self.b.change, self.steps.release], self.interpolate, inputs, outputs,
                     trigger_mode="always_last")
