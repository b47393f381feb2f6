"""Background work (service/background.py) runs at a lower CPU priority than the requests: UMAP's map jobs and the
page decoder's preparation each in a thread of their own whose nice value is raised, the caller's left alone."""
import os
import sys
import threading

import pytest

from explorer.service.background import BACKGROUND_NICE, lower_priority
from explorer.service.map_jobs import MapJobs
from explorer.web.page_decoder import PageDecoders

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a thread's own nice value is Linux's")


def nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def expected(base: int) -> int:
    return min(19, base + BACKGROUND_NICE)


def test_a_thread_lowers_its_own_priority_and_no_other():
    base, seen = nice(), []

    def work():
        lower_priority()
        seen.append(nice())
    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert seen == [expected(base)] and nice() == base


def test_umap_jobs_and_the_page_decoder_run_at_the_lower_priority(teach_ex):
    base, seen = nice(), []
    jobs = MapJobs(log=lambda *a: None)
    jobs.submit("m", lambda progress: seen.append(nice()))
    assert jobs.wait("m", 30)
    decoders = PageDecoders(teach_ex)
    seen.append(decoders.worker.submit(nice).result(30))
    assert seen == [expected(base)] * 2 and nice() == base
