"""`--compile`: torch.compile of the module the training steps call; evaluation and saving use the plain module,
so checkpoints keep clean state_dict keys. Off by default: on the 2-core CPU it did not pay (README, Benchmarks).
"""
import sys

import torch

from ..config import Config

HINT = "drop --compile to train without it"


class CompileUnavailable(RuntimeError):
    """torch.compile cannot run here (no C++ compiler for inductor, an unsupported Python or platform)."""


def compile_for_training(net: torch.nn.Module, cfg: Config) -> torch.nn.Module:
    """net itself, or net under torch.compile(mode=cfg.compile) (compiled lazily, on its first call)."""
    if not cfg.compile:
        return net
    try:
        return torch.compile(net, mode=None if cfg.compile == "default" else cfg.compile)
    except Exception as e:  # e.g. no Dynamo on this Python
        raise CompileUnavailable(f"torch.compile is unavailable here ({_first_line(e)}); {HINT}") from e


def is_compile_failure(e: BaseException) -> bool:
    """True for the errors of Dynamo and inductor (they compile on the first steps, so they surface there)."""
    exc = sys.modules.get("torch._dynamo.exc")  # loaded by torch.compile; absent when nothing was compiled
    return exc is not None and isinstance(e, exc.TorchDynamoException)


def failure_message(e: BaseException) -> str:
    cause = getattr(e, "inner_exception", None) or e  # what the backend (inductor) raised, e.g. no C++ compiler
    return f"torch.compile failed ({type(cause).__name__}: {_first_line(cause)}); {HINT}"


def _first_line(e: BaseException) -> str:
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    return lines[0] if lines else type(e).__name__
