"""README.md stays true: its two commands are what CI runs, and its Python examples run."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
PY_BLOCKS = re.findall(r"```python\n(.*?)```", README, re.DOTALL)
needs_defaults = pytest.mark.skipif(not (ROOT / "checkpoints" / "fashion-vae").exists()
                                    or not Path("/usr/share/datasets/fashion-mnist").exists(),
                                    reason="needs the default checkpoints and Fashion-MNIST")


def test_ci_runs_the_readme_test_command():
    bash_blocks = re.findall(r"```bash\n(.*?)```", README, re.DOTALL)
    assert "pip install -r requirements.txt && python app.py\n" in bash_blocks
    assert "bash scripts/test.sh\n" in bash_blocks
    assert "bash scripts/test.sh" in (ROOT / ".ci" / "run").read_text()


def test_front_matter_matches_requirements():
    version = re.search(r"^sdk_version: (\S+)$", README, re.MULTILINE).group(1)
    assert f"gradio=={version}" in (ROOT / "requirements.txt").read_text().splitlines()
    assert "torch==2.13.0" in (ROOT / "requirements.txt").read_text().splitlines()


@needs_defaults
def test_python_example_runs():
    block = next(b for b in PY_BLOCKS if "vae_core.load" in b)
    out = subprocess.run([sys.executable, "-c", block], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "torch.Size([8, 1, 28, 28])" in out.stdout and "'kl'" in out.stdout


@needs_defaults
def test_gradio_client_example_runs(tmp_path):
    from explorer.launch import start_app, stop_app

    app, url, _ = start_app([ROOT / "checkpoints"], tmp_path / "app.log")
    try:
        block = next(b for b in PY_BLOCKS if "gradio_client" in b).replace("http://localhost:7860/", url)
        out = subprocess.run([sys.executable, "-c", block], cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        assert "vae_psnr" in out.stdout
    finally:
        stop_app(app)
