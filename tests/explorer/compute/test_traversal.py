"""Traversals: each of the top-k dimensions set over -3..3, decoded into a grid and a PNG."""
import io

import numpy as np
import pytest
import torch
from PIL import Image

from explorer.compute.traversal import TraversalError, traversal, traversal_latents


def test_each_row_sets_its_own_dimension_and_keeps_the_others():
    z = np.array([0.1, 0.2, 0.3, 0.4], dtype=np.float32)
    values = np.linspace(-3, 3, 5)
    lat = traversal_latents(z, np.array([2, 0]), values).reshape(2, 5, 4)
    np.testing.assert_allclose(lat[0, :, 2], values)
    np.testing.assert_allclose(lat[1, :, 0], values)
    np.testing.assert_allclose(lat[0][:, [0, 1, 3]], np.tile(z[[0, 1, 3]], (5, 1)))
    np.testing.assert_allclose(lat[1][:, 1:], np.tile(z[1:], (5, 1)))


def test_traversal_decodes_the_grid_and_its_png(teach_ex):
    model = teach_ex.store.model("vae4")
    z = teach_ex.store.posteriors("vae4").mu[0]
    dims = teach_ex.store.dims_by_kl("vae4")
    t = traversal(model, z, dims, k=3, steps=5)
    assert t.dims.tolist() == dims[:3].tolist() and t.values.tolist() == [-3.0, -1.5, 0.0, 1.5, 3.0]
    with torch.no_grad():
        want = model.decode_location(torch.from_numpy(traversal_latents(z, t.dims, t.values))).numpy()
    np.testing.assert_allclose(t.images.reshape(want.shape), want)
    assert t.grid.shape == (3 * 10 + 2, 5 * 10 + 2, 1) and t.grid.dtype == np.uint8  # 8 px images, 2 px gaps
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(t.png))), t.grid[..., 0])
    assert t.grid[2:10, 2:10, 0].tolist() == np.round(want[0, 0] * 255).astype(np.uint8).tolist()


@pytest.mark.parametrize("k, steps, msg", [(0, 5, "dimensions"), (5, 5, "dimensions"), (2, 0, "steps"),
                                           (2, 16, "steps"), (2.0, 5, "dimensions"), (True, 5, "dimensions")])
def test_bad_counts_are_refused(teach_ex, k, steps, msg):
    with pytest.raises(TraversalError, match=msg):
        traversal(teach_ex.store.model("vae4"), np.zeros(4), np.arange(4), k, steps)
