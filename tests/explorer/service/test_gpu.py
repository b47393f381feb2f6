"""The GPU paths (explorer/service/gpu.py): here the decorator is the function itself; on a ZeroGPU Space, simulated
with SPACES_ZERO_GPU=true and a stand-in spaces package that pickles what crosses to its worker and back (as the real
one does), the heavy paths (projecting a data set: a VQ-VAE's at once, a VAE's batch by batch; decoding, a batch of
samples, the Monte Carlo and IWAE estimates) go through spaces.GPU and give the same results."""
import inspect
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from explorer.errors import UserError
from explorer.service import gpu
from explorer.service.explorer import Explorer

ROOT = Path(__file__).resolve().parents[3]
HEAVY = {"Store.encode_test_set", "Store.encode_batch", "LatentMapService.decode_latent", "GenerateService.sample",
         "MathsService.draws", "MathsService.iwae"}
FAKE_SPACES = '''
"""A stand-in for the spaces package on ZeroGPU: GPU(duration=...) records the function, and runs it with its
arguments and its result sent through pickle, as the real one sends them to its worker process and back."""
import pickle

decorated, calls = {}, []


def GPU(task=None, *, duration=None, size=None):
    def decorate(fn):
        decorated[fn.__qualname__] = duration

        def handler(*args, **kwargs):
            args, kwargs = pickle.loads(pickle.dumps((args, kwargs)))
            calls.append(fn.__qualname__)
            return pickle.loads(pickle.dumps(fn(*args, **kwargs)))
        return handler
    return decorate if task is None else decorate(task)
'''


def heavy_paths(ex, vae: str, vq: str) -> tuple[dict, str]:
    """Each heavy path's result as arrays, and the message of a user error raised inside one."""
    from explorer.service.sampling import SampleSettings

    mc = ex.maths.monte_carlo(vae, 2, 8, seed=1)
    out = {"latents": ex.store.latent_view(vae).proj.latents, "grids": ex.store.codebook_view(vq).grids,
           "decode": np.asarray(ex.map.decode_latent(vae, [0.3, -0.2], side=0)),
           "vq_samples": np.stack([np.asarray(i) for i in ex.generate.sample(vq, SampleSettings(n=3, seed=1)).images]),
           "vae_samples": np.stack([np.asarray(i) for i in ex.generate.sample(vae, SampleSettings(n=3)).images]),
           "neg_log_px": mc.neg_log_px, "iwae": np.array(mc.iwae.estimates)}
    try:
        ex.generate.sample(vq, SampleSettings(n=0))
    except UserError as e:
        return out, f"{type(e).__name__}: {e}"
    return out, "no error"


@pytest.fixture
def folders(teach_ckpts, app_checkpoints, app_models, tmp_path):
    """Two copies of a VAE with a decoder scale (2-D latent: no UMAP) and a VQ-VAE with a prior, without their
    projection caches: each run projects their images anew."""
    def copy(to):
        shutil.copytree(teach_ckpts / "vae2", to / "vae2", ignore=shutil.ignore_patterns("projections"))
        shutil.copytree(app_checkpoints / app_models.vq, to / "vq", ignore=shutil.ignore_patterns("projections"))
        return to
    return copy(tmp_path / "here"), copy(tmp_path / "zero")


def test_off_zero_gpu_the_decorator_is_the_function_itself_and_nothing_is_shared(monkeypatch):
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)

    def f(x):
        return x + 1

    assert not gpu.on_zero_gpu() and gpu.on_gpu(duration=5)(f) is f
    before = dict(gpu._shared)
    Explorer([], log=lambda *a: None)
    assert gpu._shared == before
    monkeypatch.setenv("SPACES_ZERO_GPU", "True")
    assert gpu.on_zero_gpu()


def test_the_heavy_paths_go_through_spaces_gpu_on_zero_gpu_with_the_same_results(folders, tmp_path, monkeypatch):
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    here, zero = folders
    expected, expected_error = heavy_paths(Explorer([here], log=lambda *a: None), "vae2", "vq")  # undecorated

    (tmp_path / "fake" / "spaces").mkdir(parents=True)
    (tmp_path / "fake" / "spaces" / "__init__.py").write_text(FAKE_SPACES)
    script = textwrap.dedent("""
        import json
        import numpy as np
        import torch
        from explorer.service import gpu  # first, as app.py imports it
        import spaces
        from explorer.errors import UserError
        from explorer.service.explorer import Explorer
        torch.set_num_threads(1)
        """) + inspect.getsource(heavy_paths) + textwrap.dedent(f"""
        out, error = heavy_paths(Explorer([{str(zero)!r}], log=lambda *a: None), "vae2", "vq")
        np.savez({str(tmp_path / "zero.npz")!r}, **out)
        print(json.dumps({{"decorated": spaces.decorated, "calls": spaces.calls, "error": error}}))
        """)
    env = {**os.environ, "SPACES_ZERO_GPU": "true", "PYTHONPATH": f"{tmp_path / 'fake'}{os.pathsep}{ROOT}"}
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])

    assert set(report["decorated"]) == HEAVY and all(d > 0 for d in report["decorated"].values())
    assert set(report["calls"]) == HEAVY  # each heavy path went through spaces.GPU, its arguments pickled
    assert report["error"] == expected_error and expected_error.startswith("SampleError: the number of samples")
    with np.load(tmp_path / "zero.npz") as got:
        assert set(got.files) == set(expected)
        for key, value in expected.items():
            np.testing.assert_allclose(got[key], value, rtol=1e-4, atol=1e-5, err_msg=key)
