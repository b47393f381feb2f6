"""The Lessons view: a lesson (the VAE's or the VQ-VAE's) as steps, each a few sentences, the measurement that checks
its claim on the chosen checkpoint (live, seeded), only the controls that measurement needs, and a question. Back and
Next move between steps; the lesson, step, image and seed go in the URL (?tab=lessons&lesson=1&step=2, url.py).
The text is explorer/service/lesson_steps.py; the numbers come from ex.lessons and are drawn by
explorer/figures/lessons.py."""
from dataclasses import replace

import gradio as gr
import plotly.graph_objects as go

from explorer.errors import MissingCapability
from explorer.figures.lessons import chart, measurement
from explorer.service.explorer import Explorer
from explorer.service.lesson_steps import LESSONS
from explorer.service.lessons import step as lesson_step
from explorer.web.session import LessonSession
from explorer.web.views import Page, handled

LESSON_NAMES = [f"{i + 1}. {x.title}" for i, x in enumerate(LESSONS)]


def step_text(n: int, m: int) -> tuple[str, str, str]:
    """(heading, text with the note's slip corrected in place, question) of step m of lesson n."""
    s = lesson_step(n, m)
    head = f"### {s.title}\nStep {m} of {len(LESSONS[n - 1].steps)}"
    text = s.text
    if s.slip:
        text += (f"\n\n> The note says: ~~{s.slip[0]}~~  \n> Corrected: **{s.slip[1]}**")
    return head, text, f"**Question.** {s.question}"


class LessonsView:
    title = "Lessons"
    key = "lessons"  # its tab's id

    def __init__(self, ex: Explorer):
        self.ex = ex

    def build(self):
        self.state = gr.State(LessonSession())
        self.lesson = gr.Radio(LESSON_NAMES, value=LESSON_NAMES[0], label="lesson", type="index",
                               elem_id="lesson-pick")
        self.head = gr.Markdown(elem_id="lesson-head")
        self.text = gr.Markdown(elem_id="lesson-text")
        with gr.Row():
            self.index = gr.Number(0, precision=0, label="test image index", elem_id="lesson-index")
            self.seed = gr.Number(0, precision=0, label="seed", elem_id="lesson-seed")
            self.choice = gr.Dropdown([], label="", visible=False, elem_id="lesson-choice")
        self.measure = gr.Markdown(elem_id="lesson-measure")
        self.chart = gr.Plot(visible=False, show_label=False, elem_id="lesson-chart")
        self.question = gr.Markdown(elem_id="lesson-question")
        with gr.Row():
            self.back = gr.Button("Back", elem_id="lesson-back")
            self.next = gr.Button("Next", variant="primary", elem_id="lesson-next")

    def show(self, vae: str, vq: str, st: LessonSession, index, seed, choice, moved: bool) -> dict:
        """Step st.step of lesson st.lesson measured with this image, seed and choice; `moved` (a new step): the
        choice goes back to the step's first value."""
        n, m = st.lesson, st.step
        s = lesson_step(n, m)
        choice = s.choices[0] if (moved or choice in (None, "")) and s.choices else choice
        st = replace(st, loaded=True, index=int(index or 0), seed=int(seed or 0))
        head, text, question = step_text(n, m)
        out = {self.state: st, self.head: head, self.text: text, self.question: question,
               self.lesson: LESSON_NAMES[n - 1],
               self.index: gr.update(visible="index" in s.controls, value=st.index),
               self.seed: gr.update(visible="seed" in s.controls, value=st.seed),
               self.back: gr.update(interactive=m > 1),
               self.next: gr.update(interactive=m < len(LESSONS[n - 1].steps))}
        if moved:
            out[self.choice] = gr.update(choices=[str(c) for c in s.choices], value=str(choice) if s.choices else None,
                                         label=s.choice_label, visible=bool(s.choices))
        if not (vae if LESSONS[n - 1].kind == "vae" else vq):  # the page has no such model: say so, not an error
            out[self.measure] = f"Train a {LESSONS[n - 1].kind.upper()} (see README) to measure this step."
            out[self.chart] = gr.update(visible=False)
            return out
        try:
            result = self.ex.lessons.measure(n, m, vae, vq, st.index, st.seed, choice)
        except MissingCapability as e:  # a model without what this step measures: one line, not an error
            out[self.measure] = f"{e}."
            out[self.chart] = gr.update(visible=False)
            return out
        out[self.measure] = measurement(s.measure, result)
        figure = chart(s.measure, result)
        out[self.chart] = gr.update(value=None if figure is None else go.Figure(figure), visible=figure is not None)
        return out

    def open(self, vae: str, vq: str, st: LessonSession, request: gr.Request = None) -> dict:
        """The step the URL asks for (restore_state dropped what does not fit, with a warning), else where this tab
        was."""
        if not st.loaded and request is not None:
            want = self.ex.restore_state(dict(request.query_params)).state
            if want.tab == "lessons":
                st = LessonSession(False, want.lesson or 1, want.step or 1, want.index or 0, want.seed)
        return self.show(vae, vq, st, st.index, st.seed, None, True)

    def go(self, vae, vq, st: LessonSession, index, seed, delta: int) -> dict:
        steps = len(LESSONS[st.lesson - 1].steps)
        return self.show(vae, vq, replace(st, step=min(max(st.step + delta, 1), steps)), index, seed, None, True)

    def pick(self, vae, vq, st: LessonSession, lesson: int) -> dict:
        return self.show(vae, vq, replace(st, lesson=int(lesson) + 1, step=1), st.index, st.seed, None, True)

    def wire(self, page: Page, tab: gr.Tab):
        outputs = [self.state, self.head, self.text, self.question, self.lesson, self.index, self.seed, self.back,
                   self.next, self.choice, self.measure, self.chart]
        base = [page.vae, page.vq, self.state]
        page.on_open([page.vae, page.vq], self.open, base, outputs, self.measure, "lessons")
        kw = {"api_visibility": "private", "trigger_mode": "always_last", "show_progress_on": self.measure}
        self.next.click(handled(lambda *a: self.go(*a, 1)), [*base, self.index, self.seed], outputs, **kw)
        self.back.click(handled(lambda *a: self.go(*a, -1)), [*base, self.index, self.seed], outputs, **kw)
        self.lesson.input(handled(self.pick), [*base, self.lesson], outputs, **kw)
        again = handled(lambda *a: self.show(*a, False))
        for event in (self.index.submit, self.seed.submit, self.choice.input):
            event(again, [*base, self.index, self.seed, self.choice], outputs, **kw)
