"""The Lessons tab in Chromium: each lesson walked start to end with Next (no page error), the step in the URL,
one figure per lesson checked against the same computation in Python, and a step a lesson lacks dropped from the URL
with a warning."""
import pytest

from explorer.figures.lessons import num
from explorer.service.lesson_steps import LESSONS
from tests.browser_app import AppPage, needs_chromium

pytestmark = needs_chromium
HEAD = "#lesson-head"
MEASURE = "#lesson-measure table"


@pytest.fixture(scope="module")
def lessons_ex(app_checkpoints):
    from explorer.service.explorer import Explorer

    return Explorer([app_checkpoints], log=lambda *a: None)


def wait_step(app: AppPage, m: int, n: int) -> str:
    """Wait for step m of n and its measurement; the measurement's text."""
    app.page.wait_for_function("([sel, t]) => document.querySelector(sel).innerText.includes(t)",
                               arg=[HEAD, f"Step {m} of {n}"])
    app.page.wait_for_selector(MEASURE)
    return app.page.locator("#lesson-measure").inner_text()


@pytest.mark.parametrize("lesson", [1, 2])
def test_each_lesson_runs_start_to_end_and_its_figure_matches_python(browser, app_url, app_models, lessons_ex,
                                                                       lesson):
    index, seed = 2, 3
    query = f"?tab=lessons&lesson={lesson}&index={index}&seed={seed}"
    if lesson == 1:
        app = AppPage(browser, app_url + query, ready=MEASURE)
    else:  # a step the lesson does not have: dropped with a warning, the lesson opens at step 1
        app = AppPage(browser, app_url + query + "&step=9", ready="text=has steps 1..3")
    steps = len(LESSONS[lesson - 1].steps)
    shown = {1: wait_step(app, 1, steps)}
    for m in range(2, steps + 1):
        app.page.locator("#lesson-next").click()
        shown[m] = wait_step(app, m, steps)
    app.page.wait_for_function("(q) => location.search.includes(q)", arg=f"step={steps}")
    assert f"lesson={lesson}" in app.page.evaluate("location.search")
    if lesson == 1:  # step 3: KL in closed form of test image `index`
        r = lessons_ex.lessons.measure(1, 3, app_models.vae, app_models.vq, index, seed)
        assert f"KL = {num(r.closed_form)} nats" in shown[3]
        assert num(r.estimates[-1]) in shown[3]  # the seeded Monte Carlo estimate, L = 1024
    else:  # step 1: the codebook loss's gradient on the selected code, and none from the reconstruction
        r = lessons_ex.lessons.measure(2, 1, app_models.vae, app_models.vq, index, seed)
        assert r.code_from_reconstruction == 0.0
        assert num(r.code_from_codebook_loss) in shown[1]
    app.page.locator("#lesson-back").click()
    wait_step(app, steps - 1, steps)
    assert app.errors == []
    app.close()

