"""The explorer's functions, without a browser: inverse mapping, code grids, uploads, projection caches, service."""
import io
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from explorer.compute.code_grid import GridError, paint, set_cell, validate_grid
from explorer.compute.inverse import LatentMap
from explorer.errors import LatentError, UnknownCheckpoint
from explorer.figures import maps as plots
from explorer.figures.pictures import ImageInputError, load_upload
from explorer.service import projection
from explorer.service.explorer import Explorer
from explorer.web.components.sliders import SliderError, slider_event, sliders_value
from vae_core import Config
from vae_core.train import train


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    """A 2-D-latent VAE (its map is the latent: no UMAP) and a 16-code VQ-VAE (PCA map) on the 8x8 digits."""
    root = tmp_path_factory.mktemp("ckpts")
    kw = {"data": "digits", "channels": 1, "image_size": 8, "width": 8, "epochs": 1, "batch_size": 64}
    train(Config(model="vae", latent_dim=2, **kw), root / "vae2", log=lambda *a: None)
    train(Config(model="vqvae", num_codes=16, code_dim=8, **kw), root / "vq", log=lambda *a: None)
    return root


@pytest.fixture(scope="module")
def ex(ckpts):
    return Explorer([ckpts], log=lambda *a: None)


# --- inverse mapping -----------------------------------------------------------------------------------
def test_inverse_map_returns_known_latent_at_a_known_point():
    rng = np.random.default_rng(0)
    latents, coords = rng.normal(size=(200, 5)), rng.normal(size=(200, 2))
    m = LatentMap(latents, coords)
    np.testing.assert_allclose(m.to_latent(*coords[17]), latents[17], atol=1e-4)
    np.testing.assert_allclose(m.to_map(latents[42]), coords[42], atol=1e-4)
    assert m.nearest_index(*coords[99]) == 99


def test_inverse_map_blends_between_points():
    m = LatentMap(np.array([[0.0, 0.0], [10.0, 10.0]]), np.array([[0.0, 0.0], [1.0, 0.0]]), k=2)
    mid = m.to_latent(0.5, 0.0)
    np.testing.assert_allclose(mid, [5.0, 5.0], atol=1e-6)  # equal distances -> equal weights
    near_first = m.to_latent(0.1, 0.0)
    assert 0 < near_first[0] < 5.0


# --- code grids ----------------------------------------------------------------------------------------
def test_grid_editing_does_not_touch_the_original():
    g = np.zeros((3, 3), dtype=np.int64)
    g2 = set_cell(g, 1, 2, 7)
    assert g2[1, 2] == 7 and g[1, 2] == 0 and g2.sum() == 7
    assert (paint(g, 5) == 5).all() and paint(g, 5).shape == (3, 3)


@pytest.mark.parametrize("grid, message", [
    ([[0, 1], [2]], "2x2"), ([[0, 1, 2]], "2x2"), ([[0, -1], [0, 0]], "0..7"), ([[0, 8], [0, 0]], "0..7"),
    ([[0, 1.5], [0, 0]], "integer"), ([[0, "a"], [0, 0]], "integer"), ([[0, None], [0, 0]], "integer"),
    ([[0, float("nan")], [0, 0]], "integer"), ([[True, 0], [0, 0]], "integer"), ("oops", "2x2"),
])
def test_bad_grids_get_clear_errors(grid, message):
    with pytest.raises(GridError, match=message):
        validate_grid(grid, 2, 8)


def test_float_integers_from_json_are_accepted():
    assert validate_grid([[1.0, 2], [3, 4]], 2, 8).tolist() == [[1, 2], [3, 4]]


# --- uploads -------------------------------------------------------------------------------------------
def _png(im: Image.Image, **kw) -> io.BytesIO:
    b = io.BytesIO()
    im.save(b, format=kw.pop("format", "PNG"), **kw)
    b.seek(0)
    return b


@pytest.mark.parametrize("make", [
    lambda: Image.new("1", (30, 20), 1),
    lambda: Image.new("P", (16, 16), 3),
    lambda: Image.new("RGBA", (50, 50), (255, 0, 0, 128)),
    lambda: Image.new("LA", (28, 28), (200, 255)),
    lambda: Image.fromarray(np.full((28, 28), 65535, dtype=np.uint16)),
    lambda: Image.new("CMYK", (40, 40), (0, 0, 0, 0)),
    lambda: Image.new("RGB", (300, 100), (10, 200, 30)),
])
def test_uploads_of_any_mode_become_model_input(make):
    for channels in (1, 3):
        a, note = load_upload(_png(make()) if make().mode != "CMYK" else _png(make(), format="JPEG"), channels, 8)
        assert a.shape == (channels, 8, 8) and a.dtype == np.uint8
        assert "converted" in note


