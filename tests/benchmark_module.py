"""load_benchmark(name): benchmarks/<name>.py imported as benchmarks.<name>, for the benchmarks' smoke tests.

benchmarks/ is a package and the repository root is on sys.path (pytest.ini's pythonpath), so this is a plain
import: the benchmarks share their modules (the PyTorch example, the machine description) the same way here as
when they run as `python -m benchmarks.<name>`.
"""
import importlib


def load_benchmark(name: str):
    return importlib.import_module(f"benchmarks.{name}")
