"""The page decoder's offer across a map's switch from linear (PCA) to UMAP (a stand-in here): the offer made on the
linear map's positions is prepared again once the store shows UMAP's, in a folder of its own, so the page gets the
new positions (no browser: tests/browser/test_map.py drives the page)."""
import threading
import time

import numpy as np

from explorer.service import projection
from explorer.service.explorer import Explorer
from explorer.site import vendor
from explorer.web.page_decoder import PageDecoders, coords_version
from vae_core import Config, build_model, save_checkpoint

NAME = "vae4"


def ready(decoders: PageDecoders, name: str, seconds: float = 120) -> dict:
    """The offer once it is no longer pending."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        got = decoders.offer(name)
        if not got.get("pending"):
            return got
        time.sleep(0.05)
    raise AssertionError(f"{name}'s page decoder still pending after {seconds} s")


def test_an_offer_is_prepared_again_when_the_map_moves_on(tmp_path, monkeypatch):
    cfg = Config(model="vae", data="digits", channels=1, image_size=8, width=8, latent_dim=4)
    save_checkpoint(tmp_path / "models" / NAME, build_model(cfg).eval(), cfg)
    (tmp_path / "ort").mkdir()
    monkeypatch.setattr(vendor, "ort_web_dist", lambda: tmp_path / "ort")  # its files are not read here
    gate = threading.Event()

    def umap(points, progress=None):
        assert gate.wait(60)
        return projection.pca_2d(points)[:, ::-1] * 2 - 5  # unlike the linear map

    ex = Explorer([tmp_path / "models"], background=True, umap=umap, log=lambda *a: None)
    pca = ex.store.latent_view(NAME).proj
    assert pca.method == "pca"
    decoders = PageDecoders(ex, tmp_path / "page")

    first = ready(decoders, NAME)
    assert "off" not in first, first
    assert first["entry"]["version"] == coords_version(pca.coords)
    assert decoders.offer(NAME) is first  # the map has not moved: the same offer, nothing prepared again

    gate.set()
    assert ex.store.jobs.wait(NAME, 60)
    now = ex.store.latent_view(NAME).proj
    assert now.method == "umap" and coords_version(now.coords) != coords_version(pca.coords)
    assert decoders.offer(NAME) == {"pending": True}  # prepared again, on UMAP's positions
    second = ready(decoders, NAME)
    assert second["entry"]["version"] == coords_version(now.coords) and second["base"] != first["base"]
    folder = tmp_path / "page" / NAME / second["entry"]["version"]
    coords = np.fromfile(folder / "coords.bin", dtype=np.float32).reshape(-1, 2)
    np.testing.assert_array_equal(coords, now.coords)
    old = np.fromfile(tmp_path / "page" / NAME / first["entry"]["version"] / "coords.bin", np.float32)
    np.testing.assert_array_equal(old.reshape(-1, 2), pca.coords)  # a page still holding the old one reads it whole


def test_a_final_map_is_offered_once(tmp_path, monkeypatch):
    cfg = Config(model="vae", data="digits", channels=1, image_size=8, width=8, latent_dim=2)
    save_checkpoint(tmp_path / "models" / NAME, build_model(cfg).eval(), cfg)
    (tmp_path / "ort").mkdir()
    monkeypatch.setattr(vendor, "ort_web_dist", lambda: tmp_path / "ort")
    ex = Explorer([tmp_path / "models"], background=True, log=lambda *a: None)
    assert ex.store.latent_view(NAME).proj.method == "identity"  # a 2-D latent: no UMAP to follow
    decoders = PageDecoders(ex, tmp_path / "page")
    first = ready(decoders, NAME)
    assert first["entry"]["version"] == coords_version(ex.store.latent_view(NAME).proj.coords)
    assert decoders.offer(NAME) is first and decoders.offer(NAME) is first
