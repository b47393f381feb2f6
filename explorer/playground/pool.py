"""The playground's runs, one per browser tab (keyed by the tab's session, which the server knows: no user can name
another's run), at most `max_running` training at once; the others wait in line, first come first served, with
their place shown. A run trains in bounded slices (`slice_s` of compute per update) in a worker process of lower
CPU priority (workers.py), so other users' clicks stay fast; it is dropped when its tab closes, when no
update has come for `idle_s`, or after `time_limit_s`, and leaves nothing behind (it lives in memory only).
In slow motion (settings.steps_per_scene > 0) an update trains exactly that many steps (within SLOW_BUDGET_S), so
each scene shows the last of them as arrows (run.py).
"""
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from explorer.errors import PlaygroundError
from explorer.playground.settings import PlaygroundSettings
from explorer.playground.workers import LocalRuns, WorkerRuns

VARIANCE_EVERY = 10  # updates between measurements of the gradient variance (VAE)
SLOW_BUDGET_S = 1.0  # slow motion: the most compute one update's steps may take


@dataclass
class Entry:
    settings: PlaygroundSettings  # the run's settings at its last update
    started: float  # when the run was made (its time limit counts from here)
    seen: float  # the last update its tab asked for
    playing: bool = False  # wants to train (running, or waiting for a slot)
    updates: int = 0
    steps: int = 0  # Adam steps at the last update
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
                 idle_s: float = 60.0, clock=time.monotonic, runs: LocalRuns | WorkerRuns | None = None,
                 save_dir: str | Path | None = None):
        """`runs`: where the runs live (default: max_running worker processes, one per training slot); `save_dir`:
        where saved runs go (default: a new temporary folder, made at the first save)."""
        self.save_dir = Path(save_dir) if save_dir is not None else None
        if max_running < 1:
            raise ValueError("max_running must be at least 1")
        self.runs = runs if runs is not None else WorkerRuns(max_running)
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
        """Forget the session (under self.lock); its run goes from where it lives."""
        if self.entries.pop(session, None) is not None:
            self.runs.drop(session)
        self._drop_slot(session)
        self._fill_slots()

    def place(self, session: str) -> int:
        """Place in line (1: next to get a slot); 0 when running or not waiting."""
        with self.lock:
            return self.waiting.index(session) + 1 if session in self.waiting else 0

    # --- a tab's actions ----------------------------------------------------------------------------------------
    def _entry(self, session: str, settings: PlaygroundSettings) -> Entry:
        """The session's entry for a run with `settings`: a fresh one (its time limit counting anew) when there is
        none or the shape changed; the run itself follows at its next update."""
        if not session:
            raise PlaygroundError("the playground needs a browser session: reload the page")
        now = self.clock()
        with self.lock:
            self._expire()
            e = self.entries.get(session)
            if e is None or e.settings.shape() != settings.shape():
                e = self.entries[session] = Entry(settings, now, now, playing=e.playing if e else False)
            e.settings, e.seen = settings, now
        return e

    def play(self, session: str, settings: PlaygroundSettings) -> Update:
        e = self._entry(session, settings)
        with self.lock:
            e.playing = True
            if session not in self.running and session not in self.waiting:
                self.waiting.append(session)
            self._fill_slots()
        return self.tick(session)

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
        return self._update(session, self._entry(session, settings), "one step", train_s=0.0, max_steps=1)

    def reset(self, session: str, settings: PlaygroundSettings) -> Update:
        """A fresh model with these settings, paused."""
        self.close(session)
        return self._update(session, self._entry(session, settings), "reset")

    def save(self, session: str, name: str) -> Path:
        """Write the session's run as the vae_core checkpoint <save_dir>/<name>; its folder. Nothing of another
        run, and no existing checkpoint, is touched: `name` must be new."""
        if Path(name).name != name or name.startswith("."):
            raise PlaygroundError(f"a checkpoint needs a plain folder name, got {name!r}")
        with self.lock:
            e = self.entries.get(session)
            if self.save_dir is None:
                self.save_dir = Path(tempfile.mkdtemp(prefix="vae-explorer-playground-"))
        if e is None:
            raise PlaygroundError("there is no run to save: press play or one step first")
        folder = self.save_dir / name
        if folder.exists():
            raise PlaygroundError(f"a checkpoint named {name!r} was saved already: save again for a new name")
        with e.lock:
            self.runs.save(session, str(folder))
        return folder

    def close(self, session: str) -> None:
        """The tab closed: drop its run and its place."""
        with self.lock:
            self._remove(session)

    def apply(self, session: str, settings: PlaygroundSettings) -> Update:
        """New settings for the session's run (a control changed): at its next step, or a new run when the shape
        changed; it keeps playing or staying paused."""
        e = self._entry(session, settings)
        return self._update(session, e, self._status(session), playing=e.playing)

    def _status(self, session: str) -> str:
        """training, waiting (with the place in line) or paused."""
        with self.lock:
            if session in self.running:
                return "training"
            if session in self.waiting:
                return (f"waiting: place {self.waiting.index(session) + 1} in line for one of the "
                        f"{self.max_running} training slots; it starts by itself")
        return "paused"

    def tick(self, session: str) -> Update:
        """One update of a tab, with the settings its run has: a slice of training when it holds a slot, then what
        to draw."""
        with self.lock:
            e = self.entries.get(session)
        if e is None:
            return Update(None, "paused: press play")
        now = self.clock()
        e.seen = now
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
            e.updates += 1
            slow = e.settings.steps_per_scene or None
            update = self._update(session, e, "training", playing=True,
                                  train_s=SLOW_BUDGET_S if slow else self.slice_s, max_steps=slow,
                                  variance=e.updates % VARIANCE_EVERY == 1, while_playing=True)
            if update.snapshot is not None and update.snapshot["note"]:
                with self.lock:
                    e.playing = False
                    self._drop_slot(session)
                    self._fill_slots()
                return Update(update.snapshot, f"paused: {update.snapshot['note']}")
            return update
        if place:
            return self._update(session, e, self._status(session), playing=True, waiting=place)
        return self._update(session, e, "paused")

    def _update(self, session: str, e: Entry, status: str, playing: bool = False, waiting: int = 0,
                train_s: float | None = None, max_steps: int | None = None, variance: bool = False,
                while_playing: bool = False) -> Update:
        """The run's snapshot (after train_s seconds of training, when given) in an Update with this status;
        `while_playing`: no training, and paused, when the run was paused while this call waited for it."""
        with e.lock:
            if while_playing and not e.playing:
                train_s, status, playing = None, "paused", False
            frame = self.runs.update(session, e.settings, train_s, max_steps, variance)
        e.steps = frame.snapshot["steps"]
        return Update(frame.snapshot, status, playing, waiting)

    def settings_of(self, session: str) -> PlaygroundSettings | None:
        """The settings of the session's run, or None."""
        e = self.entries.get(session)
        return None if e is None else e.settings

    def steps_of(self, session: str) -> int | None:
        """Adam steps the session's run has taken (at its last update), or None when it has none."""
        e = self.entries.get(session)
        return None if e is None else e.steps

    def counts(self) -> tuple[int, int]:
        """(running, waiting)."""
        with self.lock:
            return len(self.running), len(self.waiting)
