"""The Lessons view's text and what it writes into the URL, without a browser."""
from types import SimpleNamespace

import numpy as np

from explorer.service.url_state import from_query, to_query
from explorer.web.session import CodesSession, LatentSession, LessonSession
from explorer.web.views.lessons import step_text
from explorer.web.views.url import view_state

EX = SimpleNamespace(map=SimpleNamespace(point=lambda name, i: SimpleNamespace(latent=np.zeros(2))),
                     store=SimpleNamespace(dims_by_kl=lambda name: np.array([0, 1])))


def test_a_slip_of_the_note_is_quoted_struck_out_and_corrected_in_place():
    head, text, question = step_text(1, 2)
    assert "Step 2 of 5" in head and question.startswith("**Question.**")
    assert "~~log p(x|z) = ELBO" in text and "Corrected: **log p(x) = ELBO" in text
    _, text, _ = step_text(1, 1)
    assert "q_phi(z|x) is the encoder, p_theta(x|z) the decoder" in text


def test_the_lessons_tab_writes_its_lesson_step_image_and_seed_and_other_tabs_do_not():
    latent = LatentSession(loaded=True, vae="v", index=1, latent=(0.0, 0.0))
    lessons = LessonSession(loaded=True, lesson=2, step=3, index=7, seed=4)
    s = from_query(to_query(view_state(EX, latent, CodesSession(), "lessons", "q", None, lessons)))
    assert (s.tab, s.lesson, s.step, s.index, s.seed) == ("lessons", 2, 3, 7, 4)
    s = from_query(to_query(view_state(EX, latent, CodesSession(), "map", "q", None, lessons)))
    assert (s.lesson, s.step, s.index) == (None, None, 1)
