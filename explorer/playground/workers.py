"""Where the playground's runs live: `LocalRuns` holds them in this process; `WorkerRuns` in worker processes of
their own (worker_process.py), so their training never holds the server's interpreter lock and runs only when
the CPU would otherwise idle (Linux's SCHED_IDLE; elsewhere WORKER_NICE steps below the server): a user clicking on
the map is answered first.

Both answer the same calls, keyed by a browser tab's session:

    update(session, settings, train_s, max_steps, variance) -> Frame   the run with `settings` (a new one when there is
                                                                        none or its shape changed), trained for train_s
                                                                        seconds (None: not at all), and what to draw
    drop(session)                                                       forget the run
    save(session, folder)                                               write the run's model as a vae_core
                                                                        checkpoint (image runs)
"""
import subprocess
import sys
import threading
from dataclasses import dataclass
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from pathlib import Path

from explorer.errors import PlaygroundError
from explorer.playground.run import PlaygroundRun
from explorer.playground.settings import PlaygroundSettings
from vae_core.checkpoint import save_checkpoint

WORKER_NICE = 10  # where SCHED_IDLE is missing: the workers' CPU priority below the server's (0); 19 is the lowest


@dataclass
class Frame:
    """What one update of a run gives: its snapshot to draw (PlaygroundRun.snapshot; its "note" says why the run
    paused itself, "" when it did not)."""

    snapshot: dict


class LocalRuns:
    """The runs of some sessions, in this process (in a worker process, or in tests)."""

    def __init__(self):
        self.runs: dict[str, PlaygroundRun] = {}

    def run(self, session: str, settings: PlaygroundSettings) -> PlaygroundRun:
        """The session's run with `settings` applied: a new one when there is none or the shape changed."""
        run = self.runs.get(session)
        if run is None or run.settings.shape() != settings.shape():
            run = self.runs[session] = PlaygroundRun(settings)
        else:
            run.apply(settings)
        return run

    def update(self, session: str, settings: PlaygroundSettings, train_s: float | None = None,
               max_steps: int | None = None, variance: bool = False) -> Frame:
        run = self.run(session, settings)
        if train_s is not None:
            run.paused_note = ""
            run.train_for(train_s, max_steps)
            if variance and run.kind.draws_eps and run.images is None and not run.paused_note:  # on 2-D data: cheap
                run.gradient_variance()
        return Frame(run.snapshot())

    def drop(self, session: str) -> None:
        self.runs.pop(session, None)

    def save(self, session: str, folder: str) -> None:
        """Write the session's run as a vae_core checkpoint in `folder` (the journalled save; image runs only)."""
        run = self.runs.get(session)
        if run is None:
            raise PlaygroundError("there is no run to save: press play or one step first")
        model, cfg = run.to_checkpoint()
        save_checkpoint(folder, model, cfg, epoch=cfg.epochs)


class Worker:
    """One worker process (`python -m explorer.playground.worker_process FD NICE`) and the pipe to it; started on first
    use. Calls are answered one at a time, in the order they come."""

    def __init__(self, nice: int = WORKER_NICE):
        self.nice, self.proc, self.conn = nice, None, None
        self.lock = threading.Lock()

    def _start(self) -> None:
        ours, theirs = Pipe()
        self.proc = subprocess.Popen([sys.executable, "-m", "explorer.playground.worker_process",
                                      str(theirs.fileno()), str(self.nice)], pass_fds=[theirs.fileno()],
                                     cwd=Path(__file__).resolve().parents[2])
        theirs.close()
        self.conn: Connection = ours

    @property
    def started(self) -> bool:
        return self.proc is not None

    def start(self) -> None:
        """Start the process now, without waiting for it: it imports and warms up (worker_process.warm_up) while
        no one waits, so the first call finds it ready. Nothing to do when it runs or a call is starting it."""
        if self.lock.acquire(blocking=False):
            try:
                if self.proc is None:
                    self._start()
            finally:
                self.lock.release()

    def call(self, name: str, *args):
        """The worker's answer to LocalRuns.name(*args); its PlaygroundError is raised here, and a worker that died
        is started afresh at the next call (its runs are lost, which the error says)."""
        with self.lock:
            try:
                if self.proc is not None and self.proc.poll() is not None:
                    raise EOFError(f"exit code {self.proc.returncode}")
                if self.proc is None:
                    self._start()
                self.conn.send((name, args))
                ok, value = self.conn.recv()
            except (EOFError, OSError) as e:
                self.stop()
                raise PlaygroundError(f"the playground's worker process stopped ({type(e).__name__}: {e}), and the "
                                      "runs it held are gone: press reset to start again") from None
        if not ok:
            raise PlaygroundError(value)
        return value

    def stop(self) -> None:
        if self.conn is not None:
            self.conn.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = self.conn = None


class WorkerRuns:
    """The runs in `workers` worker processes; each session's run stays in the worker it was first given (the one
    holding the fewest runs then, a started one first). One worker is kept ready: the first starts with this object
    (in the background: nothing waits for it), and the next when every started one holds a run, so a tab's first
    step does not wait for a process to start (seconds: torch's imports)."""

    def __init__(self, workers: int = 2, nice: int = WORKER_NICE):
        self.workers = [Worker(nice) for _ in range(max(1, workers))]
        self.home: dict[str, Worker] = {}
        self.lock = threading.Lock()
        self.workers[0].start()

    def _worker(self, session: str) -> Worker:
        with self.lock:
            if session not in self.home:
                load = {id(w): 0 for w in self.workers}
                for w in self.home.values():
                    load[id(w)] += 1
                self.home[session] = min(self.workers, key=lambda w: (load[id(w)], not w.started))
                self._keep_one_ready()
            return self.home[session]

    def _keep_one_ready(self) -> None:
        """Start the next worker when every started one holds a run (under self.lock)."""
        busy = {id(w) for w in self.home.values()}
        if all(id(w) in busy for w in self.workers if w.started):
            spare = next((w for w in self.workers if not w.started and id(w) not in busy), None)
            if spare is not None:
                spare.start()

    def update(self, session, settings, train_s=None, max_steps=None, variance=False) -> Frame:
        return self._worker(session).call("update", session, settings, train_s, max_steps, variance)

    def drop(self, session: str) -> None:
        with self.lock:
            worker = self.home.pop(session, None)
        if worker is not None and worker.proc is not None:
            worker.call("drop", session)

    def save(self, session: str, folder: str) -> None:
        self._worker(session).call("save", session, folder)

    def stop(self) -> None:
        for w in self.workers:
            w.stop()

