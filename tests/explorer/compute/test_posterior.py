"""Latent axes: posterior ellipses, prior contours, the aggregate posterior's density, clicks
(explorer/compute/posterior.py)."""
import numpy as np
import pytest

from explorer.compute.posterior import (
    AxesError,
    aggregate_density,
    cell_edges,
    click_latent,
    dims_by_kl,
    ellipse,
    latent_axes,
    prior_contours,
    prior_density_at,
)


def test_ellipse_of_a_diagonal_gaussian_has_axes_sigma_i_and_sigma_j():
    mu, sigma = np.array([0.5, -1.0, 2.0, 0.1]), np.array([0.3, 0.7, 1.5, 0.05])
    for k in (1.0, 2.0):
        e = ellipse(mu, sigma, 2, 1, k)
        # semi-axes: half the extent along each axis is k sigma_i (horizontal), k sigma_j (vertical)
        assert (e.x.max() - e.x.min()) / 2 == pytest.approx(k * sigma[2], rel=1e-3)
        assert (e.y.max() - e.y.min()) / 2 == pytest.approx(k * sigma[1], rel=1e-3)
        assert ((e.x.max() + e.x.min()) / 2 == pytest.approx(mu[2])
                and (e.y.max() + e.y.min()) / 2 == pytest.approx(mu[1]))
        # every vertex lies on the k-sigma contour of the marginal N((mu_i, mu_j), diag(sigma_i^2, sigma_j^2))
        q = ((e.x - mu[2]) / sigma[2]) ** 2 + ((e.y - mu[1]) / sigma[1]) ** 2
        np.testing.assert_allclose(q, k * k, rtol=1e-12)
        assert (e.x[0], e.y[0]) == (e.x[-1], e.y[-1]) and e.level == k


def test_ellipse_axes_match_the_marginal_covariance_eigenvalues():
    """The contour of N(m, S) is an ellipse with semi-axes k sqrt(eig(S)); for the 2-D marginal of a diagonal
    Gaussian S = diag(sigma_i^2, sigma_j^2), so sqrt(eig) = (sigma_i, sigma_j)."""
    sigma = np.array([0.2, 0.9, 0.4])
    e = ellipse(np.zeros(3), sigma, 0, 2, 1.0, n=2001)
    pts = np.stack([e.x, e.y], 1)
    radii = np.linalg.norm(pts, axis=1)
    np.testing.assert_allclose([radii.min(), radii.max()],
                               sorted(np.sqrt(np.linalg.eigvalsh(np.diag(sigma[[0, 2]] ** 2)))), rtol=1e-5)


def test_prior_contours_are_circles_of_the_standard_normal():
    for c, r in zip(prior_contours(), (1.0, 2.0, 3.0)):
        np.testing.assert_allclose(np.hypot(c.x, c.y), r)
    assert prior_density_at(0.0) == pytest.approx(1 / (2 * np.pi))
    assert prior_density_at(2.0) == pytest.approx(np.exp(-2.0) / (2 * np.pi))


def test_aggregate_density_equals_the_mixture_summed_point_by_point():
    rng = np.random.default_rng(0)
    mu, sigma = rng.normal(size=(50, 3)), rng.uniform(0.1, 1.0, size=(50, 3))
    xs, ys = np.linspace(-3, 3, 11), np.linspace(-2, 2, 7)
    d = aggregate_density(mu, sigma, 0, 2, xs, ys)
    assert d.density.shape == (7, 11)
    for b, v in enumerate(ys):
        for a, u in enumerate(xs):
            comp = (np.exp(-0.5 * ((u - mu[:, 0]) / sigma[:, 0]) ** 2 - 0.5 * ((v - mu[:, 2]) / sigma[:, 2]) ** 2)
                    / (2 * np.pi * sigma[:, 0] * sigma[:, 2]))
            assert d.density[b, a] == pytest.approx(comp.mean(), rel=1e-10)


def test_aggregate_density_integrates_to_one_on_a_wide_grid():
    rng = np.random.default_rng(1)
    mu, sigma = rng.normal(size=(10_000, 16)), rng.uniform(0.2, 0.8, size=(10_000, 16))
    xs = ys = np.linspace(-8, 8, 161)
    d = aggregate_density(mu, sigma, 3, 7, xs, ys)
    assert d.density.sum() * (xs[1] - xs[0]) * (ys[1] - ys[0]) == pytest.approx(1.0, abs=1e-3)


