"""vae-explorer: look inside generative autoencoders in the browser. `explorer.launch(...)` serves the app over
your own models and images from Python (explorer/web/launch.py); `python app.py` over model folders."""


def launch(*args, **kwargs):
    """Serve the app (see explorer.web.launch.launch); Gradio is imported only when this is called."""
    from explorer.web.launch import launch as serve_app

    return serve_app(*args, **kwargs)
