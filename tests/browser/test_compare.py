"""The Compare view in Chromium: test image 0 when it opens, then an upload's reconstructions."""
from PIL import Image

from tests.browser_app import needs_chromium

pytestmark = needs_chromium


def test_compare_reconstructs_an_uploaded_png(open_app, tmp_path):
    app = open_app()
    page = app.page
    png = tmp_path / "upload.png"
    Image.new("RGB", (40, 30), (220, 120, 40)).save(png)
    page.get_by_role("tab", name="Compare").click()
    # the view opens on test image 0, then follows the upload
    page.wait_for_function("() => document.querySelector('#compare-note').innerText.includes('Test image #0')")
    page.locator("#compare-upload input[type=file]").set_input_files(str(png))
    page.wait_for_function("() => document.querySelector('#compare-note').innerText.includes('Uploaded image')")
    note = page.locator("#compare-note").inner_text()
    assert "converted from 40x30 RGB" in note and "VAE: MSE" in note and "VQ-VAE: MSE" in note
    page.wait_for_selector("#compare-vae img")
    page.wait_for_selector("#compare-vq img")
    vae, vq = app.image("#compare-vae img"), app.image("#compare-vq img")
    assert vae.format == vq.format == "PNG" and vae.size == vq.size
    assert app.errors == []
