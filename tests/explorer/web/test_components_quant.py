"""The codes view's quantisation HTML (components/quant.py)."""
import json

import numpy as np

from explorer.compute.quantization import Quantization
from explorer.web.components.quant import nearest_choices, quantization_html


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


def test_nearest_choices_list_the_cells_codes_nearest_first_with_their_distances():
    out = json.loads(nearest_choices(make(), (1, 1)))
    assert [i["code"] for i in out["items"]] == [3, 1, 2] and out["items"][0]["label"] == "d² 0.1"
    assert all(i["bar"] is None for i in out["items"])
    assert "cell (1, 1)" in out["title"] and "0.125 from flipping to code 2" in out["title"]
    assert "d²(2nd) − d²(1st) = 0.5, squared units" in out["title"]


def test_a_sampled_grid_has_no_quantisation():
    assert "sampled from the prior" in quantization_html(None)
    assert json.loads(nearest_choices(None, (0, 0))) == {"title": "", "items": []}
