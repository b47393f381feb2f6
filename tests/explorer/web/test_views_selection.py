"""The map view's selection panel: what a `select` event carries (views/selection.py)."""
from pathlib import Path

import gradio as gr
import pytest

from explorer.service.export import SelectionError
from explorer.web.views.selection import selected_indices


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


@pytest.fixture(scope="module")
def panel(teach_ex):
    from explorer.web.views.selection import SelectionPanel

    with gr.Blocks():
        p = SelectionPanel(teach_ex)
        p.build()
    return p


def test_a_selection_shows_its_gallery_first_and_its_downloads_next(panel, teach_ex):
    from explorer.web.session import LatentSession

    st = LatentSession(loaded=True, vae="vae4", index=0)
    out = panel.on_select(st, gr.EventData(None, {"indices": [9, 3, 3, 40]}))
    assert "3 test images selected" in out[panel.info] and out[panel.images].count("<img") == 4
    assert out[panel.selected].tolist() == [3, 9, 40]
    assert out[panel.csv]["visible"] is False and out[panel.npz]["visible"] is False  # until they are written
    files = panel.on_export(st, out[panel.selected])
    assert files[panel.csv]["visible"] and files[panel.npz]["visible"]
    rows = Path(files[panel.csv]["value"]).read_text().splitlines()
    assert [int(r.split(",")[0]) for r in rows[1:]] == [3, 9, 40]
    cleared = panel.on_select(st, gr.EventData(None, {"indices": []}))
    assert cleared[panel.selected] is None and cleared[panel.images] == ""
    assert panel.on_export(st, None)[panel.csv]["visible"] is False
