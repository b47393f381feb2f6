"""diffusers models in the running app: `python app.py --checkpoints <folder> --images <npz>` over a tiny random-weight
AutoencoderKL (latent 4 x 8 x 8, mapped and edited flattened: 256 numbers) and VQModel (32 codes, an 8 x 8 grid),
saved with save_pretrained, and 60 labelled 16 x 16 RGB images. In Chromium: the map, its clicks and sliders, the
Maths tab's one line for a model without a decoder scale, the codes view, and Generate for a VQ model without a prior;
then the named API endpoints through gradio_client. A copy of the KL model with a preview decoder beside it
(tiny-preview) shows its preview first, then the full decode, each labelled.

The KL latent is 256-D, so its map would be UMAP: the fixture writes the projection cache the app looks for (its
name hashes the weights, the images and the settings) with a PCA standing in for UMAP, in this process; the app
process is left as it is, with an `umap` that fails on import, so a missing cache fails fast instead of compiling.
"""
import math
import os
import shutil
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from explorer.models import preview
from tests.browser_app import AppPage, needs_chromium
from tests.conftest import NO_UMAP
from tests.launch import AppStartError, start_app, stop_app

diffusers = pytest.importorskip("diffusers")
gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402  (after the importorskip above)
from gradio_client.exceptions import AppError  # noqa: E402  (likewise)

N, SIDE = 60, 16  # images in the set, and their side
KL, VQ, PREVIEW = "tiny-kl", "tiny-vq", "tiny-preview"
LATENT, GRID, CODES = 4 * 8 * 8, 8, 32
BODY = {"down_block_types": ("DownEncoderBlock2D", "DownEncoderBlock2D"),
        "up_block_types": ("UpDecoderBlock2D", "UpDecoderBlock2D"), "block_out_channels": (8, 16),
        "norm_num_groups": 4, "layers_per_block": 1, "sample_size": SIDE, "in_channels": 3, "out_channels": 3}


def smooth_images(rng, n: int) -> np.ndarray:
    """n RGB images (N, H, W, 3) uint8: blurry colour blobs, so that random weights give distinct latents."""
    yy, xx = np.mgrid[0:SIDE, 0:SIDE] / SIDE
    out = np.empty((n, SIDE, SIDE, 3), dtype=np.float64)
    for i in range(n):
        cx, cy, r = rng.uniform(0.2, 0.8, 2).tolist() + [rng.uniform(0.1, 0.4)]
        blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))
        colour, back = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
        out[i] = blob[..., None] * colour + (1 - blob[..., None]) * back
    return (255 * out).round().astype(np.uint8)


@pytest.fixture(scope="module")
def diffusers_app(tmp_path_factory):
    """(url, folder of the two models): the app over them and N images, projection caches warm."""
    from explorer.service import projection
    from explorer.service.explorer import Explorer

    tmp = tmp_path_factory.mktemp("diffusers-app")
    models = tmp / "models"
    torch.manual_seed(0)
    diffusers.AutoencoderKL(latent_channels=4, **BODY).save_pretrained(models / KL)
    diffusers.VQModel(latent_channels=4, num_vq_embeddings=CODES, vq_embed_dim=4, **BODY).save_pretrained(models / VQ)
    shutil.copytree(models / KL, models / PREVIEW)
    weights = preview.weights_hash(models / PREVIEW / "diffusion_pytorch_model.safetensors")
    preview.save(preview.PreviewDecoder(preview.PreviewConfig((4, 8, 8), (3, SIDE, SIDE), width=8, fidelity_db=21.5,
                                                              model_weights=weights)), models / PREVIEW)
    rng = np.random.default_rng(0)
    images = tmp / "blobs.npz"
    np.savez(images, x=smooth_images(rng, N), y=np.arange(N) % 4)
    umap_2d, threads = projection.umap_2d, torch.get_num_threads()
    projection.umap_2d = lambda points, progress=None: projection.pca_2d(points)  # here only, not in the app
    torch.set_num_threads(1)
    try:
        ex = Explorer([models], log=lambda *a: None, images=images)
        # (a PCA under that name: what the app reads from the cache)
        assert ex.store.latent_view(KL).proj.method == "umap"
        ex.store.codebook_view(VQ)  # 32 codes: a PCA of the codebook, no UMAP
        ex.store.latent_view(PREVIEW)
    finally:
        projection.umap_2d = umap_2d
        torch.set_num_threads(threads)
    assert "umap" not in sys.modules
    assert len(list((models / KL / "projections").glob("latent-*.npz"))) == 1
    assert len(list((models / VQ / "projections").glob("codebook-*.npz"))) == 1

    (tmp / "no_umap" / "umap").mkdir(parents=True)
    (tmp / "no_umap" / "umap" / "__init__.py").write_text(NO_UMAP)
    env = {"GRADIO_TEMP_DIR": str(tmp / "gradio"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp / "no_umap"), os.environ.get("PYTHONPATH")]))}
    try:
        proc, url, _ = start_app([models], tmp / "app.log", env, timeout=240, args=("--images", str(images)))
    except AppStartError as e:
        pytest.fail(str(e))
    try:
        yield url, models
    finally:
        stop_app(proc)