def test_latent_axes_gathers_points_ellipses_prior_and_density():
    rng = np.random.default_rng(2)
    mu, sigma, labels = rng.normal(size=(300, 5)), rng.uniform(0.1, 0.5, size=(300, 5)), rng.integers(0, 3, 300)
    ax = latent_axes(mu, sigma, labels, np.array([0.1, 3.0, 0.5, 2.0, 0.0]), 3, 1, selected=[7, 42])
    assert ax.dims_by_kl.tolist() == [1, 3, 2, 0, 4]
    np.testing.assert_array_equal(ax.points, mu[:, [3, 1]])
    assert [(e.index, e.level) for e in ax.ellipses] == [(7, 1.0), (7, 2.0), (42, 1.0), (42, 2.0)]
    assert ax.aggregate.xs[0] <= -3 and ax.aggregate.xs[-1] >= 3 and (ax.aggregate.density > 0).all()
    assert len(ax.prior) == 3


def test_dims_by_kl_puts_the_most_active_first_and_keeps_ties_in_order():
    assert dims_by_kl(np.array([0.0, 5.0, 1.0, 5.0])).tolist() == [1, 3, 2, 0]


def test_a_click_sets_two_dims_and_holds_the_others():
    base = np.array([0.1, 0.2, 0.3, 0.4])
    z = click_latent(base, 2, 0, 1.5, -2.5)
    np.testing.assert_array_equal(z, [-2.5, 0.2, 1.5, 0.4])
    assert base[2] == 0.3  # the base is not changed


@pytest.mark.parametrize("i, j, x, y, msg", [
    (1, 1, 0, 0, "different"), (0, 4, 0, 0, "0..3"), (-1, 0, 0, 0, "0..3"), ("a", 0, 0, 0, "dimension numbers"),
    (0, 1, "x", 0, "numbers x and y"), (0, 1, float("nan"), 0, "NaN"), (0, 1, 0, None, "numbers x and y")])
def test_bad_clicks_are_refused_clearly(i, j, x, y, msg):
    with pytest.raises(AxesError, match=msg):
        click_latent(np.zeros(4), i, j, x, y)


def test_cell_means_of_the_aggregate_density_keep_the_mass_of_narrow_posteriors():
    """Posteriors narrower than a cell: read at the grid points q(z) misses them; its cell means keep all the mass."""
    rng = np.random.default_rng(3)
    xs = ys = np.linspace(-3, 3, 31)  # cells of 0.2
    mu, sigma = rng.uniform(-2, 2, size=(500, 2)), np.full((500, 2), 0.01)
    area = (xs[1] - xs[0]) * (ys[1] - ys[0])
    cells = aggregate_density(mu, sigma, 0, 1, xs, ys, cells=True)
    assert cells.density.sum() * area == pytest.approx(1.0, abs=1e-9)
    points = aggregate_density(mu, sigma, 0, 1, xs, ys)
    assert abs(points.density.sum() * area - 1.0) > 0.2  # aliased: far from the true mass (0.73 here)
    one = aggregate_density(np.array([[0.33, -1.01]]), np.full((1, 2), 1e-3), 0, 1, xs, ys, cells=True)
    b, a = np.unravel_index(np.argmax(one.density), one.density.shape)
    assert (xs[a], ys[b]) == (pytest.approx(0.4), pytest.approx(-1.0))  # the cell holding the mean
    assert one.density[b, a] == pytest.approx(1 / area)


def test_cell_means_equal_the_point_density_for_wide_posteriors():
    rng = np.random.default_rng(4)
    mu, sigma = rng.normal(size=(200, 2)), rng.uniform(0.8, 1.2, size=(200, 2))
    xs = ys = np.linspace(-4, 4, 161)  # cells of 0.05, much narrower than the posteriors
    cells = aggregate_density(mu, sigma, 0, 1, xs, ys, cells=True).density
    np.testing.assert_allclose(cells, aggregate_density(mu, sigma, 0, 1, xs, ys).density, rtol=2e-3, atol=1e-6)


def test_cell_edges_are_midpoints_and_half_steps():
    np.testing.assert_allclose(cell_edges(np.array([0.0, 1.0, 3.0])), [-0.5, 0.5, 2.0, 4.0])
