"""explorer/compute/plane.py, the latent axes on two principal directions, against brute force: samples of q(z|x)
and of the prior projected on the plane, Gaussians evaluated one at a time, clicks projected back."""
import numpy as np
import pytest

from explorer.compute import plane
from explorer.compute.directions import principal_directions
from explorer.compute.plane import (
    aggregate_density,
    check_directions,
    covariances,
    mixture_density,
    plane_axes,
    plane_latent,
    prior_circles,
    project,
    rotated_ellipse,
)
from explorer.compute.posterior import PRIOR_RADII, AxesError

D = 12


@pytest.fixture(scope="module")
def data():
    """Latents of D numbers with correlated spread (so that the directions mix dimensions), their sigmas, their
    directions."""
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(300, D)) @ rng.normal(size=(D, D)) + rng.normal(size=D)
    sigma = rng.uniform(0.05, 0.8, size=(300, D))
    return mu, sigma, principal_directions(mu, k=6)


def gaussian(p, mean, cov):
    """N(p; mean, cov) in 2-D, written out: exp(-e^T C^-1 e / 2) / (2 pi sqrt(det C))."""
    e = np.asarray(p) - mean
    return float(np.exp(-0.5 * e @ np.linalg.solve(cov, e)) / (2 * np.pi * np.sqrt(np.linalg.det(cov))))


def test_points_are_the_coefficients_on_the_two_directions(data):
    mu, _, dirs = data
    want = np.array([dirs.coefficients(z)[[3, 1]] for z in mu])  # a(z) = V (z - m), one latent at a time
    np.testing.assert_allclose(project(mu, dirs, 3, 1), want, atol=1e-9)


def test_the_projected_posterior_has_covariance_c(data):
    mu, sigma, dirs = data
    rng = np.random.default_rng(1)
    z = mu[7] + sigma[7] * rng.standard_normal((200_000, D))  # z ~ q(z|x_7)
    p = project(z, dirs, 0, 2)
    c = covariances(sigma[7:8], dirs.vectors[0], dirs.vectors[2])[0]
    np.testing.assert_allclose(p.mean(0), project(mu[7], dirs, 0, 2), atol=0.01)
    np.testing.assert_allclose(np.cov(p.T), c, atol=0.01 * np.trace(c))
    assert abs(c[0, 1]) > 0.02 * np.trace(c)  # not diagonal: the case the rotated ellipse is for


def test_a_rotated_ellipse_reaches_k_sigma_in_every_direction():
    cov, centre = np.array([[2.0, 1.2], [1.2, 1.0]]), np.array([0.5, -1.0])
    o = rotated_ellipse(centre, cov, 2.0, n=2001, index=4)
    e = np.c_[o.x, o.y] - centre
    np.testing.assert_allclose(np.einsum("ni,ij,nj->n", e, np.linalg.inv(cov), e), 4.0, rtol=1e-9)  # e^T C^-1 e = k^2
    for angle in np.linspace(0, np.pi, 7):  # its extent along a is k sqrt(a^T C a), as for samples of N(0, C)
        a = np.array([np.cos(angle), np.sin(angle)])
        assert (e @ a).max() == pytest.approx(2.0 * np.sqrt(a @ cov @ a), rel=1e-5)
    assert (o.x[0], o.y[0]) == (o.x[-1], o.y[-1]) and (o.level, o.index) == (2.0, 4)
    widest = np.argmax(o.x)
    assert abs(o.y[widest] - centre[1]) > 0.5  # tilted: the rightmost point is not level with the centre


def test_the_prior_projects_to_unit_circles_around_minus_v_dot_m(data):
    _, _, dirs = data
    z = np.random.default_rng(2).standard_normal((200_000, D))  # z ~ N(0, I)
    p = project(z, dirs, 1, 4)
    centre = -dirs.vectors[[1, 4]] @ dirs.mean
    np.testing.assert_allclose(p.mean(0), centre, atol=0.01)
    np.testing.assert_allclose(np.cov(p.T), np.eye(2), atol=0.01)
    circles = prior_circles(dirs, 1, 4)
    assert [c.level for c in circles] == list(PRIOR_RADII)
    for c in circles:
        np.testing.assert_allclose(np.hypot(c.x - centre[0], c.y - centre[1]), c.level, rtol=1e-9)


