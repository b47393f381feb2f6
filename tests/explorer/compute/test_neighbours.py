"""Nearest test images in latent space (explorer/compute/neighbours.py)."""
import numpy as np
import pytest

from explorer.compute.neighbours import NeighbourError, NeighbourIndex


def test_neighbours_equal_a_brute_force_sort():
    rng = np.random.default_rng(0)
    latents = rng.normal(size=(10_000, 16)).astype(np.float32)
    index, z = NeighbourIndex(latents), rng.normal(size=16)
    nb = index.query(z, 12)
    d = np.linalg.norm(latents.astype(np.float64) - z, axis=1)
    assert nb.indices.tolist() == np.argsort(d, kind="stable")[:12].tolist()
    np.testing.assert_allclose(nb.distances, np.sort(d)[:12], rtol=1e-9)


def test_a_test_image_is_its_own_nearest_unless_excluded():
    rng = np.random.default_rng(1)
    latents = rng.normal(size=(500, 4))
    index = NeighbourIndex(latents)
    nb = index.query(latents[17], 3)
    assert nb.indices[0] == 17 and nb.distances[0] == pytest.approx(0.0, abs=1e-6)
    assert 17 not in index.query(latents[17], 3, exclude=17).indices.tolist()
    assert len(NeighbourIndex(latents[:3]).query(latents[0], 10, exclude=0).indices) == 2  # k > what is left


@pytest.mark.parametrize("z, k, msg", [(np.zeros(4), 0, "1..100"), (np.zeros(4), 101, "1..100"),
                                       (np.zeros(4), 2.5, "whole"), (np.zeros(3), 5, "4 numbers"),
                                       (np.array([0, 0, 0, np.nan]), 5, "finite")])
def test_bad_queries_are_refused(z, k, msg):
    with pytest.raises(NeighbourError, match=msg):
        NeighbourIndex(np.zeros((10, 4))).query(z, k)
