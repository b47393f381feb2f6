"""The Lessons service: every step of both lessons measured on tiny checkpoints and drawn, repeatable from the seed;
bad lessons, steps and choices refused with what to pick; each step's words within the limit; the URL's lesson and
step checked against the lessons."""
import math

import plotly.graph_objects as go
import pytest

from explorer.errors import LessonError
from explorer.figures.lessons import chart, measurement
from explorer.service.lesson_steps import LESSONS, MAX_WORDS
from explorer.service.lessons import step
from explorer.service.url_state import ViewState, from_query, restore_state, to_query


def test_every_step_is_short_and_names_a_measurement_its_controls_can_drive():
    for lesson in LESSONS:
        for s in lesson.steps:
            assert s.words() <= MAX_WORDS, s.title
            assert bool(s.choices) == ("choice" in s.controls), s.title
    slips = [s.slip for lesson in LESSONS for s in lesson.steps if s.slip]
    assert len(slips) == 2  # the note's two slips, each corrected in its step


def test_every_step_of_both_lessons_is_measured_and_drawn(teach_ex, monkeypatch):
    monkeypatch.setattr("explorer.service.lessons.SWEEP_STEPS", 10)  # the sweep's own test trains longer
    for n, lesson in enumerate(LESSONS, 1):
        for m, s in enumerate(lesson.steps, 1):
            choice = s.choices[-1] if s.choices else None
            r = teach_ex.lessons.measure(n, m, "vae4", "vq", index=1, seed=2, choice=choice)
            assert "|---|" in measurement(s.measure, r), s.title
            figure = chart(s.measure, r)
            assert (figure is not None) == (s.measure in ("kl", "gaussian"))
            if figure is not None:
                go.Figure(figure)  # Plotly accepts it
    st = teach_ex.lessons.measure(2, 1, "vae4", "vq", index=1, choice=0)
    assert st.code_from_reconstruction == 0.0 and st.code_from_codebook_loss > 0
    assert math.isclose(st.code_from_codebook_loss, st.code_from_codebook_expected, rel_tol=1e-4)


def test_a_measurement_is_repeatable_from_its_seed_and_changes_with_it(teach_ex):
    a = teach_ex.lessons.measure(1, 3, "vae4", "vq", index=0, seed=5)
    teach_ex.lessons._cache = type(teach_ex.lessons._cache)(8)  # computed again, not served from the cache
    b = teach_ex.lessons.measure(1, 3, "vae4", "vq", index=0, seed=5)
    assert a.estimates == b.estimates and a.closed_form == b.closed_form
    assert teach_ex.lessons.measure(1, 3, "vae4", "vq", index=0, seed=6).estimates != a.estimates


def test_bad_lessons_steps_and_choices_are_refused_with_what_to_pick(teach_ex):
    with pytest.raises(LessonError, match="pick 1..2"):
        step(3, 1)
    with pytest.raises(LessonError, match="steps 1..5"):
        step(1, 0)
    with pytest.raises(LessonError, match="one of 1, 4, 16, 64"):
        teach_ex.lessons.measure(1, 4, "vae4", "vq", choice=3)


def test_the_url_keeps_the_lesson_and_step_and_drops_ones_that_do_not_exist(teach_ex):
    s = ViewState(tab="lessons", lesson=2, step=3, index=4, seed=7)
    assert from_query(to_query(s)) == s
    r = restore_state(teach_ex.store, "tab=lessons&lesson=2&step=9")
    assert (r.state.lesson, r.state.step) == (2, None) and "steps 1..3" in r.messages[0]
    r = restore_state(teach_ex.store, "tab=lessons&lesson=5&step=2")
    assert (r.state.lesson, r.state.step) == (None, 2) and "no lesson 5" in r.messages[0]
