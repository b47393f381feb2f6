"""Output files are served whole under concurrent use: identical requests at the same moment, and requests racing
the cache sweeper, never change or remove a file that a response has handed out (the truncated-response bug:
`Too little data for declared Content-Length`). Runs the app's /decode_latent endpoint in-process, as Gradio does
(preprocess, the function, postprocess into the cache), from several threads at once."""
import asyncio
import threading
import time

import pytest
from gradio.state_holder import SessionState

from explorer.web.cache_sweeper import sweep

THREADS, CALLS = 8, 40
AGE = 2.0  # the sweeper's age in this test: files younger than this must stay


@pytest.fixture(scope="module")
def demo(app_checkpoints, tmp_path_factory):
    from explorer.service.explorer import Explorer
    from explorer.web.page import build

    with pytest.MonkeyPatch.context() as m:  # the components cache their outputs here, not in the shared /tmp/gradio
        m.setenv("GRADIO_TEMP_DIR", str(tmp_path_factory.mktemp("gradio-cache")))
        return build(Explorer([app_checkpoints], log=lambda *a: None))


def endpoint(demo, api_name: str):
    return next(f for f in demo.fns.values() if f.api_name == api_name)


def call(demo, fn, inputs, state=None) -> str:
    """The path of the file one call hands out (`state`: the caller's session, as a browser tab keeps one)."""
    out = asyncio.run(demo.process_api(fn, inputs, state=state))
    return out["data"][0]["path"]


@pytest.mark.slow
def test_identical_concurrent_requests_and_the_sweeper_never_touch_a_served_file(demo, app_models):
    fn = endpoint(demo, "decode_latent")
    inputs = [app_models.vae, [0.25] * app_models.latent_dim]  # the same latent from every thread
    first = call(demo, fn, inputs)
    with open(first, "rb") as f:
        expected = f.read()
    assert expected.startswith(b"\x89PNG")
    handed: list[tuple[float, str]] = []  # (wall time its call began, path): the file is younger than that
    problems: list[str] = []
    done = threading.Event()

    def client():
        session = SessionState(demo)  # one per client, as each tab has one (building it per call costs more than it)
        for _ in range(CALLS):
            began = time.time()  # the sweeper ages files by ctime; on a loaded machine a call may take seconds
            handed.append((began, call(demo, fn, inputs, session)))

    def reader():  # what a response streaming a handed-out file sees
        while not done.is_set():
            for t, path in handed[-THREADS:]:
                if time.time() - t > AGE / 2:  # old enough that the sweeper may take it
                    continue
                try:
                    with open(path, "rb") as f:
                        body = f.read()
                except FileNotFoundError:
                    problems.append(f"{path} removed at most {time.time() - t:.2f} s after it was written")
                    continue
                if body != expected:
                    problems.append(f"{path} read {len(body)} bytes, expected the {len(expected)} handed out")

    def sweeper():
        while not done.is_set():
            sweep(demo, AGE)
            time.sleep(0.01)  # sweep often, but leave the clients the interpreter

    clients = [threading.Thread(target=client) for _ in range(THREADS)]
    others = [threading.Thread(target=reader), threading.Thread(target=sweeper)]
    for t in others + clients:
        t.start()
    for t in clients:
        t.join()
    done.set()
    for t in others:
        t.join()
    assert len(handed) == THREADS * CALLS
    assert problems == [], f"{len(problems)} bad reads, e.g. {problems[:3]}"
