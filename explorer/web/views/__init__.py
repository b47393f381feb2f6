"""The app's views, one module each: it builds its own components and wires its own events. page.py lays them out in
tabs and shares the model pickers (and the map's session, which the codes view reads) through a `Page`.

Every handler is wrapped by `handled`: a UserError (bad input) becomes a message in the page; anything else is a bug
and keeps its traceback. Live handlers (`Page.live`) that find their session expired show the page's notice, with a
link that reloads the page, instead.
"""
import functools
from dataclasses import dataclass

import gradio as gr

from explorer.errors import SessionExpired, UserError
from explorer.figures.pictures import data_uri, show
from explorer.service.explorer import Explorer
from explorer.web.files import png_file

# live edits (clicks, sliders, code edits) answer in milliseconds: one HTTP request each (no queue), and no loading
# overlay on their outputs, whose show-and-hide costs the browser more layout work than the decode itself
LIVE = {"api_visibility": "private", "show_progress": "hidden", "queue": False}


FIGURES = 32  # figure JSON kept per view (each up to ~0.5 MB for 10,000 test images), least recently used dropped


@dataclass
class Page:
    """What the views share: the Blocks, the model pickers and every view, built (components and session state)
    before any view is wired, so the order of wiring does not matter."""

    demo: gr.Blocks
    vae: gr.Dropdown  # the VAE checkpoint to show (its name)
    vq: gr.Dropdown  # the VQ-VAE checkpoint to show
    notice: gr.HTML  # a banner at the top of the page, for what must not be missed (an expired session)
    tabs: gr.Tabs  # the views' tabs, each with the id of its view's `key` (to switch tabs from a handler)
    views: dict  # every view by its key ("map", "maths", "codes", ...)

    @property
    def latent(self) -> gr.State:
        """The map view's LatentSession: the selection the other views follow."""
        return self.views["map"].state

    @property
    def codes(self):
        """The codes view (the generate view opens sampled grids in it)."""
        return self.views["codes"]

    @property
    def maths(self):
        return self.views["maths"]

    def live(self, event, fn, inputs, outputs, **kwargs):
        """A live edit: fn on `event`, outside the queue; an expired session shows the notice. Returns Gradio's
        dependency (for `.then`)."""
        return event(expiring(fn, self.notice), inputs, set(outputs) | {self.notice}, **LIVE, **kwargs)

    def on_edit(self, events: list, fn, inputs, outputs, **kwargs):
        """fn on each of `events` (a control's change), queued, errors as messages: the slower views' edits."""
        for event in events:
            event(handled(fn), inputs, outputs, api_visibility="private", **kwargs)

    def on_open(self, pickers: list, fn, inputs, outputs, progress_on, name: str):
        """Run fn when the page opens and when one of `pickers` changes, with one progress indicator (on
        `progress_on`); each view loads in its own event, so the others stay usable meanwhile."""
        for trigger in (self.demo.load, *(p.change for p in pickers)):
            trigger(handled(fn), inputs, outputs, show_progress_on=progress_on, concurrency_id=f"open-{name}",
                    concurrency_limit=2, api_visibility="private")


def reporter(progress):
    """A progress(fraction, what) callback for the service, shown by Gradio's progress indicator."""
    return lambda fraction, what: progress(fraction, desc=what)


def test_image_uri(ex: Explorer, name: str, index) -> str:
    """Test image `index` of checkpoint `name` at its own size, as a data URI (a map point's hover thumbnail)."""
    return data_uri(show(ex.store.image(str(name), index)[0], side=0))


def new_map_selection(latent, followed):
    """The map's selection (index, latent) when it is loaded and differs from `followed` (what a view showed
    last), else None: a view that follows the map shows it when its tab opens."""
    if not latent.loaded:
        return None
    selection = (latent.index, latent.latent)
    return None if selection == followed else selection


def handled(fn):
    """Turn a UserError into a message in the page (gr.Error) instead of a crash."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except SessionExpired as e:
            raise gr.Error(str(e), duration=None, title="Session expired", print_exception=False) from e
        except UserError as e:
            raise gr.Error(str(e), print_exception=False) from e
    return wrapper


def expiring(fn, notice: gr.HTML):
    """handled(fn), but a SessionExpired fills `notice` (its message holds a reload link) instead of raising."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except SessionExpired as e:
            return {notice: str(e)}
        except UserError as e:
            raise gr.Error(str(e), print_exception=False) from e
    return wrapper


def image_file(image, component: gr.components.Component) -> str | None:
    """An image for a gr.Image output, as a file written once (files.png_file), never rewritten in place."""
    return None if image is None else png_file(image, component.GRADIO_CACHE)
