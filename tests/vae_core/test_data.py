"""Data loaders: IDX folders (gzipped and raw), image folders, .npz files, digits, fashion-mnist and bad inputs."""
import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vae_core.data import (
    SYSTEM_DIR,
    DataError,
    conform,
    load_dataset,
    read_idx,
    to_float,
)

QUIET = {"log": lambda *a: None}


def write_idx(path: Path, a: np.ndarray) -> Path:
    """IDX: bytes 0, 0, 8 (uint8), ndim, then each size as a big-endian int32, then the data."""
    a = np.ascontiguousarray(a, dtype=np.uint8)
    raw = bytes([0, 0, 8, a.ndim]) + struct.pack(f">{a.ndim}i", *a.shape) + a.tobytes()
    path.write_bytes(gzip.compress(raw) if path.suffix == ".gz" else raw)
    return path


def make_idx_folder(folder: Path, gz: bool, n_train=12, n_test=5, size=8, test_prefix="t10k"):
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    ext = ".gz" if gz else ""
    arrays = {}
    for split, n in (("train", n_train), (test_prefix, n_test)):
        x = rng.integers(0, 256, (n, size, size), dtype=np.uint8)
        y = (np.arange(n) % 3).astype(np.uint8)
        write_idx(folder / f"{split}-images-idx3-ubyte{ext}", x)
        write_idx(folder / f"{split}-labels-idx1-ubyte{ext}", y)
        arrays[split] = (x, y)
    return arrays


# --- IDX -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("gz", [True, False])
def test_idx_folder_loads(tmp_path, gz):
    arrays = make_idx_folder(tmp_path / "set", gz, test_prefix="t10k" if gz else "test")
    ds = load_dataset(str(tmp_path / "set"), **QUIET)
    x_tr, y_tr = arrays["train"]
    x_te, y_te = arrays["t10k" if gz else "test"]
    assert ds.x_train.shape == (12, 1, 8, 8) and ds.x_train.dtype == np.uint8
    assert np.array_equal(ds.x_train[:, 0], x_tr) and np.array_equal(ds.x_test[:, 0], x_te)
    assert np.array_equal(ds.y_train, y_tr) and np.array_equal(ds.y_test, y_te)
    assert ds.y_train.dtype == np.int64
    assert ds.label_names == ["0", "1", "2"]
    assert ds.name == "set" and "IDX" in ds.source


def test_idx_folder_resized_to_a_multiple_of_4(tmp_path):
    make_idx_folder(tmp_path / "set", gz=True, size=10)
    ds = load_dataset(str(tmp_path / "set"), **QUIET)
    assert ds.image_shape == (1, 8, 8) and "converted to 1x8x8" in ds.source
    ds = load_dataset(str(tmp_path / "set"), channels=3, image_size=12, **QUIET)
    assert ds.x_train.shape == (12, 3, 12, 12) and ds.x_test.shape == (5, 3, 12, 12)


@pytest.mark.parametrize("shape", [(7,), (3, 4, 5), (2, 3, 4, 5)])
def test_read_idx_round_trip(tmp_path, shape):
    a = np.arange(int(np.prod(shape)), dtype=np.uint8).reshape(shape)
    for name in ("a-idx", "a-idx.gz"):
        assert np.array_equal(read_idx(write_idx(tmp_path / name, a)), a)


@pytest.mark.parametrize("header", [b"\x08\x00\x08\x03", b"\x00\x00\x0d\x03", b"PK\x03\x04", b"\x00\x00"])
def test_corrupt_idx_header(tmp_path, header):
    p = tmp_path / "train-images-idx3-ubyte"
    p.write_bytes(header + struct.pack(">3i", 1, 2, 2) + bytes(4))
    with pytest.raises(DataError, match="not an IDX file|truncated"):
        read_idx(p)


def test_truncated_idx(tmp_path):
    a = np.zeros((5, 8, 8), dtype=np.uint8)
    p = write_idx(tmp_path / "x-idx", a)
    p.write_bytes(p.read_bytes()[:-10])
    with pytest.raises(DataError, match="truncated") as e:
        read_idx(p)
    assert "(5, 8, 8)" in str(e.value) and "fetch it again" in str(e.value)
    p.write_bytes(bytes([0, 0, 8, 3, 0, 0]))  # header cut inside the sizes
    with pytest.raises(DataError, match="truncated"):
        read_idx(p)


