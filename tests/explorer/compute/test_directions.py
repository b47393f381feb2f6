"""Principal directions: what the sliders move for a latent of many numbers."""
import numpy as np

from explorer.compute.directions import principal_directions


def test_directions_are_the_principal_axes_with_their_shares_of_the_variance():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((2000, 3)) * [5.0, 2.0, 0.5] @ np.linalg.qr(rng.standard_normal((3, 3)))[0]
    d = principal_directions(z, k=2)
    np.testing.assert_allclose(d.vectors @ d.vectors.T, np.eye(2), atol=1e-12)  # orthonormal
    np.testing.assert_allclose(d.sd, np.std(z @ d.vectors.T, axis=0, ddof=1), rtol=1e-9)
    assert d.share[0] > d.share[1] > 0 and d.share.sum() < 1
    np.testing.assert_allclose(d.share[0], 25 / (25 + 4 + 0.25), rtol=0.05)
    assert d.label(0).startswith("direction 0 (") and "% of the variance" in d.label(0)


def test_a_slider_moves_its_direction_alone_and_sets_its_coefficient():
    rng = np.random.default_rng(1)
    d = principal_directions(rng.standard_normal((500, 256)), k=16)
    z = rng.standard_normal(256)
    moved = d.move(z, 3, 1.5)
    a, b = d.coefficients(z), d.coefficients(moved)
    assert abs(b[3] - 1.5) < 1e-9
    np.testing.assert_allclose(np.delete(b, 3), np.delete(a, 3), atol=1e-9)  # the others unchanged
    np.testing.assert_allclose(moved - z, (1.5 - a[3]) * d.vectors[3], atol=1e-12)  # along v_3 only


def test_a_traversal_along_directions_moves_each_row_along_its_own_direction():

    from explorer.compute.traversal import traversal

    class Identity:  # "decodes" a latent of 4 numbers as a 1 x 2 x 2 image of those numbers
        def decode_location(self, z):
            return z.view(-1, 1, 2, 2)

    rng = np.random.default_rng(2)
    d = principal_directions(rng.standard_normal((300, 4)) * [3.0, 1.0, 0.5, 0.1], k=4)
    z = rng.standard_normal(4)
    t = traversal(Identity(), z, np.arange(4), k=2, steps=3, directions=d)
    assert t.dims.tolist() == [0, 1] and t.images.shape == (2, 3, 1, 2, 2)
    for r in range(2):
        for c, v in enumerate(t.values):
            z_rc = t.images[r, c].reshape(-1).astype(np.float64)
            np.testing.assert_allclose(d.coefficients(z_rc)[r], v * d.sd[r], atol=1e-5)  # row r's coefficient
            others = np.delete(d.coefficients(z_rc), r)
            np.testing.assert_allclose(others, np.delete(d.coefficients(z), r), atol=1e-5)  # the rest as in z
