"""A new model's first map: linear (PCA) at once, UMAP (a fast stand-in here) from the background job, with the inverse
map, neighbours and caches consistent across the switch; encoding progress shared by every session; an interrupted
encode resumed; --sample reproducible."""
import threading

import numpy as np
import pytest
from PIL import Image

from explorer.service import encoding, projection
from explorer.service.explorer import Explorer
from explorer.service.image_sets import ImageSet, sample_indices
from vae_core import Config, build_model, save_checkpoint

QUIET = {"log": lambda *a: None}
NAME = "vae4"


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """An untrained 4-D-latent VAE on the 8x8 digits (its map needs UMAP)."""
    out = tmp_path_factory.mktemp("first-map")
    cfg = Config(model="vae", data="digits", channels=1, image_size=8, width=8, latent_dim=4)
    save_checkpoint(out / NAME, build_model(cfg).eval(), cfg)
    return out


def fresh(root, tmp_path):
    """The checkpoint copied to a folder of its own, so each test starts without a cache."""
    import shutil
    shutil.copytree(root / NAME, tmp_path / NAME)
    return tmp_path


def stand_in(gate: threading.Event | None = None, calls: list | None = None):
    """A fast UMAP stand-in: a map unlike the linear one (scaled, shifted PCA), after `gate` opens."""
    def fit(points, progress=projection.no_progress):
        if calls is not None:
            calls.append(len(points))
        progress(0.8, "UMAP epochs")
        if gate is not None:
            assert gate.wait(30)
        return projection.pca_2d(points) * 3 + 10
    return fit


def test_linear_map_first_then_umap_with_clicks_and_neighbours_consistent(root, tmp_path):
    gate = threading.Event()
    ex = Explorer([fresh(root, tmp_path)], background=True, umap=stand_in(gate), **QUIET)
    first = ex.store.latent_view(NAME)
    assert first.proj.method == "pca" and ex.map.version(NAME) == "pca"
    np.testing.assert_allclose(first.proj.coords, projection.pca_2d(first.proj.latents), atol=1e-5)
    assert "linear (PCA) map: UMAP is" in ex.map.points(NAME).note and ex.store.map_pending(NAME)
    i = 17
    near_before = ex.map.neighbours(NAME, list(first.proj.latents[i]), 5)
    gate.set()
    assert ex.store.jobs.wait(NAME, 30)
    now = ex.store.latent_view(NAME)
    assert now.proj.method == "umap" and ex.map.points(NAME).note == "" and not ex.store.map_pending(NAME)
    np.testing.assert_allclose(now.proj.coords, first.proj.coords * 3 + 10, rtol=1e-4, atol=1e-4)
    # a click at point i's place on the old map while the new one comes, and on the new map: both its own latent
    for version, coords in (("pca", first.proj.coords), ("umap", now.proj.coords)):
        z = ex.map.map_latent(NAME, x=coords[i, 0], y=coords[i, 1], version=version)
        np.testing.assert_allclose(z, first.proj.latents[i], atol=1e-4)
        np.testing.assert_allclose(ex.map.position(NAME, list(first.proj.latents[i]), version), coords[i],
                                   atol=1e-3)
    assert ex.map.point(NAME, i).version == "umap" and ex.map.point(NAME, i, "pca").xy == tuple(first.proj.coords[i])
    near_after = ex.map.neighbours(NAME, list(first.proj.latents[i]), 5)
    assert near_after.indices.tolist() == near_before.indices.tolist()
    cached = list((tmp_path / NAME / "projections").iterdir())
    assert [p.name for p in cached if "linear" in p.name or "partial" in p.name] == [], cached
    # a restart opens the cached UMAP map at once: no encoding, no UMAP
    again = Explorer([tmp_path], background=True, umap=stand_in(calls=(calls := [])), **QUIET)
    np.testing.assert_array_equal(again.store.latent_view(NAME).proj.coords, now.proj.coords)
    assert calls == [] and not again.store.map_pending(NAME)


def test_a_failed_umap_keeps_the_linear_map_and_a_restart_reads_it_from_its_cache(root, tmp_path, monkeypatch):
    def broken(points, progress=None):
        raise RuntimeError("no umap here")
    ex = Explorer([fresh(root, tmp_path)], background=True, umap=broken, **QUIET)
    first = ex.store.latent_view(NAME)
    assert ex.store.jobs.wait(NAME, 30)
    assert ex.map.version(NAME) == "pca" and "UMAP failed (RuntimeError: no umap here)" in ex.store.map_note(NAME)
    assert len(list((tmp_path / NAME / "projections").glob("*.linear.npz"))) == 1

    def no_encoding(*a, **k):
        raise AssertionError("encoded again despite the linear map's cache")
    monkeypatch.setattr(projection, "encode_posteriors", no_encoding)
    calls = []
    again = Explorer([tmp_path], background=True, umap=stand_in(calls=calls), **QUIET)
    np.testing.assert_array_equal(again.store.latent_view(NAME).proj.coords, first.proj.coords)
    assert again.store.jobs.wait(NAME, 30) and calls == [len(first.proj.latents)]
    assert again.map.version(NAME) == "umap"