@pytest.fixture
def app(browser, diffusers_app):
    page = AppPage(browser, diffusers_app[0])
    yield page
    page.close()


def open_image(path) -> Image.Image:
    im = Image.open(path)
    im.load()
    return im


# --- in Chromium ------------------------------------------------------------------------------------------------
@needs_chromium
def test_the_map_shows_the_images_and_a_click_on_a_point_shows_it_and_its_decode(app):
    assert sorted(i for i, _, _ in app.geometry()["points"]) == list(range(N))
    assert KL in app.page.locator("#latent-map").inner_text()
    assert app.info().startswith("Selected test image #0")
    assert app.image("#selected-image img").format == "PNG"
    selected, before = app.src("#selected-image img"), app.image("#decoded-image canvas").tobytes()
    index = app.click_point(avoid=[0])
    assert f"#{index}:" in app.info()
    app.page.wait_for_function("(s) => document.querySelector('#selected-image img').getAttribute('src') !== s",
                               arg=selected)
    assert app.image("#selected-image img").format == "PNG"
    assert app.image("#decoded-image canvas").tobytes() != before
    app.page.wait_for_timeout(500)  # let late errors arrive
    assert app.errors == []


@needs_chromium
def test_a_click_in_empty_space_decodes_there(app):
    old, before = app.src("#decoded-image canvas"), app.image("#decoded-image canvas").tobytes()
    x, y, _, _ = app.empty_spot()
    app.page.mouse.click(x, y)
    app.wait_new_src("#decoded-image canvas", old)
    assert app.image("#decoded-image canvas").tobytes() != before
    assert app.wait_info("Clicked at")  # the note comes with the event's answer, after the page's own decode
    assert app.errors == []


@needs_chromium
def test_a_slider_move_changes_the_decode(app):
    old, before = app.src("#decoded-image canvas"), app.image("#decoded-image canvas").tobytes()
    number = app.page.locator("#slider-0 input[type=number]")
    v = float(number.input_value())
    number.fill(str(round(v + 2.5 if v < 0 else v - 2.5, 2)))
    number.press("Enter")
    app.wait_new_src("#decoded-image canvas", old)
    assert app.image("#decoded-image canvas").tobytes() != before
    assert app.errors == []


CAPTIONS_JS = """() => {
  const c = document.querySelector('#decoded-image figcaption');
  window.vxCaptions = [];
  new MutationObserver(() => window.vxCaptions.push(c.innerText)).observe(c, {childList: true, characterData: true,
                                                                             subtree: true});
}"""


@needs_chromium
def test_a_model_with_a_preview_shows_it_at_once_and_its_full_decode_when_ready(browser, diffusers_app):
    app = AppPage(browser, f"{diffusers_app[0]}?vae={PREVIEW}")
    try:
        page, caption = app.page, "() => document.querySelector('#decoded-image figcaption').innerText"
        assert "its reconstruction (preview, 21.5 dB)" in page.locator("#reconstruction").inner_text()
        page.wait_for_function(caption + ".includes('full decode, ')")
        fulls = int(page.locator("#decoded-image canvas").get_attribute("data-fulls"))
        page.evaluate(CAPTIONS_JS)
        index = app.click_point(avoid=[0])  # the image and its preview at once, then its full decode
        assert f"#{index}:" in app.wait_info("Selected")
        page.wait_for_function("() => window.vxCaptions.some((c) => c.includes('full decode, '))")
        seen = page.evaluate("() => window.vxCaptions")
        first_full = next(i for i, c in enumerate(seen) if "full decode, " in c)
        assert any("(preview, 21.5 dB; decoding...)" in c for c in seen[:first_full])
        assert int(page.locator("#decoded-image canvas").get_attribute("data-fulls")) == fulls + 1  # one, not two
        assert app.errors == []
    finally:
        app.close()


@needs_chromium
def test_the_maths_tab_says_in_one_line_that_the_model_has_no_decoder_scale(app):
    page = app.page
    page.get_by_role("tab", name="Maths").click()
    page.wait_for_selector("#maths-axes .vx-plot[data-ready]")
    line = page.locator("#maths-decoder .vx-missing")
    line.wait_for()
    assert "has no decoder scale" in line.inner_text() and "diffusers AutoencoderKL" in line.inner_text()
    assert page.locator("#maths-decoder img").count() == 0
    page.wait_for_function("() => document.querySelector('#maths-mc').innerText.includes('no decoder scale')")
    assert "error" not in page.locator("#maths-mc").inner_text().lower()
    assert page.locator(".toast-body.error").count() == 0  # said, not raised
    assert app.errors == []


