"""The named API endpoints (gradio_client: client.predict(..., api_name="/decode_latent")), on hidden components:
/reconstruct, /decode_latent, /decode_codes and /sample.

Images go out as files written once each (files.png_file), never as PIL images that Gradio would rewrite in place
while another response streams them.
"""
import gradio as gr

from explorer.service.explorer import Explorer
from explorer.service.sampling import SampleSettings
from explorer.web.files import png_file
from explorer.web.views import handled


def add_endpoints(ex: Explorer, vae: str, vq: str) -> None:
    """Add the endpoints to the Blocks being built."""
    with gr.Row(visible=False):
        image = gr.File(label="image")
        vae_name = gr.Textbox(value=vae, label="vae")
        vq_name = gr.Textbox(value=vq, label="vqvae")
        latent = gr.JSON(label="latent")
        grid = gr.JSON(label="grid")
        out1, out2 = gr.Image(format="png"), gr.Image(format="png")
        metrics = gr.JSON()
        name, n, seed = gr.Textbox(value=vae, label="checkpoint"), gr.Number(16, label="n"), gr.Number(0, label="seed")
        samples = gr.Gallery(format="png")
        buttons = [gr.Button() for _ in range(4)]

    def file(im) -> str:
        return png_file(im, out1.GRADIO_CACHE)

    def reconstruct(upload, vae: str, vqvae: str):
        x, note = ex.store.load_upload(vae, upload)
        r = ex.compare.reconstruct(vae, vqvae, x)
        scores = {"vae_mse": r.vae_mse, "vae_psnr": r.vae_psnr, "vqvae_mse": r.vqvae_mse, "vqvae_psnr": r.vqvae_psnr}
        return file(r.vae), file(r.vqvae), {**scores, "note": note}

    def decode_latent(name: str, z):
        return file(ex.map.decode_latent(name, z))

    def decode_codes(name: str, codes):
        return file(ex.codes.decode_codes(name, codes))

    def sample_images(name: str, n, seed):
        """n (1..64) samples of a VAE (z ~ N(0, I)) or a VQ-VAE with a prior, reproducible from the seed."""
        return [file(im) for im in ex.generate.sample(name, SampleSettings(n, seed)).images]

    api = {"concurrency_limit": 8, "concurrency_id": "api"}
    buttons[0].click(handled(reconstruct), [image, vae_name, vq_name], [out1, out2, metrics], api_name="reconstruct",
                     **api)
    buttons[1].click(handled(decode_latent), [vae_name, latent], out1, api_name="decode_latent", **api)
    buttons[2].click(handled(decode_codes), [vq_name, grid], out1, api_name="decode_codes", **api)
    buttons[3].click(handled(sample_images), [name, n, seed], samples, api_name="sample", **api)
