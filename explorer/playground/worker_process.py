"""A playground worker process: `python -m explorer.playground.worker_process FD NICE`, started by workers.Worker.
It lowers its own CPU priority (lower_priority: SCHED_IDLE, or NICE steps where that is missing), trains on one
thread, warms up (warm_up), and answers LocalRuns calls that come over the pipe on file descriptor FD, one at a time:
(name, args) -> (True, value) or (False, message). It ends when the pipe closes (the server stopped or let it go)."""
import os
import sys
import traceback
from multiprocessing.connection import Connection

import torch

from explorer.errors import PlaygroundError
from explorer.playground.settings import PlaygroundSettings
from explorer.playground.workers import LocalRuns

CALLS = ("update", "drop", "save")
WARM_UP = "warm-up"  # the session of the warm-up run: no browser session is named so


def answer(runs: LocalRuns, name: str, args: tuple) -> tuple[bool, object]:
    if name not in CALLS:
        return False, f"unknown playground call {name!r}"
    try:
        return True, getattr(runs, name)(*args)
    except PlaygroundError as e:
        return False, str(e)
    except Exception as e:  # a bug: its traceback goes to the server's log, the user gets one line
        traceback.print_exc()
        return False, f"the playground run failed ({type(e).__name__}: {e}); press reset to start again"


def lower_priority(nice: int) -> None:
    """Run only when the CPU would otherwise idle (Linux's SCHED_IDLE), or else `nice` steps below the server."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        os.nice(nice)


def warm_up(runs: LocalRuns) -> None:
    """One step of a default run, dropped: a process's first run costs seconds more than the next (torch.optim
    imports torch._dynamo), paid here before any tab asks."""
    runs.update(WARM_UP, PlaygroundSettings(), 0.0, 1)
    runs.drop(WARM_UP)


def serve(conn: Connection, nice: int) -> None:
    lower_priority(nice)
    torch.set_num_threads(1)
    runs = LocalRuns()
    warm_up(runs)  # calls that come meanwhile wait in the pipe
    while True:
        try:
            name, args = conn.recv()
        except (EOFError, OSError):
            return
        conn.send(answer(runs, name, args))


if __name__ == "__main__":
    serve(Connection(int(sys.argv[1])), int(sys.argv[2]))
