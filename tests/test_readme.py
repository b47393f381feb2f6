"""README.md and the docs stay true: the two commands are what CI runs, every Python example runs, every file and
benchmark they name exists, and they cite no issue numbers."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
DOCS = {path: path.read_text()
        for path in [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]}
PY_BLOCKS = re.findall(r"```python\n(.*?)```", README, re.DOTALL)
needs_defaults = pytest.mark.skipif(not (ROOT / "checkpoints" / "fashion-vae").exists()
                                    or not Path("/usr/share/datasets/fashion-mnist").exists(),
                                    reason="needs the default checkpoints and Fashion-MNIST")


def test_ci_runs_the_readme_test_command():
    bash_blocks = re.findall(r"```bash\n(.*?)```", README, re.DOTALL)
    assert "pip install -r requirements.txt && python app.py\n" in bash_blocks
    assert "bash scripts/test.sh\n" in bash_blocks
    assert "bash scripts/test.sh" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.slow
def test_the_fast_path_leaves_out_exactly_the_browser_tests_and_the_slow_ones():
    """The README's fast path selects by markers pytest knows, and it runs none of the tests under tests/browser/
    (marked browser by their folder) or tests/benchmarks/ (marked slow)."""
    bash_blocks = re.findall(r"```bash\n(.*?)```", README, re.DOTALL)
    assert 'python -m pytest -m "not browser and not slow"\n' in bash_blocks
    ini = (ROOT / "pytest.ini").read_text()
    assert "browser:" in ini and "slow:" in ini  # registered: a typo in a marker is not silently nothing

    # collect the two folders beside this file (whose fast tests must be picked): the whole suite takes a minute
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", "not browser and not slow",
                          "tests/browser", "tests/benchmarks", "tests/test_readme.py"], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    fast = [ln for ln in out.stdout.splitlines() if "::" in ln]
    assert fast and all(t.startswith("tests/test_readme.py::") for t in fast), fast
    assert "tests/test_readme.py::test_front_matter_matches_requirements" in fast


def test_front_matter_matches_requirements():
    from scripts.check_space_pins import pins_for

    version = re.search(r"^sdk_version: (\S+)$", README, re.MULTILINE).group(1)
    assert f"gradio=={version}" in (ROOT / "requirements.txt").read_text().splitlines()
    assert str(pins_for("3.11")["torch"]) == "2.13.0" and "spaces" in pins_for("3.12")


def test_front_matter_python_is_zerogpus_and_the_pins_for_this_python_are_installed():
    """A Space builds with the front matter's python_version (3.10 when unset): a ZeroGPU Space runs 3.12 (or 3.10),
    whose pins scripts/check_space_pins.py checks; the pins whose markers hold on the Python the tests run on must
    be installed here at exactly their pin."""
    from importlib.metadata import PackageNotFoundError, version

    from scripts.check_space_pins import pins_for

    front = README.split("---\n")[1]
    python = re.search(r'^python_version: "?([0-9.]+)"?$', front, re.MULTILINE)
    assert python, "README front matter sets no python_version (Spaces would use Python 3.10)"
    assert python.group(1) == "3.12"
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    pins = pins_for(here)
    assert {"numpy", "scikit-learn", "torch", "gradio", "spaces"} <= set(pins)
    for name, pin in pins.items():
        try:
            installed = version(name).split("+")[0]  # torch 2.13.0+cpu is the 2.13.0 release
            assert installed == str(pin), f"{name}=={pin} pinned, {installed} installed on this Python"
        except PackageNotFoundError:
            pytest.fail(f"{name}=={pin} is pinned but not installed on Python {here}")


def test_every_python_example_is_run_by_a_test():
    """Each example's test picks its block by what it uses; no other Python block may sit in the README untested."""
    loads = [b for b in PY_BLOCKS if "vae_core.load" in b]
    clients = [b for b in PY_BLOCKS if "gradio_client" in b]
    launches = [b for b in PY_BLOCKS if "explorer.launch" in b]
    exports = [b for b in PY_BLOCKS if "export_site(" in b]
    assert len(loads) == len(clients) == len(launches) == len(exports) == 1
    assert sorted(PY_BLOCKS) == sorted(loads + clients + launches + exports)


