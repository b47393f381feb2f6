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
