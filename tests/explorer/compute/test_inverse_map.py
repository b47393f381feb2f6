"""The map <-> latent mapping (explorer.compute.inverse.LatentMap) on small synthetic maps, and the map view's note
on what a click decoded (explorer.web.views.map_note)."""
import numpy as np
import pytest

from explorer.compute.inverse import LatentMap
from explorer.service.map_note import click_note, point_note


def smooth_map(n=600, seed=0, noise=0.05):
    """Coordinates in [0, 10]^2 with a hole in the middle, latents a smooth function of them (6-D) plus noise."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0, 10, size=(n * 2, 2))
    p = p[np.linalg.norm(p - 5, axis=1) > 1.5][:n]  # an empty disc of radius 1.5 around (5, 5)
    z = np.stack([np.sin(p[:, 0] / 2), np.cos(p[:, 1] / 3), p[:, 0] * p[:, 1] / 20, p[:, 0] - p[:, 1],
                  np.sin((p[:, 0] + p[:, 1]) / 4), p[:, 1] / 5], 1)
    return z + noise * rng.standard_normal(z.shape), p, (np.arange(len(p)) % 3)


@pytest.fixture(scope="module")
def synthetic():
    z, p, labels = smooth_map()
    return LatentMap(z, p), z, p, labels


def empty_clicks(m, p, n=200, seed=1):
    q = np.random.default_rng(seed).uniform(0, 10, size=(n * 5, 2))
    return q[np.array([m.nearest_distance(*c) > m.radius for c in q])][:n]


def test_empty_space_round_trip_lands_on_the_click(synthetic):
    m, _, p, _ = synthetic
    clicks = empty_clicks(m, p)
    assert len(clicks) >= 100
    err = np.array([np.linalg.norm(m.to_map(m.to_latent(*c)) - c) for c in clicks])
    assert np.median(err) < 0.01 * m.span and np.percentile(err, 90) < 0.1 * m.span


def test_round_trip_in_the_hole_stays_in_the_hole(synthetic):
    m, _, _, _ = synthetic
    for c in [(5.0, 5.0), (5.6, 4.7), (4.3, 5.2)]:
        assert np.linalg.norm(m.to_map(m.to_latent(*c)) - np.array(c)) < 0.25


def test_a_points_own_position_gives_its_own_latent_and_back(synthetic):
    m, z, p, _ = synthetic
    for i in (3, 77, 250):
        np.testing.assert_allclose(m.to_latent(*p[i]), z[i], atol=1e-6)
        np.testing.assert_allclose(m.to_map(z[i]), p[i], atol=1e-9)


def test_a_small_latent_edit_moves_the_marker_a_little(synthetic):
    m, _, _, _ = synthetic
    c = np.array([2.3, 7.9])
    zc = m.to_latent(*c)
    nudged = zc + np.array([0.01, 0, 0, 0, 0, 0])
    assert np.linalg.norm(m.to_map(nudged) - c) < 0.5


def test_far_outside_the_map_and_odd_latents_give_finite_answers(synthetic):
    m, z, _, _ = synthetic
    for x, y in [(1e4, -1e4), (-50.0, 3.0), (0.0, 1e6)]:
        assert np.isfinite(m.to_latent(x, y)).all()
    for q in [np.full(z.shape[1], 1e3), np.zeros(z.shape[1]), -z[5] * 40]:
        xy = m.to_map(q)
        assert xy.shape == (2,) and np.isfinite(xy).all()


def test_blend_weights_sum_to_one_heaviest_first(synthetic):
    m, _, p, _ = synthetic
    i, w = m.blend(5.0, 5.0)
    assert len(i) == m.k and np.isclose(w.sum(), 1.0) and (np.diff(w) <= 1e-12).all()
    np.testing.assert_allclose((w[:, None] * m.latents[i]).sum(0), m.to_latent(5.0, 5.0), atol=1e-9)
    assert m.nearest_index(*p[10]) == 10 and m.nearest_distance(*p[10]) == 0.0


def test_latents_at_many_matches_one_at_a_time(synthetic):
    m, _, _, _ = synthetic
    q = np.array([[1.0, 2.0], [5.0, 5.0], [9.5, 0.1]])
    np.testing.assert_allclose(m.latents_at(q), np.stack([m.to_latent(*c) for c in q]), atol=1e-12)


# --- the page's note ---------------------------------------------------------------------------------------------
def test_note_in_empty_space_says_interpolated_and_names_the_images(synthetic):
    m, _, _, labels = synthetic
    names = ["cat", "dog", "owl"]
    note = click_note(m, 5.0, 5.0, labels, names)
    indices, _ = m.blend(5.0, 5.0)
    assert "interpolated" in note and f"within {m.radius:.2f}" in note
    assert f"#{indices[0]} {names[labels[indices[0]]]}" in note and "more" in note


def test_note_on_a_point_says_its_own_latent(synthetic):
    m, _, p, labels = synthetic
    note = click_note(m, *(p[42] + 1e-9), labels, ["cat", "dog", "owl"])
    assert "#42's own latent" in note and "interpolated" not in note
    assert point_note(42, "dog") == "Selected test image **#42**: dog (decoded: its own latent mu(x))"


def test_note_near_a_point_but_not_on_it_says_blended_not_interpolated(synthetic):
    m, _, p, labels = synthetic
    i, gap = 42, m.radius / 2
    _, d = m.nearest(*p[i], 2)
    assert d[1] > gap  # the next point is farther than the offset
    note = click_note(m, p[i, 0] + gap, p[i, 1], labels, ["cat", "dog", "owl"])
    assert "blended from" in note and "interpolated" not in note and f"#{i} " in note
