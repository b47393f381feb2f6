"""What one browser tab has selected, kept by Gradio per session (gr.State) and never in the shared `Explorer`.

Two dataclasses, one per view that keeps a selection, each in its own gr.State: the map and the codes views load
their checkpoints in separate events that may run at the same time, and one shared state would let the later event
overwrite what the earlier one set. Handlers take a session and return a new one (dataclasses.replace); they never
change the one they got. A new session (`loaded` False) is what Gradio hands a tab whose state it has evicted: a
handler that needs a loaded one raises SessionExpired.
"""
from dataclasses import dataclass, field, replace

from explorer.errors import SessionExpired


@dataclass(frozen=True)
class LatentSession:
    """The latent map view of one tab."""

    loaded: bool = False  # set once a VAE has been opened in this tab
    vae: str = ""  # the VAE checkpoint shown
    index: int = 0  # the selected test image (its point on the map)
    latent: tuple[float, ...] = ()  # the current latent z: mu(x) of the selection, a clicked spot or slider values
    dims: tuple[int, ...] = ()  # latent dimensions on the sliders, most active (by KL) first

    def checked(self) -> "LatentSession":
        if not self.loaded:
            raise SessionExpired()
        return self

    def with_latent(self, z) -> "LatentSession":
        return replace(self, latent=tuple(float(v) for v in z))


@dataclass(frozen=True)
class CodesSession:
    """The VQ-VAE codes view of one tab."""

    loaded: bool = False  # set once a VQ-VAE has been opened in this tab
    vq: str = ""  # the VQ-VAE checkpoint shown
    index: int | None = None  # the test image whose code grid was loaded (None: a grid sampled from the prior)
    map_index: int | None = None  # the map's selection this view last followed (opening the tab follows a new one)
    grid: tuple[tuple[int, ...], ...] = ()  # the code grid being edited (rows of code indices)
    original: tuple[tuple[int, ...], ...] = ()  # the grid as the encoder made it ("reset grid")
    cell: tuple[int, int] = field(default=(0, 0))  # the selected cell (row, column)

    def checked(self) -> "CodesSession":
        if not self.loaded:
            raise SessionExpired()
        return self

    def with_grid(self, grid) -> "CodesSession":
        return replace(self, grid=tuple(tuple(int(v) for v in row) for row in grid))


@dataclass(frozen=True)
class GenerateSession:
    """The generate view of one tab: the VQ-VAE code grids it sampled last, so that a click on a sample opens its
    grid in the codes view."""

    vq: str = ""  # the VQ-VAE the grids belong to
    grids: tuple[tuple[tuple[int, ...], ...], ...] = ()  # one grid (rows of code indices) per VQ sample shown


@dataclass(frozen=True)
class MathsSession:
    """The Maths view of one tab: the image whose posterior it shows, the latent axes, and the current latent."""

    loaded: bool = False  # set once a VAE has been opened in this tab
    vae: str = ""  # the VAE checkpoint shown
    index: int = 0  # the test image whose posterior (ellipses, Monte Carlo) is shown
    i: int = 0  # the latent axes (z_i, z_j)
    j: int = 1
    latent: tuple[float, ...] = ()  # the current latent: the map's, or the latest click on the axes
    followed: tuple[int, tuple[float, ...]] | None = None  # (index, latent) of the map's selection last followed
    mc_z: tuple[tuple[float, ...], ...] = ()  # the Monte Carlo samples z_l shown (drawn on the axes too)
    samples: int = 8  # their number L and their seed
    seed: int = 0

    def checked(self) -> "MathsSession":
        if not self.loaded:
            raise SessionExpired()
        return self

    def with_latent(self, z) -> "MathsSession":
        return replace(self, latent=tuple(float(v) for v in z))


@dataclass(frozen=True)
class LessonSession:
    """The Lessons view of one tab: the lesson and step shown (from 1), the test image and seed of its measurement."""

    loaded: bool = False  # set once a step has been shown in this tab
    lesson: int = 1
    step: int = 1
    index: int = 0
    seed: int = 0
