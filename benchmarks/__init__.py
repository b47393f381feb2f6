"""Speed and quality benchmarks, each against a reference measured in the same run (docs/benchmarks.md).

A package so that the benchmarks share their modules by plain imports (`from benchmarks.machine import machine`):
run them from the repository root as `python -m benchmarks.<name>`, or as `python benchmarks/<name>.py` once
`pip install -e .` has made the repository importable.
"""