def test_sixteen_bit_white_stays_white():
    a, _ = load_upload(_png(Image.fromarray(np.full((8, 8), 65535, dtype=np.uint16))), 1, 8)
    assert a.min() == 255


def test_bad_uploads_are_refused_clearly(tmp_path):
    good = _png(Image.new("RGB", (64, 64), (1, 2, 3))).getvalue()
    (tmp_path / "trunc.png").write_bytes(good[: len(good) // 2])
    (tmp_path / "text.png").write_text("not an image")
    for f in ("trunc.png", "text.png"):
        with pytest.raises(ImageInputError, match="could not read"):
            load_upload(str(tmp_path / f), 1, 8)
    for empty in (None, ""):
        with pytest.raises(ImageInputError, match="no image"):
            load_upload(empty, 1, 8)


def test_huge_image_is_refused_before_decoding(tmp_path):
    """A PNG whose header claims 20000x20000 pixels is refused from its header alone."""
    raw = bytearray(_png(Image.new("L", (4, 4))).getvalue())
    ihdr = raw.index(b"IHDR")
    raw[ihdr + 4: ihdr + 12] = struct.pack(">II", 20000, 20000)
    raw[ihdr + 17: ihdr + 21] = struct.pack(">I", zlib.crc32(bytes(raw[ihdr: ihdr + 17])))
    (tmp_path / "huge.png").write_bytes(bytes(raw))
    with pytest.raises(ImageInputError, match="megapixels"):
        load_upload(str(tmp_path / "huge.png"), 1, 28)


# --- projection cache ----------------------------------------------------------------------------------
def test_projection_is_cached_and_keyed_by_weights_and_data(ckpts, ex, monkeypatch):
    name = "vae2"
    view = ex.store.latent_view(name)
    files = list((ckpts / name / "projections").glob("latent-*.npz"))
    assert len(files) == 1 and view.proj.method == "identity"
    assert len(view.proj.coords) == len(ex.store.data(name).x_test)

    def fail(*a, **k):
        raise AssertionError("recomputed despite a warm cache")

    monkeypatch.setattr(projection, "encode_posteriors", fail)  # the encoding of every VAE map
    monkeypatch.setattr(projection, "umap_2d", fail)
    again = Explorer([ckpts], log=lambda *a: None).store.latent_view(name)  # a fresh app start reads the cache
    np.testing.assert_array_equal(again.proj.coords, view.proj.coords)
    x = ex.store.data(name).x_test
    weights = ckpts / name / "model.safetensors"
    assert projection.cache_key(weights, x, "latent") != projection.cache_key(weights, x[:-1], "latent")
    assert projection.cache_key(weights, x, "latent") != projection.cache_key(weights, x, "codebook")


def test_codebook_projection_counts_every_code_use(ex):
    cb = ex.store.codebook_view("vq")
    assert cb.method == "pca" and cb.coords.shape == (16, 2)
    assert cb.counts.sum() == cb.grids.size  # every grid cell counted once
    assert 0 < cb.usage()["codes_used"] <= 1


def test_read_only_checkpoint_caches_elsewhere(ckpts, tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(projection.os, "access", lambda *a: False)
    p = projection.cache_path(ckpts / "vae2", ckpts / "vae2" / "model.safetensors", np.zeros(3, np.uint8), "latent")
    assert str(p).startswith(str(tmp_path / "cache"))


# --- service -------------------------------------------------------------------------------------------
def test_decode_latent_validates_input(ex):
    assert ex.map.decode_latent("vae2", [0.1, -0.2]).size[0] > 8
    for bad, msg in (([0.1], "2 numbers"), ([0.0, float("nan")], "NaN"), ([0.0, 1e6], "within"),
                     ("abc", "numbers"), ([[1, 2]], "2 numbers")):
        with pytest.raises(LatentError, match=msg):
            ex.map.decode_latent("vae2", bad)
    with pytest.raises(LatentError, match="VAE checkpoint"):
        ex.map.decode_latent("vq", [0, 0])


def test_page_images_keep_the_model_pixels_and_api_images_are_enlarged(ex):
    native, shown = ex.map.decode_latent("vae2", [0.1, -0.2], side=0), ex.map.decode_latent("vae2", [0.1, -0.2])
    side = ex.store.model("vae2").cfg.image_size
    assert native.size == (side, side) and shown.size[0] >= 8 * side
    np.testing.assert_array_equal(np.asarray(shown)[::shown.size[0] // side, ::shown.size[0] // side],
                                  np.asarray(native))


# --- sliders ----------------------------------------------------------------------------------------------
def test_slider_value_carries_dims_labels_values_and_a_new_revision_each_time():
    import json
    a = json.loads(sliders_value([3, 0], ["z3", "z0"], [0.123456, -1.5]))
    b = json.loads(sliders_value([3, 0], ["z3", "z0"], [0.123456, -1.5]))
    assert a["dims"] == [3, 0] and a["labels"] == ["z3", "z0"] and a["values"] == [0.12, -1.5]
    assert a["rev"] != b["rev"]  # the same latent sent again (reset) still reaches the page


@pytest.mark.parametrize("data, message", [
    (None, "dimension and a number"), ({"dim": 1}, "dimension and a number"),
    ({"dim": "x", "value": 1}, "dimension and a number"), ({"dim": 16, "value": 0.5}, "0..15"),
    ({"dim": -1, "value": 0.5}, "0..15")])
def test_bad_slider_events_are_refused_clearly(data, message):
    with pytest.raises(SliderError, match=message):
        slider_event(data, 16)


def test_slider_event_reads_dimension_and_value():
    assert slider_event({"dim": "2", "value": "-0.25"}, 4) == (2, -0.25)


def test_unknown_or_path_like_checkpoint_names_are_refused(ex):
    for name in ("nope", "../vae2", "/etc/passwd", str(ex.store.found("vae2").folder), None):
        with pytest.raises(UnknownCheckpoint):
            ex.map.decode_latent(name, [0, 0])


def test_decode_codes_and_edit_changes_image(ex):
    cb = ex.store.codebook_view("vq")
    g = cb.grids[0].tolist()
    a = np.asarray(ex.codes.decode_codes("vq", g))
    k = (g[0][0] + 1) % 16
    b = np.asarray(ex.codes.decode_codes("vq", set_cell(np.array(g), 0, 0, k).tolist()))
    assert a.shape == b.shape and not np.array_equal(a, b)
    model = ex.store.model("vq")
    x = ex.store.image("vq", 0)
    np.testing.assert_array_equal(model.encode_indices(x)[0].numpy(), cb.grids[0])


def test_reconstruct_reports_mse_and_psnr(ex):
    x = ex.store.image("vae2", 3)
    r = ex.compare.reconstruct("vae2", "vq", x)
    for m in ("vae", "vqvae"):
        mse, db = getattr(r, f"{m}_mse"), getattr(r, f"{m}_psnr")
        assert mse > 0 and abs(db - 10 * np.log10(1 / mse)) < 1e-9
        assert getattr(r, f"{m}_error").size == getattr(r, m).size


def test_interpolation_starts_and_ends_at_the_images(ex):
    r = ex.compare.interpolate("vae2", "vq", 0, 5, steps=4)
    assert r.linear.size == r.spherical.size == r.vq.size
    m = ex.store.model("vae2")
    with torch.no_grad():
        za, zb = m.encode(ex.store.image("vae2", 0))[0], m.encode(ex.store.image("vae2", 5))[0]
    assert not torch.allclose(za, zb)
    strip = np.asarray(r.linear)
    assert strip.shape[1] > 4 * strip.shape[0] // 2  # a row of 4 images


def test_manifold_only_for_2d_latents(ex):
    assert ex.map.manifold("vae2") is not None


# --- sessions and views ---------------------------------------------------------------------------------------
def test_a_tab_whose_session_was_evicted_gets_a_reload_message(ex):
    """Gradio hands a tab whose state it evicted (state_session_capacity) a new session: every live action then
    says so, with a link that reloads the page, instead of failing on a missing key."""
    import gradio as gr

    from explorer.errors import SessionExpired
    from explorer.web.session import CodesSession, LatentSession
    from explorer.web.views import expiring
    from explorer.web.views.codes import CodesView
    from explorer.web.views.map import MapView

    evt = gr.EventData(None, {"kind": "space", "x": 0.0, "y": 0.0, "dim": 0, "value": 1.0, "row": 0, "col": 0})
    m, c = MapView(ex), CodesView(ex)
    for action in (lambda: m.on_click(LatentSession(), evt), lambda: m.on_slide(LatentSession(), evt),
                   lambda: m.on_reset(LatentSession()), lambda: m.on_prior(LatentSession()),
                   lambda: m.on_dims(LatentSession(), [0]), lambda: c.on_cell(CodesSession(), evt),
                   lambda: c.on_code(CodesSession(), 1), lambda: c.on_paint(CodesSession(), 1),
                   lambda: c.on_reset(CodesSession()), lambda: c.on_index(CodesSession(), 3)):
        with pytest.raises(SessionExpired):
            action()
    notice = gr.HTML()
    shown = expiring(m.on_reset, notice)(LatentSession())  # what the page's live events get
    assert list(shown) == [notice] and "idle for a long time" in shown[notice]
    assert 'href=""' in shown[notice] and "Reload the page" in shown[notice]


def test_user_errors_share_one_base_class():
    from explorer.errors import (
        DataUnavailable,
        IndexRangeError,
        SessionExpired,
        UnknownCheckpoint,
        UnreadableCheckpoint,
        UserError,
    )

    for cls in (UnknownCheckpoint, UnreadableCheckpoint, GridError, ImageInputError, LatentError, SliderError,
                IndexRangeError, SessionExpired, DataUnavailable):
        assert issubclass(cls, UserError), cls


def test_bad_image_index_is_a_user_error(ex):
    from explorer.errors import UserError

    for bad in (-1, 10**9, 1.5, None, "3"):
        with pytest.raises(UserError, match="image index"):
            ex.store.image("vae2", bad)


# --- progress of a first projection ---------------------------------------------------------------------------
def test_a_first_projection_reports_advancing_progress(ckpts, tmp_path):
    """Opening a checkpoint without a projection cache reports each encoding batch, in order, and the end."""
    import shutil

    for name in ("vae2", "vq"):
        shutil.copytree(ckpts / name, tmp_path / name, ignore=shutil.ignore_patterns("projections"))
    fresh = Explorer([tmp_path], log=lambda *a: None)
    for name, open_view in (("vae2", fresh.store.latent_view), ("vq", fresh.store.codebook_view)):
        heard = []
        open_view(name, progress=lambda f, what, heard=heard: heard.append((f, what)))
        fractions = [f for f, _ in heard]
        batches = [what for _, what in heard if "batch" in what]
        assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(set(fractions)) >= 2, heard
        assert batches and "batch 1 of" in batches[0], heard
        again = []
        open_view(name, progress=lambda f, what, again=again: again.append((f, what)))  # cached: nothing to report
        assert again == []


def test_project_latents_reports_every_batch(ckpts, ex):
    model = ex.store.model("vae2")
    x = ex.store.data("vae2").x_test
    heard = []
    projection.project_latents(model, x, None, batch_size=100, progress=lambda f, what: heard.append((f, what)))
    n = -(-len(x) // 100)
    said = [what for _, what in heard]
    expected = [f"encoding {len(x)} test images: batch {b} of {n}" for b in range(1, n + 1)]
    assert [w.split(",")[0] for w in said] == expected
    assert all("s left" in w for w in said[1:]), said
    assert [f for f, _ in heard] == sorted(f for f, _ in heard)


def test_each_view_opens_in_its_own_event_with_one_progress_indicator(ex):
    from explorer.web.page import build

    demo = build(ex)
    opens = [f for f in demo.fns.values() if f.concurrency_id and str(f.concurrency_id).startswith("open-")]
    by_view = {}
    for f in opens:
        by_view.setdefault(f.concurrency_id, set()).add(tuple(c._id for c in f.show_progress_on))
    from explorer.web.page import VIEWS

    assert set(by_view) == {f"open-{v.key}" for v in VIEWS}  # every view shows a result when the page opens
    for shown in by_view.values():
        assert len(shown) == 1 and len(next(iter(shown))) == 1  # the same single component on every trigger


def test_training_curves_legend_sits_below_the_plot_clear_of_the_second_axis():
    history = [{"epoch": e, "neg_elbo": 300.0 - e, "kl": 20.0 + e} for e in range(1, 4)]
    fig = plots.training_curves(history, "vae")
    assert [t.get("yaxis") for t in fig["data"]] == [None, "y2"]  # kl on the right-hand axis
    legend = fig["layout"]["legend"]
    assert legend["orientation"] == "h" and legend["y"] < 0  # under the plot, not over the right-hand ticks
