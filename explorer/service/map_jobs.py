"""UMAP maps computed in the background, one at a time, while the app shows each VAE's linear (PCA) map.

The store submits a job per model; one worker thread (a daemon: an app stopped mid-fit leaves no file half written,
since caches are written whole or not at all) runs them in the order asked. Every session reads a job's state for
the map's note, e.g. "linear (PCA) map: UMAP is being computed, about 40 s left". The time left is read from the
fraction f of the fit done so far, once past the start (UMAP's import and compilation, which tell no fraction):
    t_left = elapsed * (1 - f) / f
"""
import queue
import threading
import time
from dataclasses import dataclass, field

from explorer.service.background import lower_priority
from explorer.service.encoding import time_left
from explorer.service.projection import ENCODING

KNOWN_FROM = 0.55  # the fraction of the fit past which the time left is estimated (see projection.umap_2d)


@dataclass
class Job:
    state: str = "queued"  # "queued", "running", "done" or "failed"
    fraction: float = 0.0  # of the fit, 0..1
    began: float | None = None  # perf_counter() when it started
    error: str = ""
    finished: threading.Event = field(default_factory=threading.Event)

    def note(self) -> str:
        if self.state == "queued":
            return "linear (PCA) map: UMAP is queued behind another model's"
        if self.state == "failed":
            return f"linear (PCA) map: UMAP failed ({self.error}); this map stays linear"
        if self.state == "done":
            return ""
        elapsed = time.perf_counter() - self.began
        if self.fraction < KNOWN_FROM:
            return f"linear (PCA) map: UMAP is being computed (started {elapsed:.0f} s ago)"
        return f"linear (PCA) map: UMAP is being computed, {time_left(elapsed * (1 - self.fraction) / self.fraction)}"


class MapJobs:
    def __init__(self, log=print):
        self.log = log
        self._jobs: dict[str, Job] = {}
        self._queue: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None

    def submit(self, name: str, work) -> Job:
        """Run work(progress) for model `name` once (again only after a failure), after the jobs asked before;
        progress(fraction, what) hears UMAP's progress as projection.umap_2d reports it (ENCODING..1)."""
        with self._lock:
            job = self._jobs.get(name)
            if job is not None and job.state != "failed":
                return job
            job = self._jobs[name] = Job()
            self._queue.put((name, job, work))
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name="umap-maps", daemon=True)
                self._worker.start()
            return job

    def _run(self) -> None:
        lower_priority()  # a click is answered before the next UMAP epoch
        while True:
            name, job, work = self._queue.get()
            job.state, job.began = "running", time.perf_counter()

            def progress(fraction: float, what: str, job=job) -> None:
                job.fraction = min(1.0, max(0.0, (fraction - ENCODING) / (1 - ENCODING)))
            try:
                work(progress)
                job.state = "done"
            except Exception as e:  # noqa: BLE001 - whatever UMAP raises, the app keeps its linear map and serves
                job.state, job.error = "failed", f"{type(e).__name__}: {e}"
                self.log(f"UMAP of {name} failed ({job.error}); its map stays the linear one")
            finally:
                job.finished.set()

    def note(self, name: str) -> str:
        """The map's note for model `name`: what is being computed and the time left ("" when nothing is)."""
        job = self._jobs.get(name)
        return job.note() if job else ""

    def pending(self, name: str) -> bool:
        """Whether model `name`'s job is queued or running."""
        job = self._jobs.get(name)
        return job is not None and job.state in ("queued", "running")

    def wait(self, name: str, timeout: float | None = None) -> bool:
        """Wait until model `name`'s job is over (done or failed); False when it is still running after timeout."""
        job = self._jobs.get(name)
        return job is None or job.finished.wait(timeout)