@needs_chromium
def test_the_codes_view_shows_the_8x8_grid_and_a_cell_click_and_a_typed_code_change_the_decode(app, diffusers_app):
    page = app.page
    page.get_by_role("tab", name="VQ-VAE codes").click()
    page.wait_for_selector("#code-grid td[data-row]")
    page.wait_for_selector("#vq-decoded img")
    assert page.locator("#code-grid tr").count() == GRID and page.locator("#code-grid td[data-row]").count() == GRID**2
    from explorer.models.diffusers_models import load

    app.set_cell_to_farthest_code(GRID - 1, GRID // 2, load(diffusers_app[1] / VQ).codebook.numpy())
    assert app.errors == []


@needs_chromium
def test_generate_says_the_vq_model_cannot_generate_and_shows_kl_samples(app):
    page = app.page
    page.get_by_role("tab", name="Generate").click()
    page.wait_for_function("() => document.querySelector('#gen-info').innerText.includes('cannot generate')")
    info = page.locator("#gen-info").inner_text()
    assert f"{VQ} cannot generate" in info and "no prior" in info
    page.wait_for_function("() => document.querySelectorAll('#gen-vae img').length === 16")
    assert page.locator("#gen-vq img").count() == 0
    assert app.errors == []


# --- the API ----------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def client(diffusers_app):
    return Client(diffusers_app[0], verbose=False)


def test_decode_latent_takes_the_flattened_latent(client):
    a = open_image(client.predict(KL, [0.0] * LATENT, api_name="/decode_latent"))
    b = open_image(client.predict(KL, [1.5] * LATENT, api_name="/decode_latent"))
    assert a.format == "PNG" and a.mode == "RGB" and a.size == b.size
    assert a.tobytes() != b.tobytes()


@pytest.mark.parametrize("name, latent, message", [
    (KL, [0.0] * 256 + [0.0], "latent must be a list of 256 numbers"),
    (KL, [0.0] * 16, "latent must be a list of 256 numbers"),
    (KL, [[0.0] * 64] * 4, "latent must be a list of 256 numbers"),  # the unflattened shape is refused too
    (KL, ["nan"] + [0.0] * 255, "NaN or inf"),
    (VQ, [0.0] * 256, "takes a VAE checkpoint"),
])
def test_decode_latent_refuses_bad_requests(client, name, latent, message):
    with pytest.raises(AppError, match=message):
        client.predict(name, latent, api_name="/decode_latent")


def test_decode_codes_takes_an_8x8_grid(client):
    a = open_image(client.predict(VQ, [[0] * GRID] * GRID, api_name="/decode_codes"))
    b = open_image(client.predict(VQ, [[(r * GRID + c) % CODES for c in range(GRID)] for r in range(GRID)],
                                  api_name="/decode_codes"))
    assert a.format == "PNG" and a.size == b.size and a.tobytes() != b.tobytes()


@pytest.mark.parametrize("grid, message", [
    ([[0] * GRID] * (GRID - 1) + [[0] * (GRID - 1) + [CODES]], "indices must be in 0..31"),
    ([[0] * 7] * 7, "code grid must be"),
    ([[0] * GRID] * GRID + [[0] * GRID], "code grid must be"),
])
def test_decode_codes_refuses_a_code_out_of_range_and_a_wrong_grid(client, grid, message):
    with pytest.raises(AppError, match=message):
        client.predict(VQ, grid, api_name="/decode_codes")


def test_sample_the_kl_model_gives_n_images_reproducibly(client):
    first = client.predict(KL, 3, 5, api_name="/sample")
    again = client.predict(KL, 3, 5, api_name="/sample")
    images = [open_image(item["image"]) for item in first]
    assert len(images) == 3 and all(im.format == "PNG" for im in images)
    assert len({im.tobytes() for im in images}) == 3
    assert [im.tobytes() for im in images] == [open_image(item["image"]).tobytes() for item in again]


def test_sample_the_vq_model_says_it_cannot_generate(client):
    with pytest.raises(AppError, match=f"{VQ} cannot generate: it has no prior"):
        client.predict(VQ, 2, 0, api_name="/sample")


def test_reconstruct_an_upload_with_the_kl_and_vq_pair(client, tmp_path):
    src = tmp_path / "photo.png"
    Image.fromarray(smooth_images(np.random.default_rng(9), 1)[0]).resize((32, 32)).save(src)
    kl_png, vq_png, metrics = client.predict(handle_file(str(src)), KL, VQ, api_name="/reconstruct")
    a, b = open_image(kl_png), open_image(vq_png)
    assert a.format == b.format == "PNG" and a.size == b.size and a.mode == "RGB"
    for key in ("vae_mse", "vae_psnr", "vqvae_mse", "vqvae_psnr"):
        assert isinstance(metrics[key], float) and math.isfinite(metrics[key]) and metrics[key] > 0, metrics
    assert "32x32" in metrics["note"]
