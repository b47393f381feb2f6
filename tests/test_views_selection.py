"""The map view's selection panel: what a `select` event carries (views/selection.py)."""
import gradio as gr
import pytest

from explorer.export import SelectionError
from explorer.views.selection import selected_indices


def test_a_selection_of_ten_thousand_points_is_read_whole():
    idx = selected_indices(gr.EventData(None, {"indices": list(range(10_000))}))
    assert idx.dtype.kind == "i" and len(idx) == 10_000 and idx[-1] == 9_999


def test_an_empty_selection_is_an_empty_array():
    assert selected_indices(gr.EventData(None, {"indices": []})).size == 0


@pytest.mark.parametrize("data", [{}, {"indices": "1,2"}, {"indices": [1, "a"]}, {"indices": [[1], [2, 3]]},
                                  {"indices": [[1, 2]]}, {"indices": [True]}])
def test_a_bad_selection_is_a_user_error(data):
    with pytest.raises(SelectionError):
        selected_indices(gr.EventData(None, data))
