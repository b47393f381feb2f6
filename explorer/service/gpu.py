"""The heavy model work on a ZeroGPU Space's GPU: `@on_gpu(duration=...)` is `@spaces.GPU(duration=...)` there and
the function itself everywhere else (spaces is not even imported then).

On ZeroGPU (the Space sets SPACES_ZERO_GPU=true, which is what the spaces package itself reads) the app process has
no GPU: a call to a `spaces.GPU` function is sent to a worker process, a fork of the app, that holds a GPU for
`duration` seconds at most. So, for each decorated function here:
- its arguments and its result cross between processes by pickling: they are names, numbers, arrays, images. The
  store and the services, which hold locks and caches, are `share`d at start instead: they cross as a reference,
  which the worker (a fork, holding the same objects) turns back into its own copy. A model the app loaded after
  the worker started is loaded again in the worker, by the store, as any first use loads it.
- what it computes comes back as its result only: caches stay in the app, filled from results (a result must not be
  something the worker keeps).
- a `progress` keyword stays behind (a callback cannot cross; spaces shows the worker's tqdm bars itself).
- a UserError raised in the worker comes back as itself, so the page shows its message, not "GPU task aborted".
Models are loaded on first use, after the app starts: the app process runs them on the CPU (ZeroGPU emulates CUDA
there) for the light paths, and each worker moves them to its GPU for the decorated ones.
"""
import functools
import os

from explorer.errors import UserError

ON = ("1", "t", "true")  # the values of SPACES_ZERO_GPU that mean ZeroGPU, as the spaces package reads them
_shared: dict[int, object] = {}  # id -> the object, for share()


def on_zero_gpu() -> bool:
    """Whether this process runs on a ZeroGPU Space."""
    return os.environ.get("SPACES_ZERO_GPU", "").lower() in ON


class Shared:
    """A shared object as it crosses to the worker: its id in the app, which the worker's copy of `_shared` maps back
    to the object."""

    def __init__(self, key: int):
        self.key = key

    def get(self):
        return _shared[self.key]


def share(*objects) -> None:
    """Let `objects` (the store, the services) be arguments of decorated functions on ZeroGPU; call it before any
    decorated function runs (the workers are forks, made at the first call). Does nothing elsewhere."""
    if on_zero_gpu():
        _shared.update((id(o), o) for o in objects)


def _refer(value):
    return Shared(id(value)) if _shared.get(id(value)) is value else value


def _resolve(value):
    return value.get() if isinstance(value, Shared) else value


def on_gpu(duration: int = 60):
    """Run the decorated function on the GPU on ZeroGPU, for at most `duration` seconds (spaces.GPU); elsewhere the
    function itself, unchanged."""
    def decorate(fn):
        if not on_zero_gpu():
            return fn
        import spaces  # only on ZeroGPU; app.py imports this module first, so spaces comes before any CUDA use

        @spaces.GPU(duration=duration)
        @functools.wraps(fn)
        def in_worker(*args, **kwargs):
            try:
                return fn(*map(_resolve, args), **{k: _resolve(v) for k, v in kwargs.items()}), None
            except UserError as e:
                return None, e

        @functools.wraps(fn)
        def call(*args, **kwargs):
            kwargs.pop("progress", None)
            value, error = in_worker(*map(_refer, args), **{k: _refer(v) for k, v in kwargs.items()})
            if error is not None:
                raise error
            return value

        return call
    return decorate