def test_truncated_gzipped_idx(tmp_path):
    p = write_idx(tmp_path / "x-idx.gz", np.arange(4000, dtype=np.int64).astype(np.uint8).reshape(10, 20, 20))
    p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2])
    with pytest.raises(DataError, match="cannot read|truncated"):
        read_idx(p)


def test_idx_folder_with_truncated_file(tmp_path):
    make_idx_folder(tmp_path / "set", gz=False)
    p = tmp_path / "set" / "t10k-images-idx3-ubyte"
    p.write_bytes(p.read_bytes()[:-1])
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte"):
        load_dataset(str(tmp_path / "set"), **QUIET)


def test_idx_label_count_mismatch(tmp_path):
    make_idx_folder(tmp_path / "set", gz=False)
    write_idx(tmp_path / "set" / "train-labels-idx1-ubyte", np.zeros(11, np.uint8))
    with pytest.raises(DataError, match="11 labels for 12 images"):
        load_dataset(str(tmp_path / "set"), **QUIET)


# --- image folders ---------------------------------------------------------------------------------
def save_png(path: Path, a: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(a).save(path)


def test_image_folder_with_class_subfolders(tmp_path):
    for i in range(10):
        save_png(tmp_path / "pets" / "cat" / f"{i}.png", np.full((8, 8), 0, np.uint8))
        save_png(tmp_path / "pets" / "dog" / f"{i}.png", np.full((8, 8), 255, np.uint8))
    ds = load_dataset(str(tmp_path / "pets"), **QUIET)
    assert ds.label_names == ["cat", "dog"]
    assert ds.image_shape == (1, 8, 8)
    assert len(ds.x_train) == 18 and len(ds.x_test) == 2
    y = np.concatenate([ds.y_train, ds.y_test])
    x = np.concatenate([ds.x_train, ds.x_test])
    assert sorted(y.tolist()) == [0] * 10 + [1] * 10
    assert (x[y == 0] == 0).all() and (x[y == 1] == 255).all()  # each image keeps its own label


def test_image_folder_without_classes(tmp_path):
    for i in range(5):
        save_png(tmp_path / "flat" / f"{i}.png", np.full((8, 8), 10 * i, np.uint8))
    ds = load_dataset(str(tmp_path / "flat"), **QUIET)
    assert ds.y_train is None and ds.y_test is None and ds.label_names == []
    assert sorted(np.concatenate([ds.x_train, ds.x_test])[:, 0, 0, 0].tolist()) == [0, 10, 20, 30, 40]


def test_image_folder_with_mixed_sizes_is_resized(tmp_path):
    for i in range(8):
        save_png(tmp_path / "mix" / f"a{i}.png", np.full((12, 12), 100, np.uint8))
    save_png(tmp_path / "mix" / "big.png", np.full((20, 16), 100, np.uint8))
    save_png(tmp_path / "mix" / "small.png", np.full((6, 9), 100, np.uint8))
    ds = load_dataset(str(tmp_path / "mix"), **QUIET)
    assert ds.image_shape == (1, 12, 12)  # the most common size wins
    assert len(ds.x_train) + len(ds.x_test) == 10
    assert "resized 2 of 10" in ds.source
    assert (np.concatenate([ds.x_train, ds.x_test]) == 100).all()


def test_image_folder_rgb_to_grey(tmp_path):
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 200, 100, 50
    for i in range(4):
        save_png(tmp_path / "col" / f"{i}.png", rgb)
    ds = load_dataset(str(tmp_path / "col"), **QUIET)
    assert ds.image_shape == (3, 8, 8)  # RGB stays RGB by default
    assert (ds.x_train[:, 0] == 200).all() and (ds.x_train[:, 2] == 50).all()
    ds = load_dataset(str(tmp_path / "col"), channels=1, **QUIET)
    assert ds.image_shape == (1, 8, 8)
    grey = 0.299 * 200 + 0.587 * 100 + 0.114 * 50  # ITU-R 601 luma
    assert np.abs(ds.x_train.astype(float) - grey).max() <= 1


def test_image_folder_rgba_and_palette_images(tmp_path):
    save_png(tmp_path / "odd" / "rgba.png", np.full((8, 8, 4), 255, np.uint8))
    Image.fromarray(np.full((8, 8, 3), 255, np.uint8)).convert("P").save(tmp_path / "odd" / "p.png")
    ds = load_dataset(str(tmp_path / "odd"), channels=1, **QUIET)
    assert (np.concatenate([ds.x_train, ds.x_test]) == 255).all()


def test_empty_image_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    with pytest.raises(DataError, match="no images found"):
        load_dataset(str(tmp_path / "empty"), **QUIET)


def test_non_image_file_in_image_folder(tmp_path):
    for i in range(3):
        save_png(tmp_path / "bad" / f"{i}.png", np.zeros((8, 8), np.uint8))
    (tmp_path / "bad" / "fake.png").write_text("this is not a png")
    with pytest.raises(DataError, match="fake.png: not a readable image"):
        load_dataset(str(tmp_path / "bad"), **QUIET)


def test_images_beside_class_folders(tmp_path):
    save_png(tmp_path / "m" / "cat" / "0.png", np.zeros((8, 8), np.uint8))
    save_png(tmp_path / "m" / "stray.png", np.zeros((8, 8), np.uint8))
    with pytest.raises(DataError, match="beside the class folders"):
        load_dataset(str(tmp_path / "m"), **QUIET)


# --- .npz ------------------------------------------------------------------------------------------
def test_npz_with_x_and_y(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (20, 8, 8), dtype=np.uint8)
    y = np.arange(20) % 4
    np.savez(tmp_path / "d.npz", x=x, y=y)
    ds = load_dataset(str(tmp_path / "d.npz"), **QUIET)
    assert ds.name == "d" and ds.image_shape == (1, 8, 8)
    assert len(ds.x_train) == 18 and len(ds.x_test) == 2
    assert ds.label_names == ["0", "1", "2", "3"]
    # every (image, label) pair survives the split
    pairs = {(xi[0].tobytes(), int(yi)) for xi, yi in zip(np.concatenate([ds.x_train, ds.x_test]),
                                                          np.concatenate([ds.y_train, ds.y_test]))}
    assert pairs == {(xi.tobytes(), int(yi)) for xi, yi in zip(x, y)}
    # the split is seeded: the same seed gives the same split, another seed another
    again = load_dataset(str(tmp_path / "d.npz"), **QUIET)
    assert np.array_equal(again.x_test, ds.x_test)
    other = load_dataset(str(tmp_path / "d.npz"), seed=1, **QUIET)
    assert not np.array_equal(other.x_test, ds.x_test)


def test_npz_with_x_only_and_own_test_split(tmp_path):
    np.savez(tmp_path / "x.npz", x=np.zeros((10, 8, 8, 3), np.uint8))  # NHWC
    ds = load_dataset(str(tmp_path / "x.npz"), **QUIET)
    assert ds.y_train is None and ds.label_names == [] and ds.image_shape == (3, 8, 8)
    np.savez(tmp_path / "t.npz", x=np.zeros((6, 8, 8), np.uint8), y=np.zeros(6), x_test=np.ones((3, 8, 8), np.uint8),
             y_test=np.ones(3))
    ds = load_dataset(str(tmp_path / "t.npz"), **QUIET)
    assert len(ds.x_train) == 6 and len(ds.x_test) == 3 and (ds.x_test == 1).all()
    assert ds.y_test.tolist() == [1, 1, 1]


def test_npz_with_float_images(tmp_path):
    x = np.linspace(0, 1, 10 * 64, dtype=np.float32).reshape(10, 1, 8, 8)  # NCHW floats in [0, 1]
    np.savez(tmp_path / "f.npz", x=x)
    ds = load_dataset(str(tmp_path / "f.npz"), **QUIET)
    got = np.sort(np.concatenate([ds.x_train, ds.x_test]).ravel())
    assert got.dtype == np.uint8 and got[0] == 0 and got[-1] == 255
    assert np.array_equal(got, np.sort(np.round(x.ravel() * 255).astype(np.uint8)))
    np.savez(tmp_path / "f255.npz", x=np.full((4, 8, 8), 200.0))  # floats already in 0..255
    assert (load_dataset(str(tmp_path / "f255.npz"), **QUIET).x_train == 200).all()


@pytest.mark.parametrize("arrays,words", [
    ({"x": np.zeros((4, 5, 8, 8), np.uint8)}, "must be shaped"),
    ({"x": np.zeros((4, 64), np.uint8)}, "must be shaped"),
    ({"x": np.zeros((4, 8, 8), np.uint8), "y": np.zeros(3)}, "3 labels in 'y' for 4 images"),
    ({"images": np.zeros((4, 8, 8), np.uint8)}, "needs an array 'x'"),
    ({"x": np.full((4, 8, 8), np.nan)}, "NaN or inf"),
    ({"x": np.array([{"a": 1}] * 4, dtype=object)}, "without pickles"),
])
def test_npz_bad_contents(tmp_path, arrays, words):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataError, match=words):
        load_dataset(str(tmp_path / "bad.npz"), **QUIET)


