"""One model's files in the static site, under models/<slug>/, and its entry in the site's manifest.

Each model's parts (explorer/models/onnx_parts.py) are checked against PyTorch as they are written.

A VAE (LatentModel):
    decoder.onnx, encoder.onnx   its parts (explorer/models/onnx_parts.py), each checked against PyTorch
    map.json                     the latent map, the figure the app draws (figures/maps.py)
    latents.bin                  mu(x) of every image, float32 (N, d), row by row
    coords.bin                   every image's map position, float32 (N, 2)
    labels.bin                   every image's class, int16 (N,) (-1: unlabelled)
    mixture.bin                  its fitted prior over z, if it has one: a Gaussian mixture of K components, float32:
                                 the weights w (K,), the means (K, d), the Cholesky factors L (K, d, d)
A VQ-VAE (CodeModel):
    decoder.onnx, encoder.onnx   code grid (B, h, w) int64 -> image; image -> code grid
    map.json                     the codebook map, by usage (figures/maps.py)
    grids.bin                    every image's code grid, uint16 (N, h, w)
    prior.onnx                   its prior over code grids, if it has one (a third part)
The images themselves are one atlas per image set (images.py), shared by the models that show the same images.
The manifest entry names these files and holds what the page needs besides: for a VAE its sliders (dimensions by
KL, or the principal directions of a latent too long for a slider each), for a VQ-VAE its grid size, K and code
usage; for both the label names, and each part's size and its measured difference from PyTorch.
"""
import json
import re
from pathlib import Path

import numpy as np
import torch

from explorer.compute.directions import SLIDER_SDS
from explorer.errors import SiteError
from explorer.figures import maps
from explorer.models import onnx_parts
from explorer.service.explorer import Explorer
from explorer.service.projection import MAP_METHODS

SLIDERS = 16  # sliders shown, as in the app: the most active dimensions by KL, or the top principal directions
SLIDER_LIMIT = 4.0  # a dimension's slider spans +-4 standard deviations of the prior N(0, I), as in the app
CHECK_IMAGES = 32  # images each ONNX part is checked on


