"""`python app.py --checkpoints DIR --images PATH` in Chromium: the latent map shows the given images, not the
checkpoint's own test split, and says once what was read and changed."""
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.browser_app import AppPage, needs_chromium
from tests.conftest import NO_UMAP
from tests.launch import AppStartError, start_app, stop_app

pytestmark = needs_chromium
N = 23  # images in the set: fewer than the digits test split, so the map's points tell the two apart


@pytest.fixture(scope="module")
def images_url(app_checkpoints, tmp_path_factory):
    """The app over a copy of the tiny checkpoints (their projection of these images lands there), serving N RGB
    20x20 images in 3 classes from an .npz."""
    tmp = tmp_path_factory.mktemp("images-app")
    ckpts = shutil.copytree(app_checkpoints, tmp / "ckpts")
    rng = np.random.default_rng(0)
    np.savez(tmp / "mine.npz", x=rng.integers(0, 256, (N, 20, 20, 3), dtype=np.uint8), y=np.arange(N) % 3)
    (tmp / "no_umap" / "umap").mkdir(parents=True)  # the tiny checkpoints need no UMAP: an import fails fast
    (tmp / "no_umap" / "umap" / "__init__.py").write_text(NO_UMAP)
    env = {"GRADIO_TEMP_DIR": str(tmp / "gradio"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp / "no_umap"), os.environ.get("PYTHONPATH")]))}
    try:
        proc, url, _ = start_app([ckpts], tmp / "app.log", env, timeout=180, args=("--images", str(tmp / "mine.npz")))
    except AppStartError as e:
        pytest.fail(str(e))
    try:
        yield url, Path(tmp / "mine.npz")
    finally:
        stop_app(proc)


def test_the_map_shows_the_given_images_with_a_note(browser, images_url):
    url, path = images_url
    app = AppPage(browser, url)
    try:
        assert sorted(i for i, _, _ in app.geometry()["points"]) == list(range(N))
        assert app.info().startswith("Selected test image #0")
        assert f"{N} images from {path}, resized from 20x20 RGB to 8x8 grey" in app.info()
        assert app.image("#selected-image img").format == "PNG"
        app.page.wait_for_timeout(500)  # let late errors arrive
        assert app.errors == []
    finally:
        app.close()
