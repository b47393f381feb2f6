"""Every error a user can cause (bad input, an unknown checkpoint, an expired session), under one base class.

The page turns a UserError into a message (gr.Error) and the API into an error response; anything else is a bug and
keeps its traceback. vae_core's own input errors (CheckpointError, DataError) are re-raised as subclasses where the
explorer calls vae_core.
"""
import numpy as np


class UserError(ValueError):
    """Something the user sent or did that the app cannot serve; the message says what to do instead."""


class IndexRangeError(UserError, IndexError):
    """A test image index outside the data set."""


class LatentError(UserError):
    """A latent, map position or checkpoint kind that does not fit the model asked for."""


class MissingCapability(UserError):
    """A view asks a model for something it does not have (a decoder scale, a prior); the message says which."""


class DataUnavailable(UserError):
    """The data set a checkpoint was trained on cannot be found or read."""


class ImageSetError(UserError):
    """An --images PATH that is none of the forms it takes, or whose images cannot be read."""


class SessionExpired(UserError):
    """The server no longer holds this browser tab's state (evicted after `state_session_capacity` newer sessions)."""

    def __init__(self):
        super().__init__("This tab was idle for a long time and the server has let go of its selection. "
                         '<a href="">Reload the page</a> to continue.')


class TraversalError(UserError):
    """Traversal settings out of range (dimensions, steps)."""


class NeighbourError(UserError):
    """A neighbour query that does not fit the data (k, the latent's size)."""


class AxesError(UserError):
    """Latent axes that the VAE does not have, or a bad click on them."""


class MonteCarloError(UserError):
    """Monte Carlo settings out of range (L, the seed)."""


class GridError(UserError):
    """A code grid or code index that does not fit the VQ-VAE."""


class SliderError(UserError):
    """A slider event that does not name a dimension and a value."""


class ImageInputError(UserError):
    """An upload that is not a readable image, or is too large."""


class SampleError(UserError):
    """Sample settings out of range, or a model that cannot sample."""


class UrlStateError(UserError):
    """A URL query value of the wrong form."""


class SelectionError(UserError):
    """A selection of test images that does not fit the data set."""


class PlaygroundError(UserError):
    """A playground control outside its range, or an action the playground cannot take now (a full pool)."""


class UnknownCheckpoint(UserError):
    """A checkpoint name that is not in the registry."""


class UnreadableCheckpoint(UserError):
    """vae_core could not load a checkpoint found at start (changed or damaged since)."""


class DeviceUnavailable(UserError):
    """A --device that is not on this machine (or not a device at all); never replaced by the CPU in silence."""


class ModelTooLarge(UserError):
    """A model whose weights do not fit in the free memory of the device asked for; the message gives both sizes."""


class PreviewError(UserError):
    """A preview decoder asked for a model it cannot be trained for (no images mapped yet, no folder to keep it in)."""


class SiteError(UserError):
    """A model or a request the static site's export cannot take (too large for a page, a folder in the way)."""


def finite_position(x, y, error: type[UserError], what: str) -> tuple[float, float]:
    """(x, y) of a click as floats, or `error` saying that `what` needs finite numbers."""
    try:
        x, y = float(x), float(y)
    except (TypeError, ValueError) as e:
        raise error(f"{what} needs numbers x and y, got {x!r}, {y!r}") from e
    if not (np.isfinite(x) and np.isfinite(y)):
        raise error(f"{what} holds NaN or inf")
    return x, y


class LessonError(UserError):
    """A lesson or step that does not exist, or a control value a step does not take; says which ones there are."""
