"""The VQ-VAE codes view in Chromium: editing codes, the codebook map, the prior's suggestions and the quantisation
panel."""

from tests.browser_app import needs_chromium

pytestmark = needs_chromium


def test_editing_a_code_changes_the_vq_decode(open_app, app_models):
    app = open_app()
    page = app.page
    page.get_by_role("tab", name="VQ-VAE codes").click()
    page.wait_for_selector("#code-grid td[data-row]")
    page.wait_for_selector("#vq-decoded img")
    n = app_models.grid
    app.set_cell_to_farthest_code(n - 1, n // 2, app_models.registry.model(app_models.vq).codebook.detach().numpy())
    assert app.errors == []


def test_hovering_a_code_shows_the_decode_of_a_grid_of_it(open_app):
    app = open_app()
    page = app.page
    page.get_by_role("tab", name="VQ-VAE codes").click()
    page.wait_for_selector("#codebook-map .vx-plot[data-ready]")
    page.wait_for_selector("#vq-decoded img")
    code, x, y = app.isolated_point(seed=1, plot="#codebook-map")
    page.mouse.move(x, y)
    thumb = page.locator("#codebook-map img.vx-thumb")
    thumb.wait_for(state="visible")
    src = thumb.get_attribute("src")
    page.mouse.click(x, y)  # the code becomes the one to paint
    page.wait_for_function("(v) => document.querySelector('#code-index input').value === v", arg=str(code))
    page.get_by_role("button", name="paint whole grid with this code").click()
    page.wait_for_function("(n) => [...document.querySelectorAll('#code-grid td')]"
                           ".every(td => td.innerText.trim() === n)",
                           arg=str(code))
    # the thumbnail is that code painted over the whole grid
    page.wait_for_function("(s) => document.querySelector('#vq-decoded img').src === s", arg=src)
    assert app.errors == []


def test_the_priors_suggestion_for_a_cell_can_be_clicked(open_app, app_models):
    app = open_app()
    page = app.page
    page.get_by_role("tab", name="VQ-VAE codes").click()
    r, c = app_models.grid - 1, app_models.grid - 1  # the last cell: the prior conditions on every other one
    page.locator(f'#code-grid td[data-row="{r}"][data-col="{c}"]').click()
    page.wait_for_function("(t) => document.querySelector('#code-suggestions').innerText.includes(t)",
                           arg=f"cell ({r}, {c})")
    choices = page.locator("#code-suggestions button[data-code]")
    assert choices.count() == 8
    code = choices.nth(3).get_attribute("data-code")
    choices.nth(3).click()
    page.wait_for_function("([r, c, v]) => document.querySelector(`#code-grid td[data-row='${r}'][data-col='${c}']`)"
                           ".innerText.trim() === v", arg=[r, c, code])
    assert app.errors == []


def test_quantisation_maps_and_a_cells_nearest_codes(open_app, app_models):
    """Error and flip distance heat maps, z_e's decode beside z_q's, the selected cell's nearest codes (click)."""
    app = open_app()
    page = app.page
    page.get_by_role("tab", name="VQ-VAE codes").click()
    page.wait_for_function("() => document.querySelectorAll('#quantization img').length === 4")
    text = page.locator("#quantization").inner_text()
    assert "error" in text and "to flip" in text and "decode of z_e" in text and "decode of z_q" in text
    r, c = app_models.grid - 1, 0
    cell = page.locator(f'#code-grid td[data-row="{r}"][data-col="{c}"]')
    cell.click()
    page.wait_for_function("(t) => document.querySelector('#code-nearest').innerText.includes(t)",
                           arg=f"cell ({r}, {c})")
    near = page.locator("#code-nearest button[data-code]")
    assert near.count() == 3
    assert near.nth(0).get_attribute("data-code") == cell.inner_text().strip()  # the encoder's code is the nearest
    code = near.nth(2).get_attribute("data-code")
    near.nth(2).click()
    page.wait_for_function("([r, c, v]) => document.querySelector(`#code-grid td[data-row='${r}'][data-col='${c}']`)"
                           ".innerText.trim() === v", arg=[r, c, code])
    assert app.errors == []
