"""scripts/check_space_pins.py without the network: requirements.txt's markers give a ZeroGPU torch on Python 3.12 and
torch 2.13.0 here, each package is pinned once for each Python, and a wheel is accepted only for CPython 3.12 on
manylinux x86_64."""
from packaging.requirements import Requirement
from packaging.tags import Tag
from packaging.version import Version

from scripts.check_space_pins import marker_problems, pins_for, requirements, space_tags, wheel_for


def test_the_markers_pick_a_zerogpu_torch_on_312_and_2_13_here():
    assert Version("2.8") <= pins_for("3.12")["torch"] < Version("2.12")
    assert pins_for("3.11")["torch"] == Version("2.13.0")
    assert marker_problems() == []
    assert "spaces" in pins_for("3.12") and "spaces" in pins_for("3.11")


def test_every_other_pin_is_the_same_for_both_pythons():
    here, space = pins_for("3.11"), pins_for("3.12")
    assert set(here) == set(space) and all(len(r.specifier) == 1 for r in requirements())
    assert {n for n in here if here[n] != space[n]} == {"torch"}


def test_wrong_markers_are_reported():
    unmarked = [Requirement("torch==2.13.0")]
    assert marker_problems(unmarked) == ["Python 3.12 gets torch 2.13.0: ZeroGPU supports 2.8 to 2.11"]
    swapped = [Requirement(f'torch=={v}; python_version {op} "3.12"') for v, op in (("2.13.0", ">="), ("2.9.1", "<"))]
    assert len(marker_problems(swapped)) == 2


def test_a_wheel_counts_only_for_cpython_312_on_manylinux_x86_64():
    accepted = space_tags()
    assert {Tag("cp312", "cp312", "manylinux_2_28_x86_64"), Tag("cp310", "abi3", "manylinux2014_x86_64"),
            Tag("py3", "none", "any")} <= accepted
    files = ["numpy-2.4.6-cp311-cp311-manylinux_2_28_x86_64.whl", "numpy-2.4.6-cp312-cp312-macosx_14_0_arm64.whl",
             "numpy-2.4.6-cp312-cp312-musllinux_1_2_x86_64.whl", "numpy-2.4.5-cp312-cp312-manylinux_2_28_x86_64.whl"]
    assert wheel_for("numpy", Version("2.4.6"), files, accepted) is None
    good = "numpy-2.4.6-cp312-cp312-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl"
    assert wheel_for("numpy", Version("2.4.6"), files + [good], accepted) == good
