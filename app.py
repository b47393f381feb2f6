"""vae-explorer: explore the latent spaces of VAEs and VQ-VAEs in the browser.

    python app.py [--checkpoints DIR ...] [--images PATH] [--port 7860] [--share]
"""
import argparse
import os

import torch

from explorer.errors import ImageSetError
from explorer.service.explorer import Explorer
from explorer.web.cache_sweeper import start_sweeper
from explorer.web.components.plot import allow_plotly_js
from explorer.web.page import CSS, build

SESSIONS = int(os.environ.get("VAE_EXPLORER_SESSIONS", "1000"))  # see state_session_capacity below


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoints", nargs="+", default=["checkpoints"],
                   help="folders of checkpoint folders (or checkpoint folders) to offer")
    p.add_argument("--images", metavar="PATH",
                   help="images for every model's map, neighbours, selection, Compare and codes, converted to each "
                        "model's input: a folder of images (class sub-folders become labels), an .npz with x (and "
                        "optional y), a folder of IDX files, or a data set name (fashion-mnist, mnist, digits); "
                        "default: each checkpoint's own test split")
    p.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    p.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0"))
    p.add_argument("--share", action="store_true", help="make a public gradio.live link")
    args = p.parse_args(argv)
    # one decode is a few small layers: one thread each avoids the spin-waiting of many threads
    # fighting over few cores when several requests run at once
    torch.set_num_threads(int(os.environ.get("VAE_EXPLORER_THREADS", "1")))
    allow_plotly_js()
    try:
        ex = Explorer(args.checkpoints, images=args.images)
    except ImageSetError as e:
        p.error(str(e))  # the message and the usage, exit code 2
    demo = build(ex)
    # Gradio rebuilds a pandas summary of its last GRADIO_ANALYTICS_MAX_EVENTS (10000) events after every event, for a
    # monitoring dashboard this app does not enable: up to ~14 ms of CPU per call, about half of what a call costs
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "1000")
    os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "1000")
    demo.queue(default_concurrency_limit=4, max_size=512)
    # every 10 minutes, delete cached outputs and uploads older than 30 minutes ("EVERY,AGE" in seconds)
    start_sweeper(demo, *(float(s) for s in os.environ.get("VAE_EXPLORER_CACHE_SWEEP", "600,1800").split(",")))
    # Gradio keeps ~200 KB per session (browser tab or API client) until this many newer ones push it out
    # (default 10000: ~2 GB); a session that old has most likely been closed
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, max_file_size="20mb",
                show_error=True, css=CSS, state_session_capacity=SESSIONS)


if __name__ == "__main__":
    main()
