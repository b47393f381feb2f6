"""The playground's runs, one per browser tab (keyed by the tab's session, which the server knows: no user can name
another's run), at most `max_running` training at once; the others wait in line, first come first served, with
their place shown. A run trains in bounded slices (`slice_s` of compute per update), so other users' clicks stay
fast; it is dropped when its tab closes, when no update has come for `idle_s`, or after `time_limit_s`, and leaves
nothing behind (it lives in memory only).
"""
import threading
import time
from dataclasses import dataclass, field

from explorer.compute.playground_run import PlaygroundRun
from explorer.compute.playground_settings import PlaygroundSettings
from explorer.errors import PlaygroundError

VARIANCE_EVERY = 10  # updates between measurements of the gradient variance (VAE)


@dataclass
class Entry:
    run: PlaygroundRun
    started: float  # when the run was made (its time limit counts from here)
    seen: float  # the last update its tab asked for
    playing: bool = False  # wants to train (running, or waiting for a slot)
    updates: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Update:
    """What one tick of a tab gets: the snapshot to draw (None: no run) and a line of status."""

    snapshot: dict | None
    status: str
    playing: bool = False  # running or waiting
    waiting: int = 0  # place in line (1: next), 0 when not waiting


class PlaygroundPool:
    def __init__(self, max_running: int = 2, time_limit_s: float = 600.0, slice_s: float = 0.04,
                 idle_s: float = 60.0, clock=time.monotonic):
        if max_running < 1:
            raise ValueError("max_running must be at least 1")
        self.max_running, self.time_limit_s, self.slice_s, self.idle_s = max_running, time_limit_s, slice_s, idle_s
        self.clock = clock
        self.entries: dict[str, Entry] = {}
        self.running: list[str] = []  # sessions training now (holding a slot)
        self.waiting: list[str] = []  # in line for a slot, first first
        self.lock = threading.Lock()

    # --- the line ---------------------------------------------------------------------------------------------
    def _drop_slot(self, session: str) -> None:
        for line in (self.running, self.waiting):
            if session in line:
                line.remove(session)

    def _fill_slots(self) -> None:
        while self.waiting and len(self.running) < self.max_running:
            self.running.append(self.waiting.pop(0))

    def _expire(self) -> None:
        now = self.clock()
        for session, e in list(self.entries.items()):
            if now - e.seen > self.idle_s:
                self._remove(session)

    def _remove(self, session: str) -> None:
        self.entries.pop(session, None)
        self._drop_slot(session)
        self._fill_slots()

    def place(self, session: str) -> int:
        """Place in line (1: next to get a slot); 0 when running or not waiting."""
        with self.lock:
            return self.waiting.index(session) + 1 if session in self.waiting else 0

    # --- a tab's actions ----------------------------------------------------------------------------------------
    def _entry(self, session: str, settings: PlaygroundSettings) -> Entry:
        """The session's run with `settings` applied: a fresh one when there is none or the shape changed."""
        if not session:
            raise PlaygroundError("the playground needs a browser session: reload the page")
        now = self.clock()
        with self.lock:
            self._expire()
            e = self.entries.get(session)
        if e is None or e.run.settings.shape() != settings.shape():
            fresh = Entry(PlaygroundRun(settings), now, now, playing=e.playing if e else False)
            with self.lock:
                self.entries[session] = e = fresh
        else:
            with e.lock:
                e.run.apply(settings)
        e.seen = now
        return e

    def play(self, session: str, settings: PlaygroundSettings) -> Update:
        e = self._entry(session, settings)
        with self.lock:
            e.playing = True
            if session not in self.running and session not in self.waiting:
                self.waiting.append(session)
            self._fill_slots()
        return self.tick(session, settings)

    def pause(self, session: str, settings: PlaygroundSettings) -> Update:
        e = self._entry(session, settings)
        with self.lock:
            e.playing = False
            self._drop_slot(session)
            self._fill_slots()
        return self._update(session, e, "paused")

    def step_once(self, session: str, settings: PlaygroundSettings) -> Update:
        """One Adam step, paused afterwards (no slot needed: one step is a few milliseconds)."""
        self.pause(session, settings)
        e = self._entry(session, settings)
        with e.lock:
            e.run.paused_note = ""
            e.run.train_for(0.0, max_steps=1)
        return self._update(session, e, "one step")

    def reset(self, session: str, settings: PlaygroundSettings) -> Update:
        """A fresh model with these settings, paused."""
        self.close(session)
        return self._update(session, self._entry(session, settings), "reset")

    def close(self, session: str) -> None:
        """The tab closed: drop its run and its place."""
        with self.lock:
            self._remove(session)

    def tick(self, session: str, settings: PlaygroundSettings) -> Update:
        """One update of a tab: a slice of training when it holds a slot, then what to draw."""
        e = self._entry(session, settings)
        now = self.clock()
        if e.playing and now - e.started > self.time_limit_s:
            self.close(session)
            minutes = self.time_limit_s / 60
            return Update(None, f"stopped: a playground run may train for {minutes:g} minutes; press reset to "
                                "start another")
        with self.lock:
            self._fill_slots()
            running, place = session in self.running, (self.waiting.index(session) + 1 if session in self.waiting
                                                        else 0)
        if running:
            with e.lock:
                e.run.train_for(self.slice_s)
                e.updates += 1
                if e.run.is_vae and e.updates % VARIANCE_EVERY == 1:
                    e.run.gradient_variance()
            if e.run.paused_note:
                with self.lock:
                    e.playing = False
                    self._drop_slot(session)
                    self._fill_slots()
                return self._update(session, e, f"paused: {e.run.paused_note}")
            return self._update(session, e, "training", playing=True)
        if place:
            return self._update(session, e, f"waiting: place {place} in line for one of the {self.max_running} "
                                            "training slots; it starts by itself", playing=True, waiting=place)
        return self._update(session, e, "paused")

    def _update(self, session: str, e: Entry, status: str, playing: bool = False, waiting: int = 0) -> Update:
        with e.lock:
            snap = e.run.snapshot()
        return Update(snap, status, playing, waiting)

    def snapshot_of(self, session: str) -> dict | None:
        e = self.entries.get(session)
        if e is None:
            return None
        with e.lock:
            return e.run.snapshot()

    def run_of(self, session: str) -> PlaygroundRun | None:
        """The session's own run (for saving it), or None."""
        e = self.entries.get(session)
        return None if e is None else e.run

    def counts(self) -> tuple[int, int]:
        """(running, waiting)."""
        with self.lock:
            return len(self.running), len(self.waiting)