def test_a_click_decodes_a_latent_that_projects_back_to_it(data):
    mu, _, dirs = data
    z = plane_latent(mu[5], dirs, 2, 0, 1.25, -0.75)
    np.testing.assert_allclose(project(z, dirs, 2, 0), [1.25, -0.75], atol=1e-9)
    np.testing.assert_allclose(dirs.coefficients(z)[[1, 3, 4, 5]], dirs.coefficients(mu[5])[[1, 3, 4, 5]], atol=1e-9)
    move = z - mu[5]  # within the plane alone: nothing off it changed
    np.testing.assert_allclose(move, dirs.vectors[[2, 0]].T @ (dirs.vectors[[2, 0]] @ move), atol=1e-9)


@pytest.mark.parametrize("i, j", [(0, 0), (0, 6), (-1, 2), ("a", 1)])
def test_directions_out_of_range_are_user_errors_that_say_what_to_pick(data, i, j):
    with pytest.raises(AxesError, match="direction"):
        check_directions(i, j, 6)
    with pytest.raises(AxesError):
        plane_latent(data[0][0], data[2], i, j, 0.0, 0.0)


def test_the_mixture_density_is_every_gaussian_summed_in_any_batch_size(data, monkeypatch):
    mu, sigma, dirs = data
    points, covs = project(mu[:20], dirs, 0, 1), covariances(sigma[:20], dirs.vectors[0], dirs.vectors[1])
    xs, ys = np.linspace(-4, 4, 9), np.linspace(-3, 5, 7)
    want = np.array([[np.mean([gaussian((x, y), p, c) for p, c in zip(points, covs)]) for x in xs] for y in ys])
    np.testing.assert_allclose(mixture_density(points, covs, xs, ys), want, rtol=1e-4, atol=1e-9)
    monkeypatch.setattr(plane, "CHUNK", 3)  # batches that do not divide N
    np.testing.assert_allclose(mixture_density(points, covs, xs, ys), want, rtol=1e-4, atol=1e-9)


def test_the_aggregate_density_holds_the_mass_and_samples_only_above_the_limit(data):
    mu, sigma, dirs = data
    points, covs = project(mu, dirs, 0, 1), covariances(sigma, dirs.vectors[0], dirs.vectors[1])
    xs = np.linspace(points[:, 0].min() - 4, points[:, 0].max() + 4, 64)
    ys = np.linspace(points[:, 1].min() - 4, points[:, 1].max() + 4, 64)
    d, note = aggregate_density(points, covs, xs, ys)
    assert note == "" and d.density.shape == (64, 64)
    assert d.density.sum() * (xs[1] - xs[0]) * (ys[1] - ys[0]) == pytest.approx(1.0, abs=0.01)
    sampled, note = aggregate_density(points, covs, xs, ys, limit=100, seed=3)
    assert note == "a seeded sample of 100 of the 300 images"
    again, _ = aggregate_density(points, covs, xs, ys, limit=100, seed=3)
    np.testing.assert_array_equal(sampled.density, again.density)  # seeded: the same sample every time
    assert not np.allclose(sampled.density, d.density)


def test_plane_axes_gathers_points_rotated_ellipses_prior_and_density(data):
    mu, sigma, dirs = data
    labels = np.arange(len(mu)) % 3
    ax = plane_axes(mu, sigma, labels, dirs, 3, 0, selected=[7, 42])
    assert (ax.i, ax.j, ax.axis_titles(), ax.density_note) == (3, 0, ("direction 3", "direction 0"), "")
    np.testing.assert_array_equal(ax.dims_by_kl, np.arange(6))  # the pickers' order: by variance
    np.testing.assert_allclose(ax.points, project(mu, dirs, 3, 0))
    assert [(o.index, o.level) for o in ax.ellipses] == [(7, 1.0), (7, 2.0), (42, 1.0), (42, 2.0)]
    c = covariances(sigma[7:8], dirs.vectors[3], dirs.vectors[0])[0]
    o = ax.ellipses[0]
    assert o.x.max() - ax.points[7, 0] == pytest.approx(np.sqrt(c[0, 0]), rel=0.01)
    centre = project(np.zeros(D), dirs, 3, 0)
    for axis, lo_hi in ((ax.aggregate.xs, centre[0]), (ax.aggregate.ys, centre[1])):
        assert axis[0] <= lo_hi - 3 and axis[-1] >= lo_hi + 3  # the prior's circles lie on the grid
    assert ax.aggregate.density.max() > 0
