"""--images PATH: the four forms (an image folder with classes, an .npz with and without labels, an IDX folder, a
data set name), each converted to a 1x28x28 and a 3x16x16 model with a note; unreadable files skipped and counted;
PATHs of no form refused (by app.py too: exit code 2); the Explorer's map, codes and neighbours over them."""
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from explorer.errors import ImageSetError, UserError
from explorer.service.image_sets import ImageSet, image_form
from tests.vae_core.test_data import write_idx

ROOT = Path(__file__).resolve().parents[3]
QUIET = {"log": lambda *a: None}
MODELS = [(1, 28), (3, 16)]  # (channels, image size) of the two models each form is converted for


def png_folder(root: Path) -> Path:
    """cat/ (3 RGB 20x12 PNGs and a truncated one) and dog/ (2 RGB PNGs and a text file named .png)."""
    rng = np.random.default_rng(0)
    for cls, n in (("cat", 3), ("dog", 2)):
        (root / cls).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 256, (12, 20, 3), dtype=np.uint8)).save(root / cls / f"{i}.png")
    full = (root / "cat" / "0.png").read_bytes()
    (root / "cat" / "truncated.png").write_bytes(full[:len(full) // 2])
    (root / "dog" / "notes.png").write_text("not an image")
    return root


@pytest.fixture
def forms(tmp_path) -> dict:
    """Each form's PATH, with the number of images and labels it holds (None: unlabelled)."""
    rng = np.random.default_rng(1)
    out = {"folder": (png_folder(tmp_path / "pets"), 5, [0, 0, 0, 1, 1])}
    y = np.array([0, 1, 2, 1, 0, 2, 1])
    np.savez(tmp_path / "labelled.npz", x=rng.integers(0, 256, (7, 32, 32, 3), dtype=np.uint8), y=y)
    out["npz"] = (tmp_path / "labelled.npz", 7, y.tolist())
    np.savez(tmp_path / "plain.npz", x=rng.random((6, 28, 28)))  # floats in [0, 1], grey, no labels
    out["npz-unlabelled"] = (tmp_path / "plain.npz", 6, None)
    (tmp_path / "idx").mkdir()
    write_idx(tmp_path / "idx" / "t10k-images-idx3-ubyte", rng.integers(0, 256, (4, 10, 10), dtype=np.uint8))
    write_idx(tmp_path / "idx" / "t10k-labels-idx1-ubyte", np.array([3, 1, 4, 1], dtype=np.uint8))
    out["idx"] = (tmp_path / "idx", 4, [3, 1, 4, 1])
    return out


@pytest.mark.parametrize("form", ["folder", "npz", "npz-unlabelled", "idx"])
@pytest.mark.parametrize("channels, size", MODELS)
def test_each_path_form_is_converted_to_the_models_input(forms, form, channels, size):
    path, n, labels = forms[form]
    images = ImageSet(path, **QUIET)
    assert images.form == form.split("-")[0]
    ds = images.dataset(channels, size)
    assert ds.x_test.shape == (n, channels, size, size) and ds.x_test.dtype == np.uint8
    assert ds.x_test.std() > 0  # the pictures came through, not blanks
    if labels is None:
        assert ds.y_test.tolist() == [-1] * n and ds.label_names == []
    else:
        assert ds.y_test.tolist() == labels and len(ds.label_names) > max(labels)
    assert images.note(channels, size).startswith(f"{n} images from {path}, ")
    assert images.dataset(channels, size) is ds  # converted once per (channels, size)


def test_a_data_set_name_gives_its_test_split(digits):
    images = ImageSet("digits", **QUIET)
    ds = images.dataset(3, 16)
    assert images.form == "name" and ds.x_test.shape == (len(digits.x_test), 3, 16, 16)
    assert np.array_equal(ds.y_test, digits.y_test) and ds.label_names == [str(i) for i in range(10)]
    assert np.array_equal(ds.x_test[:, 0], ds.x_test[:, 1])  # grey made RGB: three equal channels
    assert images.note(3, 16) == f"{len(digits.x_test)} images from digits, resized from 8x8 grey to 16x16 RGB"


def test_class_folders_are_labels_and_unreadable_files_are_skipped_and_counted(forms):
    path = forms["folder"][0]
    images = ImageSet(path, **QUIET)
    ds = images.dataset(1, 28)
    assert ds.label_names == ["cat", "dog"] and len(ds.x_test) == 5
    assert images.note(1, 28) == (f"5 images from {path}, resized from 20x12 RGB to 28x28 grey; "
                                  "2 unreadable files skipped")


def test_the_note_says_when_nothing_was_changed(tmp_path):
    np.savez(tmp_path / "same.npz", x=np.full((3, 1, 28, 28), 7, np.uint8))
    images = ImageSet(tmp_path / "same.npz", **QUIET)
    assert images.note(1, 28) == f"3 images from {tmp_path / 'same.npz'}, 28x28 grey as the model takes them, unchanged"
    assert np.array_equal(images.dataset(1, 28).x_test, np.full((3, 1, 28, 28), 7, np.uint8))
    assert images.note(3, 28).endswith("converted from 28x28 grey to 28x28 RGB")


def test_rgb_to_grey_weighs_the_channels(tmp_path):
    red = np.zeros((2, 8, 8, 3), np.uint8)
    red[..., 0] = 255
    np.savez(tmp_path / "red.npz", x=red)
    assert set(ImageSet(tmp_path / "red.npz", **QUIET).dataset(1, 8).x_test.ravel().tolist()) == {76}  # 0.299 * 255


def test_an_idx_folder_without_split_names_is_read(tmp_path):
    write_idx(tmp_path / "my-images-idx3-ubyte", np.arange(2 * 9 * 9, dtype=np.int64).astype(np.uint8)
              .reshape(2, 9, 9))
    images = ImageSet(tmp_path, **QUIET)
    assert images.form == "idx" and images.dataset(1, 8).x_test.shape == (2, 1, 8, 8)
    assert images.dataset(1, 8).y_test.tolist() == [-1, -1]


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "missing", "not found"),
    (lambda d: (d / "notes.txt").write_text("x") and d / "notes.txt", "neither a folder nor an .npz"),
    (lambda d: (d / "empty").mkdir() or d / "empty", "neither images"),
    (lambda d: "no-such-data-set", "not found"),
])
def test_a_path_of_no_form_is_refused_naming_the_four_forms(tmp_path, make, message):
    with pytest.raises(ImageSetError, match=message) as e:
        image_form(make(tmp_path))
    assert "a folder of images" in str(e.value) and "a folder of IDX files" in str(e.value)
    assert isinstance(e.value, UserError)


