"""The Models and Generate views' line of recorded sample-quality figures (explorer/service/sample_figures.py)."""
import json
from types import SimpleNamespace

from explorer.service.sample_figures import checkpoint_note, recorded_metrics, sample_figures_note

FIGURES = {"sample_fd": 8.6049, "sample_precision": 0.8368, "sample_recall": 0.6992, "sample_floor_fd": 0.8039,
           "sample_floor_precision": 0.8744, "sample_floor_recall": 0.8734, "sample_n": 5000, "sample_k": 3,
           "classifier_accuracy": 0.9094}


def test_the_note_shows_the_figures_beside_the_floor_and_the_classifier():
    note = sample_figures_note(FIGURES)
    assert "5,000 samples" in note and "k = 3" in note
    assert "FD **8.60**, precision **0.84**, recall **0.70**" in note
    assert "floor (training images vs test) FD 0.80, precision 0.87, recall 0.87" in note
    assert "classifier test accuracy 90.9%" in note


def test_a_fitted_prior_shows_the_standard_normal_figures_beside():
    note = sample_figures_note({**FIGURES, "sample_fd_standard": 70.9, "sample_precision_standard": 0.52,
                                "sample_recall_standard": 0.51})
    assert "fitted prior: FD **8.60**" in note and "z ~ N(0, I): FD **70.90**, precision **0.52**" in note


def test_without_figures_the_note_says_why_or_how_to_compute_them():
    assert sample_figures_note({"sample_note": "no classifier for x"}) == "Sample quality: no classifier for x."
    note = sample_figures_note({"mse": 0.1}, "checkpoints/m")
    assert "`python -m vae_core.evaluate checkpoints/m --samples-only --update checkpoints/m/eval.json`" in note


def test_eval_json_is_read_before_the_record(tmp_path):
    (tmp_path / "eval.json").write_text(json.dumps({"mse": 0.1, **FIGURES}))
    assert recorded_metrics(tmp_path, {"sample_fd": 1.0}) == FIGURES
    assert recorded_metrics(tmp_path / "none", {"sample_fd": 1.0, "mse": 2}) == {"sample_fd": 1.0}
    found = SimpleNamespace(record=lambda: {}, folder=tmp_path)
    assert "FD **8.60**" in checkpoint_note(found)
    assert "not recorded" in checkpoint_note(SimpleNamespace(record=lambda: None, folder=tmp_path))
