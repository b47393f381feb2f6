"""The compare view: a test image or an upload reconstructed by the VAE and the VQ-VAE, with MSE, PSNR and
per-pixel error maps."""
import gradio as gr

from explorer.service.explorer import Explorer
from explorer.web.views import Page, image_file


class CompareView:
    title = "Compare"
    key = "compare"  # its tab's id

    def __init__(self, ex: Explorer):
        self.ex = ex

    def build(self):
        with gr.Row():
            self.index = gr.Number(0, precision=0, label="test image index")
            self.upload = gr.File(label="or upload an image (PNG/JPEG)", file_types=["image"],
                                  elem_id="compare-upload")
        self.note = gr.Markdown(elem_id="compare-note")
        with gr.Row():
            self.original = gr.Image(label="input", format="png")
            self.vae = gr.Image(label="VAE reconstruction", format="png", elem_id="compare-vae")
            self.vq = gr.Image(label="VQ-VAE reconstruction", format="png", elem_id="compare-vq")
        with gr.Row():
            gr.Markdown("per-pixel |error| (black 0, white >= 0.5)")
            self.vae_error = gr.Image(label="VAE error", format="png")
            self.vq_error = gr.Image(label="VQ-VAE error", format="png")

    def compare(self, vae: str, vq: str, index, upload):
        if not vae or not vq:  # the view needs both models
            return (None,) * 5 + ("Train a VAE and a VQ-VAE (see README) to compare them.",)
        if upload:
            x, note = self.ex.store.load_upload(vae, upload)
            note = f"Uploaded image {note}." if note else "Uploaded image used as it is."
        else:
            x, note = self.ex.store.image(vae, int(index or 0)), f"Test image #{int(index or 0)}."
        r = self.ex.compare.reconstruct(vae, vq, x)
        note += (f"  \nVAE: MSE {r.vae_mse:.5f}, PSNR {r.vae_psnr:.2f} dB. "
                 f"VQ-VAE: MSE {r.vqvae_mse:.5f}, PSNR {r.vqvae_psnr:.2f} dB.")
        images = (r.original, r.vae, r.vqvae, r.vae_error, r.vqvae_error)
        outputs = (self.original, self.vae, self.vq, self.vae_error, self.vq_error)
        return *(image_file(im, c) for im, c in zip(images, outputs)), note

    def wire(self, page: Page, tab: gr.Tab):
        outputs = [self.original, self.vae, self.vq, self.vae_error, self.vq_error, self.note]
        inputs = [page.vae, page.vq, self.index, self.upload]
        page.on_open([page.vae, page.vq], self.compare, inputs, outputs, self.vae, "compare")  # test image 0 at first
        page.on_edit([self.index.submit, self.upload.upload], self.compare, inputs, outputs)
