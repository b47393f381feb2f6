"""A model's map as Parquet (parquet_map.py) and a Parquet as --images (parquet_images.py): the written file opens in
pandas with the columns Embedding Atlas needs; written then read gives the same positions, labels, latents and images;
a Parquet with latents opens its model's map without encoding; files that do not fit get a message saying what to
give."""
import io
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from explorer.errors import ImageSetError
from explorer.precompute import main as precompute
from explorer.service import projection
from explorer.service.explorer import Explorer
from explorer.service.parquet_map import write_map
from tests.explorer.service.test_image_sets import png_folder

QUIET = {"log": lambda *a: None}
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def ckpts(teach_ckpts, tmp_path) -> Path:
    """A copy of the tiny teaching checkpoints (vae4, vae2, vq on 1x8x8 digits), their own maps cached."""
    return Path(shutil.copytree(teach_ckpts, tmp_path / "ckpts"))


@pytest.fixture
def no_umap(monkeypatch):
    monkeypatch.setattr(projection, "umap_2d", lambda points, progress=None: projection.pca_2d(points))


def encoder_refuses(ex: Explorer, *names):
    """Make the models' encoders raise: what opens after this was not encoded."""
    def refuse(*a, **k):
        raise AssertionError("encoded despite the latents given")

    for name in names:
        model = ex.store.model(name)
        for method in ("posterior", "encode", "encode_indices"):
            if hasattr(model, method):
                setattr(model, method, refuse)


