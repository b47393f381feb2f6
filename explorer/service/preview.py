"""Training a VAE's preview decoder (models/preview.py) on the latents its projection cached, and keeping it beside
the model: what `python -m explorer.preview` runs.
"""
from pathlib import Path

from explorer.compute.preview_fit import fit_preview
from explorer.errors import PreviewError
from explorer.models.preview import PreviewConfig, default_width, save, weights_hash
from explorer.service.store import Store

MINUTES = 10.0  # the default training budget


def train_preview(store: Store, name: str, minutes: float = MINUTES, log=print, images_flag: str = "",
                  max_steps: int | None = None, width: int | None = None) -> Path:
    """Fit VAE `name`'s preview decoder within `minutes` and write it into the model's folder; the path of its
    preview.json. `images_flag` (" --images PATH") is repeated in the command a refusal suggests; `width`: its
    channels (default: default_width of the model's images)."""
    model, found = store.model(name, "vae", "a preview decoder"), store.found(name)
    if found.folder is None or found.weights is None:
        raise PreviewError(f"{name} is a module given from Python: a preview decoder is kept in a model's folder")
    view = store.cached_latent_view(name)
    if view is None:
        raise PreviewError(f"{name} has no images mapped yet: run python app.py --checkpoints {found.folder.parent}"
                           f"{images_flag} and open it, or python -m explorer.precompute {found.folder}{images_flag} "
                           "first; the preview is trained on the latents its map cached")
    cfg = PreviewConfig(tuple(model.latent_shape), tuple(model.image_shape), width or default_width(model.image_shape),
                        model_weights=weights_hash(found.weights))
    net = fit_preview(model.decode_location, view.proj.latents, view.data.x_test, cfg, 60 * minutes, log,
                      max_steps=max_steps)
    return save(net, found.folder)