def test_encoding_progress_is_the_same_in_every_session(root, tmp_path, monkeypatch):
    """A second session opening the model while the first encodes it hears the first's progress (not 0)."""
    gate, real = threading.Event(), projection.encode_posteriors

    def slow(model, x, progress, *a, **k):
        progress(0.5, "encoding: batch 2 of 4, about 3 s left")
        assert gate.wait(30)
        return real(model, x, progress, *a, **k)
    monkeypatch.setattr(projection, "encode_posteriors", slow)
    ex = Explorer([fresh(root, tmp_path)], background=True, umap=stand_in(), **QUIET)
    heard = {"first": [], "second": []}
    views = {}

    def open_in(session):
        views[session] = ex.store.latent_view(NAME, progress=lambda f, what: heard[session].append((f, what)))
    first = threading.Thread(target=open_in, args=("first",))
    first.start()
    while not heard["first"]:
        first.join(0.01)
    second = threading.Thread(target=open_in, args=("second",))
    second.start()
    while not heard["second"]:
        second.join(0.01)
    gate.set()
    first.join(30)
    second.join(30)
    assert heard["second"][0] == (0.5, "encoding: batch 2 of 4, about 3 s left")
    assert views["first"] is views["second"]


class Interrupted(Exception):
    pass


class Failing:
    """A model that fails on its `after`-th batch (a crash in the middle of an encode), counting the images it
    encodes."""

    def __init__(self, model, after: int):
        self.model, self.after, self.batches, self.images = model, after, 0, 0

    def posterior(self, x):
        self.batches += 1
        if self.batches == self.after:
            raise Interrupted
        self.images += len(x)
        return self.model.posterior(x)


def test_an_interrupted_encode_resumes_after_the_last_batch_written(root, tmp_path):
    ex = Explorer([root], **QUIET)
    model, x = ex.store.model(NAME), ex.store.data(NAME).x_test
    whole = encoding.encode_posteriors(model, x, projection.no_progress, batch_size=100)
    partial = tmp_path / "partial"
    with pytest.raises(Interrupted):
        encoding.encode_posteriors(Failing(model, 3), x, projection.no_progress, partial=partial, batch_size=100)
    assert len(list(partial.glob("*.npz"))) == 2
    heard, rest = [], Failing(model, 0)
    resumed = encoding.encode_posteriors(rest, x, lambda f, what: heard.append((f, what)), partial=partial,
                                         batch_size=100)
    assert rest.images == len(x) - 200 and "resumed after 200" in heard[0][1] and heard[0][0] == 200 / len(x)
    np.testing.assert_allclose(resumed.latents, whole.latents, atol=1e-6)
    np.testing.assert_allclose(resumed.kl_per_dim, whole.kl_per_dim, rtol=1e-5)
    assert "s left" in heard[1][1]


def test_sample_is_a_seeded_random_subset_the_same_every_run(root, tmp_path):
    x = np.arange(50 * 4 * 4, dtype=np.uint8).reshape(50, 1, 4, 4) % 251
    np.savez(tmp_path / "set.npz", x=x, y=np.arange(50) % 5)
    one, two = (ImageSet(tmp_path / "set.npz", sample=7, **QUIET).dataset(1, 4) for _ in range(2))
    np.testing.assert_array_equal(one.x_test, two.x_test)
    keep = sample_indices(50, 7)
    assert len(one.x_test) == 7 and keep.tolist() != list(range(7))
    np.testing.assert_array_equal(one.x_test, x[keep])
    np.testing.assert_array_equal(one.y_test, (np.arange(50) % 5)[keep])
    folder = tmp_path / "folder"
    for k in range(12):
        (folder / f"c{k % 2}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((6, 6), 20 * k, np.uint8)).save(folder / f"c{k % 2}" / f"{k:02d}.png")
    shown = [ImageSet(folder, sample=5, **QUIET).dataset(1, 6) for _ in range(2)]
    np.testing.assert_array_equal(shown[0].x_test, shown[1].x_test)
    assert len(shown[0].x_test) == 5 and "5 images from" in ImageSet(folder, sample=5, **QUIET).note(1, 6)
    own = Explorer([root], sample=30, **QUIET).store.data(NAME)  # a checkpoint's own test split
    full = Explorer([root], **QUIET).store.data(NAME)
    np.testing.assert_array_equal(own.x_test, full.x_test[sample_indices(len(full.x_test), 30)])