def test_images_that_cannot_be_used_are_a_user_error_not_a_crash(tmp_path):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "a.png").write_text("text")
    images = ImageSet(tmp_path / "broken", **QUIET)  # the form is right: the images turn out unreadable on use
    with pytest.raises(ImageSetError, match=r"no images to show \(1 unreadable files skipped\)"):
        images.dataset(1, 28)
    np.savez(tmp_path / "mismatch.npz", x=np.zeros((3, 8, 8), np.uint8), y=np.zeros(2))
    with pytest.raises(ImageSetError, match="2 labels for 3 images"):
        ImageSet(tmp_path / "mismatch.npz", **QUIET).dataset(1, 8)
    np.savez(tmp_path / "noimages.npz", images=np.zeros((3, 8, 8), np.uint8))
    with pytest.raises(ImageSetError, match="needs an array 'x'"):
        ImageSet(tmp_path / "noimages.npz", **QUIET).dataset(1, 8)


# --- the Explorer over --images ---------------------------------------------------------------------------------
@pytest.fixture
def ckpts(teach_ckpts, tmp_path) -> Path:
    """A copy of the tiny teaching checkpoints (1x8x8 digits), so the projections of other images land there."""
    return Path(shutil.copytree(teach_ckpts, tmp_path / "ckpts"))


def test_the_explorer_maps_codes_and_searches_the_given_images(ckpts, forms):
    from explorer.service.explorer import Explorer

    path, n, labels = forms["folder"]
    ex = Explorer([ckpts], images=path, **QUIET)
    view = ex.store.latent_view("vae2")  # a 2-D latent: the map is the latent itself (no UMAP)
    assert view.data.x_test.shape == (n, 1, 8, 8) and len(view.proj.coords) == n
    assert view.proj.labels.tolist() == labels and view.data.label_names == ["cat", "dog"]
    assert ex.store.codebook_view("vq").grids.shape == (n, 2, 2)
    near = ex.map.neighbours("vae2", view.proj.latents[3].tolist(), k=3)
    assert near.indices[0] == 3 and (near.indices < n).all()
    assert ex.store.data_note("vae2") == (f"5 images from {path}, resized from 20x12 RGB to 8x8 grey; "
                                    "2 unreadable files skipped")
    own = Explorer([ckpts], **QUIET)  # without --images: the checkpoint's own test split, its own projection
    assert own.store.data_note("vae2") == ""
    assert len(own.store.latent_view("vae2").proj.coords) == len(own.store.data("vae2").x_test) > n
    assert len(list((ckpts / "vae2" / "projections").glob("latent-*.npz"))) == 2


@pytest.mark.slow
def test_app_refuses_a_path_of_no_form_with_exit_code_2(tmp_path, ckpts):
    r = subprocess.run([sys.executable, "app.py", "--checkpoints", str(ckpts), "--images", str(tmp_path / "nope")],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "--images takes a folder of images" in r.stderr and "nope: not found" in r.stderr
