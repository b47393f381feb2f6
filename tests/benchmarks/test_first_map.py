"""The first-map benchmark, briefly: a new tiny model and 120 images without cache, the app started and the page
opened in Chromium; the first map drawn is the linear one, then UMAP's (a fast stand-in for the umap package,
put first on the app's PYTHONPATH, so the run pays no numba compilation)."""
import os

from tests.benchmark_module import load_benchmark
from tests.browser_app import needs_chromium

FAKE_UMAP = '''"""A stand-in for umap-learn in the first-map smoke test: the top two principal directions."""
import time

import numpy as np


class UMAP:
    def __init__(self, **kwargs):
        pass

    def fit_transform(self, x):
        time.sleep(1.0)  # long enough for the page to draw the linear map first
        x = np.asarray(x, dtype=np.float64) - np.mean(x, 0)
        return (x @ np.linalg.svd(x, full_matrices=False)[2][:2].T)[:, ::-1].astype(np.float32)
'''


@needs_chromium
def test_the_first_map_is_linear_and_umaps_follows(tmp_path):
    bench = load_benchmark("first_map_benchmark")
    (tmp_path / "umap").mkdir()
    (tmp_path / "umap" / "__init__.py").write_text(FAKE_UMAP)
    path = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
    out = bench.measure(120, 8, env={"PYTHONPATH": path}, timeout_s=120)
    assert out["first_map"] == "pca" and 0 < out["first_map_s"] <= out["umap_map_s"], out
    assert out["note_after"] == "" and out["images"] == 120
