"""The Interpolate view in Chromium: a result when it opens, following the indices."""
from tests.browser_app import needs_chromium

pytestmark = needs_chromium


def test_interpolate_shows_a_result_when_opened_and_follows_the_indices(open_app):
    app = open_app()
    app.page.get_by_role("tab", name="Interpolate").click()
    app.page.wait_for_selector("#interp-linear img")  # a default pair, no button to press
    old = app.src("#interp-linear img")
    to = app.page.locator("#interp-to input")
    to.fill("7")
    to.press("Enter")
    app.wait_new_src("#interp-linear img", old)
    assert app.errors == []
