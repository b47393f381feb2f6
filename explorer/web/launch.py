"""Serve the app: from the command line (app.py) or from Python with a user's own models and images.

    import explorer
    explorer.launch(models={"mine": (my_vae, (1, 28, 28))}, images=x_test)   # x_test: (N, 1, 28, 28) uint8

A model is any module with encode(x) -> (mu, log_sigma) and decode(z) -> images in [0, 1] (continuous latents), or
encode_indices, decode_indices and codebook (discrete codes); see explorer/models/modules.py. Images are a path
(the five forms of --images, a .parquet among them) or an array, with labels `labels` (optional).
"""
import importlib
import os

import torch

from explorer.playground.pool import PlaygroundPool
from explorer.service.explorer import Explorer
from explorer.service.image_sets import ImageSet
from explorer.web.cache_sweeper import start_sweeper
from explorer.web.components.plot import allow_plotly_js
from explorer.web.page import CSS, build

SESSIONS = int(os.environ.get("VAE_EXPLORER_SESSIONS", "1000"))  # see state_session_capacity below


def serve(ex: Explorer, host: str = "127.0.0.1", port: int = 7860, share: bool = False, block: bool = True,
          playground: PlaygroundPool | None = None):
    """Build the page over `ex` and serve it; returns the Gradio Blocks (block=False: at once, serving goes on).
    With `playground`, the page has a Playground tab whose runs that pool holds."""
    # one decode is a few small layers: one thread each avoids the spin-waiting of many threads
    # fighting over few cores when several requests run at once
    torch.set_num_threads(int(os.environ.get("VAE_EXPLORER_THREADS", "1")))
    # narwhals.stable (used by scikit-learn, which reads the digits data set, and by Gradio) imports its v1 and v2
    # modules from each other: imported for the first time by two request threads at once, Python's import locks
    # deadlock (_DeadlockError) and the view that lost the race never opens. Imported here, once, before any request.
    importlib.import_module("narwhals.stable")
    allow_plotly_js()
    demo = build(ex, playground)
    # Gradio rebuilds a pandas summary of its last GRADIO_ANALYTICS_MAX_EVENTS (10000) events after every event, for a
    # monitoring dashboard this app does not enable: CPU on every call, for nothing (docs/benchmarks.md)
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "1000")
    os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "1000")
    demo.queue(default_concurrency_limit=4, max_size=512)
    # every 10 minutes, delete cached outputs and uploads older than 30 minutes ("EVERY,AGE" in seconds)
    start_sweeper(demo, *(float(s) for s in os.environ.get("VAE_EXPLORER_CACHE_SWEEP", "600,1800").split(",")))
    # Gradio keeps ~200 KB per session (browser tab or API client) until this many newer ones push it out
    # (default 10000: ~2 GB); a session that old has most likely been closed
    demo.launch(server_name=host, server_port=port, share=share, max_file_size="20mb", show_error=True, css=CSS,
                state_session_capacity=SESSIONS, prevent_thread_lock=not block)
    return demo


def launch(models: dict | None = None, images=None, labels=None, label_names: list[str] | None = None,
           checkpoints=(), host: str = "127.0.0.1", port: int = 7860, share: bool = False, block: bool = True,
           device: str = "auto"):
    """Serve the app over `models` ({name: (module, (C, H, W))}) and folders of `checkpoints`, showing `images`
    (a path, or an array (N, C, H, W) uint8 or floats in [0, 1], with optional integer `labels`); the models run on
    `device` (auto, cpu, cuda, cuda:N or mps; a module given is moved there)."""
    if images is not None and not isinstance(images, (str, os.PathLike)):
        images = ImageSet.from_arrays(images, labels, label_names)
    return serve(Explorer(list(checkpoints), images=images, models=models, background=True, device=device), host,
                 port, share, block)
