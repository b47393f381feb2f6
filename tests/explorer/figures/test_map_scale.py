"""The map at scale: binary arrays decode to the same positions and indices, the KD-tree finds the point the full
scan finds, and UMAP above the threshold is fitted on a sample and the rest placed in batches, with an ETA."""
import hashlib
import json
import re
import sys
import types

import numpy as np

from explorer.compute.inverse import LatentMap
from explorer.figures.binary_arrays import binary_array, decode_array
from explorer.figures.maps import codebook_map, latent_map
from explorer.service import projection, sampled_umap


def test_latent_map_traces_decode_to_the_same_positions_and_indices():
    rng = np.random.default_rng(0)
    coords, labels = rng.normal(size=(3000, 2)).astype(np.float32), rng.integers(-1, 10, 3000)
    fig = json.loads(json.dumps(latent_map(coords, labels, [f"class {k}" for k in range(10)], "t")))
    seen = []
    for t in fig["data"]:
        idx = decode_array(t["customdata"])
        assert t["customdata"]["dtype"] == "i4" and t["x"]["dtype"] == "f4"
        np.testing.assert_array_equal(decode_array(t["x"]), coords[idx, 0])  # exact: float32 in, float32 out
        np.testing.assert_array_equal(decode_array(t["y"]), coords[idx, 1])
        assert len(set(labels[idx])) == 1  # one class per trace, as before
        seen.extend(idx.tolist())
    assert sorted(seen) == list(range(len(coords)))
    assert [t["name"] for t in fig["data"]][:2] == ["unlabelled", "class 0"]


def test_codebook_map_decodes_to_the_codebook_positions():
    coords = np.random.default_rng(1).normal(size=(64, 2)).astype(np.float32)
    t = codebook_map(coords, np.arange(64), "umap")["data"][0]
    np.testing.assert_array_equal(np.c_[decode_array(t["x"]), decode_array(t["y"])], coords)
    assert decode_array(t["customdata"]).tolist() == list(range(64))


def test_binary_arrays_are_little_endian_base64():
    assert binary_array([1.0], "f4")["bdata"] == "AACAPw=="  # 1.0f = 0x3f800000, bytes 00 00 80 3f
    assert binary_array([1, 256], "i4")["bdata"] == "AQAAAAABAAA="


def test_kd_tree_nearest_index_equals_the_full_scan():
    rng = np.random.default_rng(2)
    coords = rng.normal(size=(5000, 2))
    m = LatentMap(rng.normal(size=(5000, 4)), coords)
    queries = np.r_[rng.normal(scale=2.0, size=(300, 2)), coords[:50]]
    for x, y in queries:
        assert m.nearest_index(x, y) == int(np.argmin(((coords - [x, y]) ** 2).sum(1)))


class FakeUMAP:
    """Stands in for umap.UMAP (its import and numba compilation take a minute): a fixed linear map."""
    calls = []

    def __init__(self, **kwargs):
        self.kwargs = kwargs

    def fit_transform(self, x):
        FakeUMAP.calls.append(("fit", len(x)))
        return x[:, :2] * 2

    def transform(self, x):
        FakeUMAP.calls.append(("transform", len(x)))
        return x[:, :2] * 2


def test_above_the_threshold_umap_fits_a_sample_and_transforms_the_rest_with_an_eta(monkeypatch):
    monkeypatch.setitem(sys.modules, "umap", types.SimpleNamespace(UMAP=FakeUMAP))
    monkeypatch.setattr(sampled_umap, "SAMPLED", {"above": 100, "sample": 200, "batch": 150, "near": 5, "seed": 0})
    monkeypatch.setattr(projection, "SAMPLED", sampled_umap.SAMPLED)
    FakeUMAP.calls = []
    points = np.random.default_rng(3).normal(size=(600, 6)).astype(np.float32)
    points[599] = points[0]  # a copy of a point: it lands where that point lands
    said = []
    out = projection.umap_2d(points, progress=lambda f, what: said.append((f, what)))
    assert out.shape == (600, 2) and out.dtype == np.float32 and np.isfinite(out).all()
    assert FakeUMAP.calls == [("fit", 200)]  # the rest is placed without UMAP
    fitted = np.flatnonzero(np.all(out == points[:, :2] * 2, axis=1))  # the sample: where the fake fit put it
    assert len(fitted) >= 200
    np.testing.assert_allclose(out[599], out[0], atol=1e-4)
    lo, hi = out[fitted].min(0), out[fitted].max(0)
    assert (out >= lo - 1e-5).all() and (out <= hi + 1e-5).all()  # blends: inside the sample's bounding box
    fractions = [f for f, _ in said]
    assert fractions == sorted(fractions) and fractions[0] == projection.ENCODING and fractions[-1] == 1.0
    batches = [w for _, w in said if "placing" in w]
    assert batches[0] == "UMAP: placing 400 more points, batch 1 of 3, estimating the time left"
    assert all(re.fullmatch(r"UMAP: placing 400 more points, batch [23] of 3, about [\d.]+ (s|min) left", w)
               for w in batches[1:]) and len(batches) == 3


def test_small_n_keeps_the_full_fit_and_its_cache_key(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "umap", types.SimpleNamespace(UMAP=FakeUMAP))
    FakeUMAP.calls = []
    projection.umap_2d(np.ones((50, 4), dtype=np.float32))
    assert FakeUMAP.calls == [("fit", 50)]
    weights = tmp_path / "w"
    weights.write_bytes(b"weights")

    def key_before(x):  # the cache key as it was before the sampled path
        h = hashlib.sha256(b"weights" + x.tobytes())
        h.update(json.dumps({"kind": "latent", **projection.SETTINGS}, sort_keys=True).encode())
        return h.hexdigest()[:16]

    small, big = (np.zeros((n, 1, 2, 2), dtype=np.uint8) for n in (10, sampled_umap.SAMPLED["above"] + 1))
    assert projection.cache_key(weights, small, "latent") == key_before(small)  # shipped caches stay valid
    assert projection.cache_key(weights, big, "latent") != key_before(big)  # a sampled map is another projection