def slug(name: str) -> str:
    """A folder name for model `name`."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "model"


def weight_mb(model) -> float:
    return sum(p.numel() * p.element_size() for p in model.parameters()) / 1e6


def checked_model(ex: Explorer, name: str, kind: str):
    """Model `name`, refused when it is too large for a page (before any of its images are read), unless it is a VAE
    with a preview decoder (explorer.preview), which the page then runs in its place."""
    model = ex.store.model(name, kind, "the static site")
    mb = weight_mb(model)
    if mb > onnx_parts.MAX_MB and getattr(model, "preview", None) is None:
        train = (f" or train a preview decoder for the page (python -m explorer.preview {name} --images ...)"
                 if kind == "vae" else "")
        raise SiteError(f"{name} has {mb:.0f} MB of weights: too large for a page that every visitor downloads "
                        f"(the limit is {onnx_parts.MAX_MB} MB). Host the app for it instead (python app.py){train}.")
    return model


def page_parts(model, images: torch.Tensor, latents: np.ndarray | None = None) -> list:
    """The parts the page runs: the model's own (onnx_parts.parts), or, for a VAE too large for a page, its preview
    decoder as the decoder (checked on `latents`, the map's own) and no encoder (the page then cannot encode an image
    of the visitor's)."""
    if weight_mb(model) <= onnx_parts.MAX_MB:
        return onnx_parts.parts(model, images)
    mu = torch.as_tensor(np.asarray(latents, np.float32))
    return [onnx_parts.one("decoder", "z", "image", model.preview.decode_location, mu, model.preview.parameters)]


def write_parts(model, name: str, x_test: np.ndarray, folder: Path, files: dict, log=print,
                latents: np.ndarray | None = None) -> dict:
    """Export and check the model's parts on its first CHECK_IMAGES images (and their `latents`, for a VAE);
    {part: its check}."""
    images = torch.from_numpy(x_test[:CHECK_IMAGES]).float() / 255.0  # (a prior's step: at the middle cell)
    checks = {}
    for part in page_parts(model, images, None if latents is None else latents[:CHECK_IMAGES]):
        path = folder / f"{part.name}.onnx"
        size = onnx_parts.export(part, path)
        diff = onnx_parts.check(part, path)
        files[part.name] = path.name
        measure = {"image": "image units", "mu": "latent units", "grid": "share of code cells",
                   "logits": "logit units"}[part.outputs[0]]
        checks[part.name] = {"max_difference": diff, "measure": measure, "images": len(images), "bytes": size}
        log(f"{name}: {part.name}.onnx {size / 1e6:.2f} MB, differs from PyTorch by at most {diff:.2g}")
    return checks


def vae_files(ex: Explorer, name: str, folder: Path, atlas: dict, log=print) -> dict:
    """Write VAE `name`'s files into `folder`; its manifest entry. `atlas`: the image set's entry (images.py)."""
    model = ex.store.cpu_model(name, "vae", "the static site")  # export_site checked its size
    folder.mkdir(parents=True, exist_ok=True)
    view = ex.store.latent_view(name)
    proj, data = view.proj, view.data
    method = MAP_METHODS[proj.method]
    figure = maps.latent_map(proj.coords, proj.labels, data.label_names,
                             f"{name}: {len(proj.coords)} test images, {method}; click a point or anywhere")
    files = {"map": "map.json", "latents": "latents.bin", "coords": "coords.bin", "labels": "labels.bin"}
    (folder / files["map"]).write_text(json.dumps(figure, separators=(",", ":")))
    (folder / files["latents"]).write_bytes(np.ascontiguousarray(proj.latents, np.float32).tobytes())
    (folder / files["coords"]).write_bytes(np.ascontiguousarray(proj.coords, np.float32).tobytes())
    (folder / files["labels"]).write_bytes(np.ascontiguousarray(proj.labels, np.int16).tobytes())
    checks = write_parts(model, name, data.x_test, folder, files, log, latents=proj.latents)
    mixture = None
    if model.fitted_prior is not None:  # z = m_k + L_k eps, k ~ Categorical(w), eps ~ N(0, I)
        gm = model.fitted_prior
        files["mixture"] = "mixture.bin"
        parts = [torch.softmax(gm.logits, 0), gm.means, gm.scale_tril]
        (folder / files["mixture"]).write_bytes(b"".join(t.detach().cpu().float().numpy().tobytes() for t in parts))
        mixture = {"components": len(gm.means)}
    return {"name": name, "kind": "vae", "folder": folder.name, "files": files, "checks": checks,
            "latent_dim": int(model.latent_dim), "image_shape": list(model.image_shape), "n": len(proj.latents),
            "label_names": list(data.label_names), "atlas": atlas, "sliders": sliders(ex, name),
            "fitted_prior": mixture, "description": model.description,
            "preview": None if "encoder" in files else model.preview.label}  # its preview decodes in the page


def vq_files(ex: Explorer, name: str, folder: Path, atlas: dict, log=print) -> dict:
    """Write VQ-VAE `name`'s files into `folder`; its manifest entry."""
    model = ex.store.cpu_model(name, "vqvae", "the static site")  # export_site checked its size
    if model.num_codes > 2**16:
        raise SiteError(f"{name} has {model.num_codes} codes: the page holds code grids as 16-bit numbers (at most "
                        "65,536 codes). Host the app for it instead (python app.py).")
    folder.mkdir(parents=True, exist_ok=True)
    cb, data = ex.codes.codebook(name), ex.store.data(name)
    files = {"map": "map.json", "grids": "grids.bin"}
    (folder / files["map"]).write_text(json.dumps(maps.codebook_map(cb.coords, cb.counts, cb.method),
                                                  separators=(",", ":")))
    (folder / files["grids"]).write_bytes(np.ascontiguousarray(cb.grids, np.uint16).tobytes())
    checks = write_parts(model, name, data.x_test, folder, files, log)
    usage = cb.usage()  # perplexity, codes_used (a share), dead_codes
    return {"name": name, "kind": "vqvae", "folder": folder.name, "files": files, "checks": checks,
            "grid_size": int(model.grid_size), "num_codes": int(model.num_codes),
            "image_shape": list(model.image_shape), "n": len(cb.grids), "label_names": list(data.label_names),
            "atlas": atlas, "usage": usage, "prior": None if model.prior is None else prior_shape(model.prior),
            "prior_problem": model.prior_problem, "description": model.description}


def prior_shape(prior) -> dict:
    """What the page needs to run a prior's sampling step: its start token and the shape of its keys (and values)
    for one grid, (layers, heads, N, C / heads)."""
    layers, _, _, heads, cells, per_head = prior.new_cache(1).shape  # (layers, keys and values, B, heads, N, hd)
    return {"bos": int(prior.bos), "cache": [layers, heads, cells, per_head]}


def sliders(ex: Explorer, name: str) -> dict:
    """Which sliders the page shows for VAE `name` and how each moves the latent (as the app's map view)."""
    dirs = ex.store.directions(name)
    if dirs is None:
        kl = ex.store.kl_per_dim(name)
        dims = [int(d) for d in np.argsort(-kl)[:SLIDERS]]
        return {"dims": dims, "labels": [f"z{d} (KL {kl[d]:.2f})" for d in dims], "limit": SLIDER_LIMIT}
    dims = list(range(min(SLIDERS, len(dirs.vectors))))
    return {"dims": dims, "labels": [dirs.label(d) for d in dims], "limit": SLIDER_LIMIT,
            "mean": np.round(dirs.mean, 5).tolist(), "vectors": [np.round(dirs.vectors[d], 5).tolist() for d in dims],
            "limits": [round(SLIDER_SDS * float(dirs.sd[d]), 2) for d in dims]}
