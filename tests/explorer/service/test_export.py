"""Selections: validation, CSV and NPZ exports (10,000 rows), files written once, gallery and mean decodes."""
import csv
import io
from pathlib import Path

import numpy as np
import pytest
import torch

from explorer.service.export import (
    SelectionError,
    export_table,
    selection_summary,
    to_csv,
    to_npz,
    validate_indices,
)
from explorer.web.files import data_file

NAMES = ["T-shirt/top", 'Trouser, "long"', "Bag"]


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(0)
    n = 10_000
    latents, coords = rng.normal(size=(n, 16)).astype(np.float32), rng.normal(size=(n, 2)).astype(np.float32)
    labels = rng.integers(-1, 4, n)  # -1: unlabelled, 3: beyond the names
    return export_table(latents, coords, labels, NAMES, range(n)), latents, coords, labels


def test_csv_of_10000_rows_reads_back(table):
    t, latents, coords, labels = table
    rows = list(csv.reader(io.StringIO(to_csv(t).decode())))
    assert rows[0] == ["index", "label", "label_name", "x", "y", *(f"z{k}" for k in range(16))]
    assert len(rows) == 10_001
    body = rows[1:]
    assert [int(r[0]) for r in body] == list(range(10_000))
    assert [int(r[1]) for r in body] == labels.tolist()
    want = [NAMES[v] if 0 <= v < 3 else "" for v in labels]
    assert [r[2] for r in body] == want  # the name with a comma and quotes survives the quoting
    nums = np.array([[float(v) for v in r[3:]] for r in body])
    np.testing.assert_allclose(nums, np.hstack([coords, latents]), rtol=1e-6, atol=1e-7)


def test_npz_holds_the_same_arrays(table):
    t, latents, coords, labels = table
    with np.load(io.BytesIO(to_npz(t)), allow_pickle=False) as f:
        assert f["index"].tolist() == list(range(10_000)) and f["label"].tolist() == labels.tolist()
        np.testing.assert_array_equal(f["latents"], latents)
        np.testing.assert_array_equal(f["coords"], coords)
        assert f["label_name"][labels.tolist().index(1)] == NAMES[1]


def test_a_selection_is_sorted_unique_and_checked():
    assert validate_indices([5, 2, 5, 9.0], 10).tolist() == [2, 5, 9]
    assert validate_indices(np.array([3]), 10).dtype == np.int64


@pytest.mark.parametrize("bad, msg", [([], "empty"), ([0, 10], "0..9"), ([-1], "0..9"), ([1.5], "whole"),
                                      (["3"], "whole numbers"), ([True], "whole numbers"), ([[1, 2]], "flat"),
                                      ("1,2", "list"), (None, "list"), ([float("nan")], "whole"), (5, "list"),
                                      ([None], "whole numbers"), ([10**30], "whole numbers")])
def test_bad_selections_are_refused_clearly(bad, msg):
    with pytest.raises(SelectionError, match=msg):
        validate_indices(bad, 10)


def test_export_files_are_written_once_under_new_names(tmp_path):
    a, b = data_file(b"x,y\n", "sel.csv", tmp_path), data_file(b"x,y\n", "sel.csv", tmp_path)
    assert a != b and Path(a).read_bytes() == b"x,y\n" and a.endswith("sel.csv")
    for bad in ("../x.csv", "a/b.csv", ".hidden"):
        with pytest.raises(ValueError):
            data_file(b"", bad, tmp_path)


def test_selection_summary_gallery_and_mean_decodes(teach_ex):
    model = teach_ex.store.model("vae2")
    view = teach_ex.store.latent_view("vae2")
    x, mu = view.data.x_test, view.proj.latents
    sel = [4, 1, 30, 7]
    s = selection_summary(model, x, mu, sel)
    idx = sorted(sel)
    assert (s.shown, s.total, s.averaged) == (4, 4, 4)
    assert s.gallery.shape == (8 + 4, 4 * 10 + 2, 1)  # one row of 4 thumbnails of 8 px with 2 px gaps
    np.testing.assert_allclose(s.mean_image, x[idx].mean(0) / 255, rtol=1e-6)
    with torch.no_grad():
        z = torch.from_numpy(mu[idx])
        np.testing.assert_allclose(s.mean_latent_decode, model.decode_location(z.mean(0, keepdim=True))[0].numpy())
        np.testing.assert_allclose(s.mean_of_decodes, model.decode_location(z).mean(0).numpy(), rtol=1e-6)
    big = selection_summary(model, x, mu, range(len(x)))
    assert big.shown == 100 and big.total == len(x) and big.averaged == min(256, len(x))
