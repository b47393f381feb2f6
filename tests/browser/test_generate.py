"""The Generate view in Chromium: samples of both models, the line of sample figures under each; a VQ sample opens
in the codes view."""
from tests.browser_app import needs_chromium

pytestmark = needs_chromium


def test_generate_shows_samples_of_both_models_and_opens_a_vq_sample_in_the_codes_view(open_app, app_models,
                                                                                       app_checkpoints):
    from explorer.service.explorer import Explorer
    from explorer.service.sampling import SampleSettings

    app = open_app()
    page = app.page
    page.get_by_role("tab", name="Generate").click()
    page.wait_for_function("() => document.querySelectorAll('#gen-vq img').length === 16")
    page.wait_for_function("() => document.querySelectorAll('#gen-vae img').length === 16")
    assert "ms each" in page.locator("#gen-info").inner_text()
    # the test checkpoints recorded no sample figures: the line under each model's samples says how to compute them
    page.wait_for_function("() => document.querySelector('#gen-vq-quality').innerText.includes('vae_core.evaluate')")
    assert "--samples-only" in page.locator("#gen-vae-quality").inner_text()
    page.locator("#gen-vq img").nth(2).click()
    page.wait_for_selector("#code-grid td[data-row]", state="visible")  # the codes tab, with sample 2's grid
    shown = Explorer([app_checkpoints], log=lambda *a: None)
    want = shown.generate.sample(app_models.vq, SampleSettings(n=16)).grids[2]
    page.wait_for_function("(v) => Array.from(document.querySelectorAll('#code-grid td')).map(t => t.innerText.trim())"
                           ".join(',') === v", arg=",".join(str(v) for v in want.reshape(-1)))
    assert app.errors == []
