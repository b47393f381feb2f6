"""The Playground: a small VAE or VQ-VAE training in the page, one run per browser tab, all of it here but its Gradio
view (web/views/playground.py) and its canvas (web/components/playground.*).

    settings.py        the controls as one frozen dataclass, each checked against its range
    data.py            what a run trains on: seeded 2-D toy sets and small image sets
    kinds.py           what differs between a VAE run and a VQ-VAE run: two classes with the same methods
    images.py          an image run's case: its Config, and what it draws at each epoch's end
    run.py             one run: its model, optimiser and data, trained in time slices (vae_core's step)
    manifold.py        the decoder over a grid of latents: the warped grid drawn in data space
    scenes.py          a run's snapshot as one compact scene for the canvas (image_scenes.py, scene_parts.py)
    url_state.py       the Playground's state in the page's URL: pg_<control> keys and pg_hide
    pool.py            the runs of all tabs: at most N train at once, the others wait in line
    workers.py         where the runs live: in this process, or in worker processes of low CPU priority
    worker_process.py  a worker process's main loop (python -m explorer.playground.worker_process)

No Gradio here (tests/test_layers.py): the view imports from this folder, never the other way.
"""
