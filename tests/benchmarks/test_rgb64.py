"""The 64 x 64 RGB benchmark's parts, briefly: the two random-weight models and their warm projection caches (no
UMAP), the server-side measure, and the table from a result."""
import sys

import pytest
import torch

from tests.benchmark_module import load_benchmark

pytest.importorskip("diffusers")


def test_the_models_are_written_with_warm_caches_and_measured(tmp_path):
    bench = load_benchmark("rgb64_benchmark")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        images = bench.write_models(tmp_path, 12)
        ex = bench.warm_caches(tmp_path / "models", images)
        kl = ex.store.model(bench.KL)
        assert kl.latent_shape == (4, 16, 16) and kl.image_shape == (3, 64, 64)
        assert ex.store.model(bench.CONV).image_shape == (3, 64, 64)
        for name in (bench.KL, bench.CONV):
            assert len(list((tmp_path / "models" / name / "projections").glob("latent-*.npz"))) == 1
            r = bench.bench_server(ex, name, 2)
            assert r["decode_latent_ms"]["n"] == 2 and r["forward_ms"]["median"] > 0
        assert bench.bench_server(ex, bench.KL, 1)["latent_numbers"] == 1024
    finally:
        torch.set_num_threads(threads)
    assert "umap" not in sys.modules


def test_the_table_names_each_model_and_the_goal():
    bench = load_benchmark("rgb64_benchmark")

    def s(ms):
        return {"median": ms, "p95": 2 * ms, "max": 3 * ms, "n": 10}

    r = {"machine": {"cpu": "Test CPU", "cores": 2, "cpu_native_bf16": False, "torch": "2"}, "load_average": (3.5,),
         "browser": {k: {"slider_ms": s(v), "slider_misses": 0} for k, v in
                     ((bench.REFERENCE, 10.0), (bench.KL, 30.0), (bench.CONV, 20.0))},
         "server": {k: {"decode_latent_ms": s(1.0), "forward_ms": s(0.5)} for k in bench.WHAT}}
    text = bench.table(r)
    assert text.startswith("CPU Test CPU (2 cores)") and "(above 3: a busy machine)" in text
    assert "| **20.0 ms** |" in text
    assert f"Goal: {bench.KL} slider -> image p95 <= 50 ms: NOT met (60.0 ms)" in text
    assert f"Goal: {bench.CONV} slider -> image p95 <= 50 ms: met (40.0 ms)" in text
