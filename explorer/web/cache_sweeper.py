"""Delete the app's old output and upload files from Gradio's cache, in place of `Blocks(delete_cache=...)`.

Gradio 6.31's scheduled deletion iterates each component's live set of cached paths while requests add to it: under
load the first collision raises `RuntimeError: Set changed size during iteration`, which ends the scheduled task
silently, and from then on nothing is deleted (files pile up on disk, their paths in memory). It also removes only
the files, never the one folder Gradio makes per file (named by the file's hash). This sweeper iterates snapshots of
the sets and removes the emptied folders too; what it deletes is otherwise what `delete_cache` would delete.
It also deletes the empty `tmp*` file that gr.File(type="filepath") leaves in the cache on every call (an unused
NamedTemporaryFile(delete=False) in its preprocess): one per /reconstruct call or upload in the Compare tab.
"""
import os
import threading
import time
from pathlib import Path

import gradio as gr

SWEEP = (600, 1800)  # every 10 minutes, delete the app's cached files older than 30 minutes


def sweep(demo: gr.Blocks, age: float) -> int:
    """Delete the files `demo` cached (outputs and uploads) whose ctime is over `age` seconds ago; return how many."""
    keep = set()
    for block in list(demo.blocks.values()):
        keep.update(getattr(block, "keep_in_cache", ()))  # default values and examples stay
    deleted, now, root = 0, time.time(), Path(demo.GRADIO_CACHE)
    for paths in list(demo.temp_file_sets):
        gone = set()
        for path in list(paths):  # a snapshot: request handlers add to the set meanwhile
            if path in keep:
                continue
            try:
                if now - os.lstat(path).st_ctime <= age:
                    continue
                os.remove(path)
                deleted += 1
            except FileNotFoundError:
                pass
            except OSError:
                continue
            gone.add(path)
            if Path(path).parent != root:
                try:
                    os.rmdir(Path(path).parent)  # Gradio's per-file folder, if now empty
                except OSError:
                    pass
        paths.difference_update(gone)
    for e in list(os.scandir(root)) if root.is_dir() else []:  # gr.File's stray empty temp files
        try:
            if (e.name.startswith("tmp") and e.is_file(follow_symlinks=False) and e.stat().st_size == 0
                    and now - e.stat().st_ctime > age):
                os.remove(e.path)
                deleted += 1
        except OSError:
            pass
    return deleted


def start_sweeper(demo: gr.Blocks, every: float = SWEEP[0], age: float = SWEEP[1]) -> threading.Event:
    """Sweep `demo`'s cache every `every` seconds in a daemon thread; set the returned event to stop it."""
    stop = threading.Event()

    def run():
        while not stop.wait(every):
            try:
                sweep(demo, age)
            except Exception as e:  # noqa: BLE001 - keep sweeping; one bad pass must not end the thread
                print(f"cache sweep failed: {type(e).__name__}: {e}", flush=True)

    threading.Thread(target=run, name="cache-sweeper", daemon=True).start()
    return stop
