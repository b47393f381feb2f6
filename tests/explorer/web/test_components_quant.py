"""The codes view's quantisation HTML (components/quant.py)."""
import numpy as np

from explorer.compute.quantization import Quantization
from explorer.web.components.quant import nearest_html, quantization_html


def make() -> Quantization:
    h = w = 2
    return Quantization(np.zeros((h, w), int), np.arange(4.0).reshape(h, w), np.array([[0.0, 1.0], [2.0, 0.5]]),
                        np.array([[0.0, 0.25], [0.5, 0.125]]), np.array([[1, 1], [2, 2]]),
                        np.array([[[3, 1, 2]] * 2] * 2), np.array([[[0.1, 0.2, 0.4]] * 2] * 2),
                        np.zeros((1, 8, 8), np.float32), np.ones((1, 8, 8), np.float32))


def test_quantization_html_has_two_heat_maps_and_two_decodes():
    out = quantization_html(make())
    assert out.count("<img") == 4 and "(0..3)" in out and "decode of z_e" in out
    assert "to flip" in out and "(0..0.5)" in out  # the flip distance's map, not the squared margin's


def test_nearest_html_lists_the_cells_codes_nearest_first_clickable():
    out = nearest_html(make(), (1, 1))
    assert [int(s.split('"')[0]) for s in out.split('data-code="')[1:]] == [3, 1, 2]
    assert "cell (1, 1)" in out and "0.125 from flipping to code 2" in out
    assert "d²(2nd) − d²(1st) = 0.5, squared units" in out


def test_a_sampled_grid_has_no_quantisation():
    assert "sampled from the prior" in quantization_html(None) and nearest_html(None, (0, 0)) == ""
