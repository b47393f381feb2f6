"""The downloader against a local HTTP server: files land and load, checksum mismatches are deleted."""
import functools
import gzip
import hashlib
import http.server
import importlib
import struct
import threading

import numpy as np
import pytest

import vae_core.data
from vae_core.data import DataError, load_dataset

# the module, not the function `vae_core.data.download` that the package re-exports under the same name
dl = importlib.import_module("vae_core.data.download")


def idx_gz(a: np.ndarray) -> bytes:
    a = np.ascontiguousarray(a, dtype=np.uint8)
    return gzip.compress(bytes([0, 0, 8, a.ndim]) + struct.pack(f">{a.ndim}i", *a.shape) + a.tobytes())


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def served(tmp_path, monkeypatch):
    """A local HTTP server over tmp_path/www with a good and a bad mirror of a tiny MNIST-format set."""
    www = tmp_path / "www"
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (12, 8, 8)),
        "train-labels-idx1-ubyte.gz": np.arange(12) % 10,
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (4, 8, 8)),
        "t10k-labels-idx1-ubyte.gz": np.arange(4),
    }
    checksums = {}
    for name, a in arrays.items():
        data = idx_gz(a)
        (www / "good").mkdir(parents=True, exist_ok=True)
        (www / "bad").mkdir(parents=True, exist_ok=True)
        (www / "good" / name).write_bytes(data)
        (www / "bad" / name).write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # one bit flipped
        checksums[name] = hashlib.md5(data).hexdigest()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(www)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setitem(dl.SOURCES, "mnist", ([base + "/good/"], checksums))
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(vae_core.data, "SYSTEM_DIR", tmp_path / "no-system-datasets")
    yield {"base": base, "arrays": arrays, "checksums": checksums}
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_download_lands_verified_files_that_load(served, tmp_path):
    logs = []
    dest = dl.download("mnist", tmp_path / "dest", log=logs.append)
    assert dest == tmp_path / "dest"
    for name, expected in served["checksums"].items():
        assert dl.md5(dest / name) == expected
    assert sorted(p.name for p in dest.iterdir()) == sorted(served["checksums"])  # no .part files left
    assert sum("downloading" in m for m in logs) == 4
    ds = load_dataset(str(dest), log=logs.append)
    assert np.array_equal(ds.x_train[:, 0], served["arrays"]["train-images-idx3-ubyte.gz"])
    assert np.array_equal(ds.y_test, served["arrays"]["t10k-labels-idx1-ubyte.gz"])
    # files already there with the right checksum are not fetched again
    logs.clear()
    dl.download("mnist", dest, log=logs.append)
    assert logs == []


def test_load_dataset_downloads_a_named_set_into_the_cache(served, tmp_path):
    logs = []
    ds = load_dataset("mnist", log=logs.append)
    assert len(ds.x_train) == 12 and len(ds.x_test) == 4
    assert ds.label_names == [str(i) for i in range(10)]
    assert (tmp_path / "cache" / "mnist" / "train-images-idx3-ubyte.gz").exists()
    assert any("downloading" in m for m in logs)
    logs.clear()
    load_dataset("mnist", log=logs.append)  # now from the cache
    assert not any("downloading" in m for m in logs)


def test_checksum_mismatch_deletes_the_file_and_errors(served, tmp_path):
    dest = tmp_path / "dest"
    logs = []
    with pytest.raises(DataError, match="checksum mismatch") as e:
        dl.download("mnist", dest, mirrors=[served["base"] + "/bad/"], log=logs.append)
    assert "deleted the file" in str(e.value) and "by hand" in str(e.value)
    assert list(dest.iterdir()) == []  # neither the bad file nor a .part is left
    assert any("checksum mismatch" in m for m in logs)


def test_second_mirror_is_used_after_a_bad_one(served, tmp_path):
    dest = tmp_path / "dest"
    logs = []
    dl.download("mnist", dest, mirrors=[served["base"] + "/bad/", served["base"] + "/good"], log=logs.append)
    for name, expected in served["checksums"].items():
        assert dl.md5(dest / name) == expected
    assert sum("checksum mismatch" in m for m in logs) == 4
    assert len(load_dataset(str(dest), log=logs.append).x_train) == 12


def test_missing_files_and_dead_mirrors(served, tmp_path):
    dest = tmp_path / "dest"
    dead = "http://127.0.0.1:9/"  # the discard port: nothing listens there
    with pytest.raises(DataError) as e:
        dl.download("mnist", dest, mirrors=[served["base"] + "/nothing-here/", dead], log=lambda *a: None)
    msg = str(e.value)
    assert "could not download train-images-idx3-ubyte.gz" in msg and "404" in msg and "127.0.0.1:9" in msg
    assert list(dest.iterdir()) == []
    # a 404 on the first mirror falls through to the second
    dl.download("mnist", dest, mirrors=[served["base"] + "/nothing-here/", served["base"] + "/good/"],
                log=lambda *a: None)
    assert len(list(dest.iterdir())) == 4