def png_bytes(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()


def test_a_written_map_opens_in_pandas_with_the_columns_embedding_atlas_needs(ckpts, tmp_path):
    ex = Explorer([ckpts], **QUIET)
    path = write_map(ex.store, "vae4", tmp_path / "vae4.parquet")
    df = pd.read_parquet(path)
    view = ex.store.latent_view("vae4")
    n = len(view.data.x_test)
    assert list(df.columns) == ["index", "x", "y", "label", "label_id", "latent", "log_sigma", "image"]
    assert len(df) == n and df["x"].dtype == np.float32 and df["index"].tolist() == list(range(n))
    assert all(isinstance(b, bytes) and b.startswith(PNG) for b in df["image"])  # Atlas shows PNG bytes as images
    assert df["latent"].map(len).eq(4).all() and df["label"].notna().all()
    assert df["label"].tolist() == [view.data.label_names[i] for i in view.proj.labels]


def test_a_map_written_then_read_is_the_same_map_and_nothing_is_encoded(ckpts, tmp_path):
    ex = Explorer([ckpts], **QUIET)
    vae, vq = write_map(ex.store, "vae4", tmp_path / "vae4.parquet"), write_map(ex.store, "vq", tmp_path / "vq.parquet")
    before, codes = ex.store.latent_view("vae4"), ex.store.codebook_view("vq")

    again = Explorer([ckpts], images=vae, **QUIET)
    encoder_refuses(again, "vae4")
    view = again.store.latent_view("vae4")
    assert view.proj.method == "given"
    np.testing.assert_array_equal(view.proj.coords, before.proj.coords)
    np.testing.assert_array_equal(view.proj.latents, before.proj.latents)
    np.testing.assert_array_equal(view.proj.labels, before.proj.labels)
    np.testing.assert_array_equal(view.data.x_test, before.data.x_test)  # the PNGs are the images, lossless
    assert view.data.label_names == before.data.label_names
    np.testing.assert_allclose(again.store.kl_per_dim("vae4"), ex.store.kl_per_dim("vae4"), rtol=1e-4, atol=1e-6)
    near = again.map.neighbours("vae4", view.proj.latents[5].tolist(), k=3)  # the posteriors, from the file too
    assert near.indices[0] == 5

    grids = Explorer([ckpts], images=vq, **QUIET)
    encoder_refuses(grids, "vq")
    cb = grids.store.codebook_view("vq")
    np.testing.assert_array_equal(cb.grids, codes.grids)
    np.testing.assert_array_equal(cb.counts, codes.counts)
    np.testing.assert_allclose(cb.coords, codes.coords, atol=1e-5)


def test_a_file_written_for_one_model_leaves_the_others_to_encode(ckpts, tmp_path):
    path = write_map(Explorer([ckpts], **QUIET).store, "vae4", tmp_path / "vae4.parquet")
    ex = Explorer([ckpts], images=path, **QUIET)
    view = ex.store.latent_view("vae2")  # a 2-D VAE: the file's latents are not its own
    assert view.proj.method == "identity" and len(view.proj.coords) == len(view.data.x_test)


def test_latents_from_elsewhere_without_a_map_are_mapped_without_encoding(ckpts, tmp_path, no_umap):
    """A Parquet written by another job (pandas here): image bytes, text labels, latents that fit vae4 only."""
    rng = np.random.default_rng(0)
    n = 30
    labels = [["cat", "dog", None][i] for i in rng.integers(0, 3, n)]
    df = pd.DataFrame({"image": [png_bytes(rng.integers(0, 256, (8, 8), dtype=np.uint8)) for _ in range(n)],
                       "label": labels,
                       "latent": list(rng.normal(size=(n, 4)).astype(np.float32)),
                       "log_sigma": list(np.full((n, 4), -1.0, np.float32))})
    df.to_parquet(tmp_path / "mine.parquet")
    ex = Explorer([ckpts], images=tmp_path / "mine.parquet", **QUIET)
    encoder_refuses(ex, "vae4")
    view = ex.store.latent_view("vae4")
    assert view.proj.method == "umap" and view.proj.coords.shape == (n, 2)
    np.testing.assert_allclose(view.proj.latents, np.stack(df["latent"]))
    assert view.data.label_names == ["cat", "dog"]
    assert [view.data.label_names[i] if i >= 0 else None for i in view.proj.labels] == labels
    assert ex.store.latent_view("vae2").proj.method == "identity"  # 2 numbers: vae2 does not take them


def test_given_latents_without_a_map_show_a_linear_map_at_once_then_umap_cached(ckpts, tmp_path):
    """As the app opens them (background=True): the PCA of the latents at once, UMAP's map from the background job,
    and after a restart the cached UMAP map at once."""
    rng = np.random.default_rng(1)
    n = 24
    latents = rng.normal(size=(n, 4)).astype(np.float32)
    pd.DataFrame({"image": [png_bytes(rng.integers(0, 256, (8, 8), dtype=np.uint8)) for _ in range(n)],
                  "latent": list(latents)}).to_parquet(tmp_path / "mine.parquet")
    calls = []

    def umap(points, progress=None):
        calls.append(len(points))
        return projection.pca_2d(points) * 2 + 5
    ex = Explorer([ckpts], images=tmp_path / "mine.parquet", background=True, umap=umap, **QUIET)
    encoder_refuses(ex, "vae4")
    first = ex.store.latent_view("vae4")
    assert first.proj.method == "pca"
    np.testing.assert_allclose(first.proj.coords, projection.pca_2d(latents), atol=1e-5)
    assert ex.store.jobs.wait("vae4", 30)
    now = ex.store.latent_view("vae4")
    assert now.proj.method == "umap" and calls == [n]
    np.testing.assert_allclose(now.proj.coords, first.proj.coords * 2 + 5, rtol=1e-4, atol=1e-4)
    again = Explorer([ckpts], images=tmp_path / "mine.parquet", background=True, umap=umap, **QUIET)
    assert again.store.latent_view("vae4").proj.method == "umap" and calls == [n]


def test_a_path_column_is_read_from_the_files_and_written_back(ckpts, tmp_path):
    folder = png_folder(tmp_path / "pets")
    ex = Explorer([ckpts], images=folder, **QUIET)
    written = pd.read_parquet(write_map(ex.store, "vae2", tmp_path / "pets.parquet"))
    assert [Path(p).relative_to(folder).as_posix() for p in written["path"]] == \
        ["cat/0.png", "cat/1.png", "cat/2.png", "dog/0.png", "dog/1.png"]  # the unreadable two left out
    pd.DataFrame({"path": ["pets/cat/1.png", "pets/dog/0.png", "pets/dog/notes.png"], "label_id": [1, 0, 0],
                  "label": ["kitten", "puppy", "puppy"]}).to_parquet(tmp_path / "paths.parquet")
    images = Explorer([ckpts], images=tmp_path / "paths.parquet", **QUIET).store  # paths from the file's folder
    ds = images.data("vae2")
    assert len(ds.x_test) == 2 and ds.y_test.tolist() == [1, 0] and ds.label_names == ["puppy", "kitten"]
    assert "1 unreadable file skipped" in images.data_note("vae2")


def test_precompute_writes_each_models_map_beside_caching(ckpts, tmp_path, capsys):
    precompute([str(ckpts), "--parquet", str(tmp_path / "out")])
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["vae2.parquet", "vae4.parquet", "vq.parquet"]
    vq = pd.read_parquet(tmp_path / "out" / "vq.parquet")
    assert vq["latent"].map(len).eq(4).all() and vq["x"].notna().all()  # a 2 x 2 code grid per image
    assert capsys.readouterr().out.count("map written to") == 3


def table(tmp_path, **columns) -> Path:
    path = tmp_path / "bad.parquet"
    pd.DataFrame(columns).to_parquet(path)
    return path


@pytest.mark.parametrize("make, message", [
    (lambda p: (p / "bad.parquet").write_bytes(b"PAR1 not really"), "not a readable Parquet file"),
    (lambda p: table(p, pixels=[b"x"]), "no 'image' or 'path' column .*its columns: pixels"),
    (lambda p: table(p, image=[1, 2]), "'image' column holds int64, not image bytes"),
    (lambda p: table(p, image=[png_bytes(np.zeros((4, 4), np.uint8))] * 2, latent=[[0.1, 0.2], [0.3]]),
     "give the same number"),
    (lambda p: table(p, image=[png_bytes(np.zeros((4, 4), np.uint8))] * 2, latent=["a", "b"]),
     "give one list of numbers per row"),
    (lambda p: table(p, image=[png_bytes(np.zeros((4, 4), np.uint8))] * 2, x=[0.0, 1.0]), "give both"),
    (lambda p: table(p, image=[b"not a png", b"nor this"]), "none of its 2 images is readable"),
])
def test_a_parquet_that_does_not_fit_says_what_it_needs(tmp_path, make, message):
    make(tmp_path)
    with pytest.raises(ImageSetError, match=message) as e:
        Explorer([], images=tmp_path / "bad.parquet", **QUIET).store.images.dataset(1, 8)
    assert "needs an 'image' column (PNG or JPEG bytes) or a 'path' column" in str(e.value)


def test_latents_of_the_wrong_size_for_the_model_named_are_refused(ckpts, tmp_path):
    path = write_map(Explorer([ckpts], **QUIET).store, "vae4", tmp_path / "vae4.parquet")
    df = pd.read_parquet(path)
    df["latent"] = [v[:3] for v in df["latent"]]
    df["log_sigma"] = [v[:3] for v in df["log_sigma"]]
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pandas(df).replace_schema_metadata(pq.read_schema(path).metadata), path)
    ex = Explorer([ckpts], images=path, **QUIET)
    with pytest.raises(ImageSetError, match="hold 3 numbers, but vae4 .* takes 4 numbers; write the file again"):
        ex.store.latent_view("vae4")