def test_npz_that_is_not_an_npz(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"not a zip file at all")
    with pytest.raises(DataError, match="not a readable .npz"):
        load_dataset(str(tmp_path / "junk.npz"), **QUIET)


# --- named sets, missing paths, helpers ------------------------------------------------------------
def test_digits(digits):
    assert digits.name == "digits" and digits.image_shape == (1, 8, 8)
    assert len(digits.x_train) == 1438 and len(digits.x_test) == 359  # 1797 images, round(0.2 * 1797) for test
    assert digits.x_train.dtype == np.uint8 and digits.x_train.max() == 255
    assert digits.label_names == [str(i) for i in range(10)]
    assert set(digits.y_train.tolist()) == set(range(10))
    assert "1438 train / 359 test" in digits.describe()


def test_digits_resized_and_rgb():
    ds = load_dataset("digits", channels=3, image_size=16, **QUIET)
    assert ds.x_train.shape == (1438, 3, 16, 16)
    assert (ds.x_train[:, 0] == ds.x_train[:, 2]).all()


def test_missing_path_is_a_helpful_error(tmp_path):
    with pytest.raises(DataError, match="not found") as e:
        load_dataset(str(tmp_path / "nowhere"), **QUIET)
    for hint in ("fashion-mnist", "digits", "IDX", "images", ".npz"):
        assert hint in str(e.value)
    with pytest.raises(DataError, match="nowhere.npz: not found"):
        load_dataset(str(tmp_path / "nowhere.npz"), **QUIET)
    with pytest.raises(DataError, match="fashion_mnist: not found.*fashion-mnist"):
        load_dataset("fashion_mnist", **QUIET)
    (tmp_path / "one.png").write_bytes(b"")
    with pytest.raises(DataError, match="neither a folder nor an .npz"):
        load_dataset(str(tmp_path / "one.png"), **QUIET)


def test_conform_and_to_float():
    x = np.zeros((2, 3, 8, 8), np.uint8)
    x[:, 1] = 255  # pure green
    g = conform(x, 1, 8)
    assert g.shape == (2, 1, 8, 8) and np.all(np.abs(g.astype(int) - round(0.587 * 255)) <= 1)
    big = conform(np.full((1, 1, 8, 8), 77, np.uint8), 1, 16)
    assert big.shape == (1, 1, 16, 16) and (big == 77).all()
    t = to_float(np.array([[[[0, 255]]]], np.uint8))
    assert t.dtype.is_floating_point and t.flatten().tolist() == [0.0, 1.0]


@pytest.mark.skipif(not (SYSTEM_DIR / "fashion-mnist").is_dir(), reason="no /usr/share/datasets/fashion-mnist")
def test_fashion_mnist_from_the_system_folder():
    ds = load_dataset("fashion-mnist", **QUIET)
    assert len(ds.x_train) == 60000 and len(ds.x_test) == 10000
    assert ds.image_shape == (1, 28, 28)
    assert len(ds.label_names) == 10 and ds.label_names[0] == "T-shirt/top" and ds.label_names[9] == "Ankle boot"
    assert ds.y_train.min() == 0 and ds.y_train.max() == 9
