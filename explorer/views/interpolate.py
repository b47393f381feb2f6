"""The interpolate view: decodes along paths between two test images (VAE linear and spherical, VQ-VAE
pre-quantisation)."""
import gradio as gr

from . import Page, handled, image_file


class InterpolateView:
    title = "Interpolate"

    def __init__(self, ex):
        self.ex = ex

    def build(self):
        with gr.Row():
            self.a = gr.Number(0, precision=0, label="from image index")
            self.b = gr.Number(1, precision=0, label="to image index")
            self.steps = gr.Slider(3, 16, value=10, step=1, label="steps")
            self.go = gr.Button("interpolate", variant="primary")
        self.linear = gr.Image(label="VAE latent, linear", format="png")
        self.spherical = gr.Image(label="VAE latent, spherical", format="png")
        self.vq = gr.Image(label="VQ-VAE, pre-quantisation path", format="png")

    def interpolate(self, vae: str, vq: str, a, b, steps):
        r = self.ex.interpolate(vae, vq, int(a or 0), int(b or 0), int(steps))
        return (image_file(r.linear, self.linear), image_file(r.spherical, self.spherical),
                image_file(r.vq, self.vq))

    def wire(self, page: Page, tab: gr.Tab):
        self.go.click(handled(self.interpolate), [page.vae, page.vq, self.a, self.b, self.steps],
                      [self.linear, self.spherical, self.vq], api_visibility="private")
