"""Sessions in Chromium: two tabs keep their own selection; a tab whose state the server evicted says so and reloads."""
import pytest

from tests.browser_app import AppPage, needs_chromium

pytestmark = needs_chromium


def test_two_sessions_keep_their_own_selection(open_app):
    a, b = open_app(), open_app()
    ia = a.click_point(avoid=[0], seed=1)
    ib = b.click_point(avoid=[0, ia], seed=2)
    assert ia != ib
    assert f"#{ia}:" in a.info() and f"#{ib}:" in b.info()
    # a's selection lives in a's session on the server: after a click elsewhere on the map, "reset to selected
    # point" brings back the decode of a's point, not b's
    a_decode = a.image("#decoded-image canvas").tobytes()
    old = a.src("#decoded-image canvas")
    a.page.mouse.click(*a.empty_spot()[:2])
    old = a.wait_new_src("#decoded-image canvas", old)
    a.page.get_by_role("button", name="reset to selected point").click()
    a.wait_new_src("#decoded-image canvas", old)
    assert a.image("#decoded-image canvas").tobytes() == a_decode
    assert f"#{ia}:" in a.info() and f"#{ib}:" in b.info()
    assert a.errors == [] and b.errors == []


@pytest.fixture(scope="module")
def one_session_url(app_checkpoints, tmp_path_factory):
    """An app that keeps the state of one session only: a second tab evicts the first one's."""
    from tests.launch import start_app, stop_app

    tmp = tmp_path_factory.mktemp("one-session")
    proc, url, _ = start_app([app_checkpoints], tmp / "app.log",
                             {"GRADIO_TEMP_DIR": str(tmp / "gradio"), "VAE_EXPLORER_SESSIONS": "1"}, timeout=180)
    yield url
    stop_app(proc)


def test_a_tab_whose_state_was_evicted_says_so_and_reloads(browser, one_session_url):
    first = AppPage(browser, one_session_url)
    second = AppPage(browser, one_session_url)  # its session pushes the first one's out
    try:
        first.page.locator("#latent-sliders").scroll_into_view_if_needed()
        first.page.get_by_role("button", name="reset to selected point").click()
        message = first.page.get_by_text("idle for a long time")
        message.wait_for()
        first.errors.clear()  # the failed call is logged in the console as well
        with first.page.expect_navigation():
            first.page.get_by_role("link", name="Reload the page").click()
        first.page.wait_for_selector("#latent-map .vx-plot[data-ready]")
        first.page.wait_for_selector("#decoded-image canvas[data-frame]")
        assert first.click_point(avoid=[0], seed=6) >= 0  # a working page again
    finally:
        first.close()
        second.close()
