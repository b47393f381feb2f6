"""Views that need a model the checkpoints folder lacks leave their outputs alone (a skip update, one for all)."""
import gradio as gr

from explorer.web.session import GenerateSession
from explorer.web.views.generate import GenerateView
from explorer.web.views.interpolate import InterpolateView


def test_interpolate_without_both_models_skips_its_outputs():
    # Gradio reads an empty dict as one value for three outputs ("didn't return enough output values")
    view = InterpolateView(ex=None)
    assert view.interpolate("", "fashion-vqvae", 0, 1, 10) == gr.skip()
    assert view.interpolate("fashion-vae", "", 0, 1, 10) == gr.skip()


def test_a_click_beside_the_generated_samples_skips_its_outputs():
    view = GenerateView.__new__(GenerateView)
    event = gr.SelectData(None, {"index": 5, "value": None})
    assert view.on_select(GenerateSession(), None, event) == gr.skip()