def test_the_docs_link_files_that_exist():
    for path, text in DOCS.items():
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):  # markdown links and images, not URLs
            assert (path.parent / target).exists(), f"{path.name} links {target}"
    assert "(docs/benchmarks.md)" in README and "(CHANGELOG.md)" in README


def test_the_docs_name_benchmarks_and_results_that_exist():
    named = set()
    for text in DOCS.values():
        named |= {f"benchmarks/{m}.py" for m in re.findall(r"python -m benchmarks\.(\w+)", text)}
        named |= set(re.findall(r"benchmarks/[\w.]+\.(?:py|json)", text))
    assert "benchmarks/train_benchmark.py" in named and "benchmarks/results_app_views.json" in named
    assert [n for n in sorted(named) if not (ROOT / n).exists()] == []


def test_no_issue_numbers_in_docs_benchmarks_or_tests():
    pattern = re.compile(r"issue ?#?[0-9]|#1[0-9]\b", re.IGNORECASE)
    sources = {**DOCS, **{p: p.read_text() for d in ("benchmarks", "tests") for p in sorted((ROOT / d).glob("*.py"))}}
    assert [p.name for p, text in sources.items() if pattern.search(text) and p != Path(__file__).resolve()] == []


@pytest.mark.slow
@needs_defaults
def test_python_example_runs():
    block = next(b for b in PY_BLOCKS if "vae_core.load" in b)
    out = subprocess.run([sys.executable, "-c", block], cwd=ROOT, check=False, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert "torch.Size([8, 1, 28, 28])" in out.stdout and "'kl'" in out.stdout


@pytest.mark.slow
@needs_defaults
def test_gradio_client_example_runs(tmp_path):
    from tests.launch import start_app, stop_app

    app, url, _ = start_app([ROOT / "checkpoints"], tmp_path / "app.log")
    try:
        block = next(b for b in PY_BLOCKS if "gradio_client" in b).replace("http://localhost:7860/", url)
        out = subprocess.run([sys.executable, "-c", block], cwd=ROOT, check=False, capture_output=True, text=True,
                             timeout=300)
        assert out.returncode == 0, out.stderr
        assert "vae_psnr" in out.stdout and out.stdout.strip().splitlines()[-1].startswith("4 ")
    finally:
        stop_app(app)


@pytest.mark.slow
def test_own_module_example_serves_the_module():
    """The README's own-model example, run as written (on a free port), then asked over HTTP for a decode and
    samples of the module it serves."""
    from tests.launch import free_port

    port = free_port()
    block = next(b for b in PY_BLOCKS if "explorer.launch" in b)
    assert "port=7861" in block
    code = block.replace("port=7861", f"port={port}") + f"""
from gradio_client import Client
from PIL import Image
client = Client("http://127.0.0.1:{port}/", verbose=False)
print("decoded", Image.open(client.predict("mine", [0.0] * 20, api_name="/decode_latent")).size)
print("samples", len(client.predict("mine", 3, 0, api_name="/sample")))
demo.close()
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=False, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert "decoded (224, 224)" in out.stdout and "samples 3" in out.stdout


@pytest.mark.slow
def test_export_site_example_writes_a_site_of_the_module(tmp_path, monkeypatch):
    """The README's export example, with the module and images of its own-model example, run as written (in a
    folder of its own; the map's projection by PCA here, so that the test does not wait for UMAP's compile)."""
    from explorer.service import projection

    monkeypatch.setattr(projection, "umap_2d", lambda points, progress=None: projection.pca_2d(points))
    monkeypatch.chdir(tmp_path)
    module_block = next(b for b in PY_BLOCKS if "explorer.launch" in b).split("demo = explorer.launch")[0]
    export_block = next(b for b in PY_BLOCKS if "export_site(" in b)
    scope = {}
    exec(module_block + export_block, scope)
    report = scope["report"]
    assert report.models == ["mine"] and (tmp_path / "my-site" / "models" / "mine" / "decoder.onnx").is_file()
    assert report.checks["mine"]["decoder"]["max_difference"] <= 1e-4 and report.megabytes() > 0
