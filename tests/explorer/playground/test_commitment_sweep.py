"""The commitment weight sweep on the ring: seeded runs, measured on all the points."""
from explorer.playground.commitment_sweep import commitment_sweep, sweep_point


def test_a_sweep_point_is_seeded_and_its_figures_are_in_range():
    a, b = sweep_point(0.25, seed=1, steps=20), sweep_point(0.25, seed=1, steps=20)
    assert a == b
    assert 0 < a.codes_used <= 1 and 1 <= a.perplexity <= 16 * a.codes_used + 1e-9 and a.reconstruction > 0


def test_the_sweep_has_one_point_per_weight_in_order():
    points = commitment_sweep((0.1, 2.0), seed=0, steps=5)
    assert [p.commitment for p in points] == [0.1, 2.0]
