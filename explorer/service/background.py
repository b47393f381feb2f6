"""Work that no visitor waits on (UMAP's maps, a page decoder's preparation) runs at a lower CPU priority than the
requests, so that on a busy machine a click is answered first and the background work takes what is left. On Linux
a thread has its own nice value; elsewhere this does nothing."""
import os
import threading

BACKGROUND_NICE = 10  # added to a background thread's nice value (0 normal, 19 the lowest)


def lower_priority() -> None:
    """Lower the calling thread's CPU priority, for good (an unprivileged thread cannot raise it again): call it
    first in a thread that only ever runs background work."""
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + BACKGROUND_NICE))
    except (AttributeError, OSError):  # no per-thread priority here, or not allowed: the requests' priority
        pass
