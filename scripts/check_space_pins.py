"""Check requirements.txt for a ZeroGPU Space from a machine that has no Python 3.12: the markers pick a torch that
ZeroGPU supports on Python 3.12 and torch 2.13.0 on 3.11, and every pin that applies on 3.12 has a wheel for
CPython 3.12 on manylinux x86_64 (the Space's platform).

    python scripts/check_space_pins.py [--offline]

The wheels are looked up in PyPI's JSON simple index (one small request per package, no download; torch's own
wheels are never fetched). --offline checks the markers only. Exit code 1 when a check fails.
"""
import argparse
import json
import sys
import urllib.request
from pathlib import Path

from packaging import tags
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
INDEX = "https://pypi.org/simple/{}/"
SPACE_PYTHON = "3.12"  # ZeroGPU runs Python 3.12.12 (or 3.10.13)
HERE_PYTHON = "3.11"  # this machine and CI
ZEROGPU_TORCH = (Version("2.8"), Version("2.12"))  # ZeroGPU supports torch 2.8 up to 2.11.x
HERE_TORCH = Version("2.13.0")


def requirements(path: Path = ROOT / "requirements.txt") -> list[Requirement]:
    """Each requirement line of the file (comments and -r lines left out)."""
    lines = (ln.split(" #")[0].strip() for ln in path.read_text().splitlines())
    return [Requirement(ln) for ln in lines if ln and not ln.startswith(("#", "-"))]


def environment(python: str) -> dict[str, str]:
    """The marker environment of a Linux x86_64 CPython `python` ("3.12")."""
    return {"python_version": python, "python_full_version": f"{python}.0", "implementation_name": "cpython",
            "platform_python_implementation": "CPython", "sys_platform": "linux", "platform_system": "Linux",
            "platform_machine": "x86_64", "os_name": "posix"}


def pins_for(python: str, reqs: list[Requirement] | None = None) -> dict[str, Version]:
    """{name: pinned version} of the requirements whose markers hold on Python `python`."""
    out = {}
    for r in requirements() if reqs is None else reqs:
        if r.marker is None or r.marker.evaluate(environment(python)):
            (spec,) = r.specifier  # every line pins exactly one version
            if spec.operator != "==":
                raise ValueError(f"{r}: pin it with ==")
            name = canonicalize_name(r.name)
            if name in out:
                raise ValueError(f"{r.name} is pinned twice for Python {python}")
            out[name] = Version(spec.version)
    return out


def marker_problems(reqs: list[Requirement] | None = None) -> list[str]:
    """What is wrong with the torch each Python gets ([] when both are right)."""
    problems = []
    space, here = pins_for(SPACE_PYTHON, reqs).get("torch"), pins_for(HERE_PYTHON, reqs).get("torch")
    lo, hi = ZEROGPU_TORCH
    if space is None or not lo <= space < hi:
        problems.append(f"Python {SPACE_PYTHON} gets torch {space}: ZeroGPU supports 2.8 to 2.11")
    if here != HERE_TORCH:
        problems.append(f"Python {HERE_PYTHON} gets torch {here}: this machine and CI run {HERE_TORCH}")
    return problems


def space_tags(python: str = SPACE_PYTHON) -> set[tags.Tag]:
    """The wheel tags pip accepts for CPython `python` on manylinux x86_64 (glibc up to 2.35)."""
    major, minor = map(int, python.split("."))
    platforms = [f"manylinux_2_{g}_x86_64" for g in range(35, 4, -1)]
    platforms += ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64", "linux_x86_64"]
    return set(tags.cpython_tags((major, minor), platforms=platforms)) | set(
        tags.compatible_tags((major, minor), f"cp{major}{minor}", platforms=platforms))


def wheels(name: str) -> list[str]:
    """The file names PyPI's JSON simple index lists for package `name`."""
    request = urllib.request.Request(INDEX.format(name), headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return [f["filename"] for f in json.load(response)["files"] if f["filename"].endswith(".whl")]


def wheel_for(name: str, version: Version, files: list[str], accepted: set[tags.Tag]) -> str | None:
    """A wheel of name==version among `files` that installs with one of the `accepted` tags, or None."""
    for filename in files:
        wheel_name, wheel_version, _, wheel_tags = parse_wheel_filename(filename)
        if wheel_name == name and wheel_version == version and wheel_tags & accepted:
            return filename
    return None


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--offline", action="store_true", help="check the markers only (no network)")
    args = p.parse_args(argv)
    failed = marker_problems()
    for python in (HERE_PYTHON, SPACE_PYTHON):
        print(f"Python {python}: torch {pins_for(python)['torch']}")
    if not args.offline:
        accepted = space_tags()
        for name, version in sorted(pins_for(SPACE_PYTHON).items()):
            found = wheel_for(name, version, wheels(name), accepted)
            print(f"{name}=={version}: {found or 'NO WHEEL for CPython ' + SPACE_PYTHON + ' manylinux x86_64'}")
            if found is None:
                failed.append(f"{name}=={version} has no wheel for Python {SPACE_PYTHON}")
    for problem in failed:
        print("FAIL:", problem)
    print("ok" if not failed else f"{len(failed)} problem(s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
