"""A VAE's decoder in the visitor's page: its ONNX graph (explorer/models/onnx_parts.py, checked against PyTorch
as the static site's are), its images' latents and map positions, served to the page, which then decodes a map
click or a slider move itself with onnxruntime-web, as the static site does (explorer/site/page/decoding.js and
latent_maths.js): no request, no round trip, no server CPU, however many visitors click at once.

The latent image component (components/image.js) asks for it with its server function `page_decoder(name)`:

    {"pending": True}                          being prepared (in a background thread, one model at a time)
    {"off": why}                               never: the server decodes (too large for a page, no onnxruntime-web)
    {"base", "ort", "lib", "entry"}            ready: the URLs of its files, of onnxruntime-web, of the page modules;
                                               entry = {latent_dim, image_shape, n, version, max_difference}

Until it is ready, and for a model it is off for, the server decodes as before. `version` names the map positions
the page holds (coords_version); the map's figure carries the same in its layout's meta, and a click on a map with
other positions is decoded by the server. A model's map can change while it is shown (its linear map, then UMAP's:
store.py): an offer made on other positions than the store's map now is prepared again (in a folder of its own, so
the page never reads a stale file), and the page, seeing clicks on a map it does not hold, asks again.
"""
import hashlib
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import gradio as gr
import numpy as np
import torch

from explorer.models import onnx_parts
from explorer.service.background import lower_priority
from explorer.service.explorer import Explorer
from explorer.site import vendor
from explorer.site.model_files import CHECK_IMAGES, slug, weight_mb

PAGE_MODULES = Path(__file__).parents[1] / "site" / "page"  # decoding.js, latent_maths.js (shared with the site)
MAX_LATENTS_MB = 32  # a page holds every image's latent: above this, the server decodes


def coords_version(coords: np.ndarray) -> str:
    """A short name for a set of map positions: the page decodes clicks only on the map it holds."""
    return hashlib.sha1(np.ascontiguousarray(coords, np.float32).tobytes()).hexdigest()[:12]


def file_url(path: Path) -> str:
    return f"/gradio_api/file={path.resolve()}"


class PageDecoders:
    def __init__(self, ex: Explorer, root: str | Path | None = None):
        self.ex = ex
        self.root = Path(root or tempfile.mkdtemp(prefix="vae-explorer-page-"))
        self.offers: dict[str, dict] = {}
        self.lock = threading.Lock()
        self.worker = ThreadPoolExecutor(1, thread_name_prefix="page-decoder", initializer=lower_priority)
        gr.set_static_paths([str(PAGE_MODULES), str(self.root)])

    def offer(self, name: str) -> dict:
        """What the page can have of VAE `name`'s decoder now (module docstring); the first ask starts preparing it,
        and so does an ask after the model's map changed (an offer on other positions than the map shown now)."""
        with self.lock:
            got = self.offers.get(name)
            if got is None or self._stale(name, got):
                self.offers[name] = got = {"pending": True}
                self.worker.submit(self._prepare, name)
            return got

    def _stale(self, name: str, got: dict) -> bool:
        """Whether a ready offer holds other map positions than the store's map of `name` now."""
        if "entry" not in got:
            return False
        return got["entry"]["version"] != coords_version(self.ex.store.latent_view(name).proj.coords)

    def _prepare(self, name: str) -> None:
        try:
            result = self.write(name)
        except Exception as e:  # noqa: BLE001 (no onnxruntime-web, an export or a check that failed: the server decodes)
            result = {"off": f"{type(e).__name__}: {e}"}
        with self.lock:
            self.offers[name] = result

    @torch.no_grad()
    def write(self, name: str) -> dict:
        """Export and check VAE `name`'s decoder, write its latents and map positions; the offer."""
        model = self.ex.store.model(name, "vae", "decoding in the page")
        view = self.ex.store.latent_view(name)
        latents, coords = view.proj.latents, view.proj.coords
        if weight_mb(model) > onnx_parts.MAX_MB or latents.size * 4 / 1e6 > MAX_LATENTS_MB:
            return {"off": "too large for a page: the server decodes"}
        if self.ex.map.is_slow(name):  # in the page it would hold up the page's own thread
            return {"off": "a slow decoder: the server decodes it, off its event loop (with its preview, if any)"}
        dist = vendor.ort_web_dist()
        gr.set_static_paths([str(dist)])
        version = coords_version(coords)
        folder = self.root / slug(name) / version  # a folder per map: a page never fetches another map's files
        folder.mkdir(parents=True, exist_ok=True)
        images = torch.from_numpy(view.data.x_test[:CHECK_IMAGES]).float() / 255.0
        decoder = next(p for p in onnx_parts.parts(model, images) if p.name == "decoder")
        onnx_parts.export(decoder, folder / "decoder.onnx")
        diff = onnx_parts.check(decoder, folder / "decoder.onnx")
        (folder / "latents.bin").write_bytes(np.ascontiguousarray(latents, np.float32).tobytes())
        (folder / "coords.bin").write_bytes(np.ascontiguousarray(coords, np.float32).tobytes())
        entry = {"latent_dim": int(model.latent_dim), "image_shape": list(model.image_shape), "n": len(latents),
                 "version": version, "max_difference": diff}
        return {"base": file_url(folder) + "/", "ort": file_url(dist) + "/", "lib": file_url(PAGE_MODULES) + "/",
                "entry": entry}
