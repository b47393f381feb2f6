"""Everything the app's views and API endpoints ask of the models: one `Explorer`, a store and a service per tab
(no Gradio here).

    ex.store      the models by name (and the kind check), the images each shows, projections, posteriors
    ex.map        the Latent map tab          (latent_map.py)
    ex.maths      the Maths tab               (maths.py)
    ex.codes      the VQ-VAE codes tab        (codes.py)
    ex.generate   the Generate tab            (generate.py)
    ex.compare    the Compare and Interpolate tabs (compare.py)
    ex.lessons    the Lessons tab             (lessons.py)

One Explorer serves all browser sessions: it holds read-only things and bounded caches of what it computed; what a
person has selected lives in their session's state, never here. Each service method checks what the user sent,
then calls one function of explorer/compute/ with the model and the data: the maths lives there, not here.
"""
from pathlib import Path

from explorer.service.codes import CodesService
from explorer.service.compare import CompareService
from explorer.service.generate import GenerateService
from explorer.service.gpu import share
from explorer.service.latent_map import LatentMapService
from explorer.service.lessons import LessonsService
from explorer.service.maths import MathsService
from explorer.service.store import Store
from explorer.service.url_state import RestoredState, restore_state


class Explorer:
    def __init__(self, folders: list[str | Path], log=print, images=None, models: dict | None = None,
                 device: str = "auto", sample: int | None = None, background: bool = False, umap=None):
        """folders: where to find model folders; images: a path (--images) or an ImageSet shown by every model
        (else each shows its own test split); models: {name: (module, image_shape)} given from Python; device:
        where the models run: "auto" (CUDA, else MPS, else the CPU), "cpu", "cuda", "cuda:N" or "mps"
        (DeviceUnavailable at once when it is not here); sample, background, umap: see Store (a seeded random
        sample of the images; a linear map first and UMAP in the background, as the app does; the map function)."""
        self.store = Store(folders, log, images, models, device=device, sample=sample, background=background,
                           umap=umap)
        self.map = LatentMapService(self.store)
        self.maths = MathsService(self.store)
        self.codes = CodesService(self.store)
        self.generate = GenerateService(self.store)
        self.compare = CompareService(self.store)
        self.lessons = LessonsService(self.store)
        share(self.store, self.map, self.maths, self.generate)  # the GPU paths' owners, on a ZeroGPU Space (gpu.py)

    def restore_state(self, query) -> RestoredState:
        """The view a URL asks for, checked against the checkpoints here (url_state.restore_state)."""
        return restore_state(self.store, query)
