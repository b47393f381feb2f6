"""The app benchmark's server-side part, briefly, on the tests' checkpoints: every decode and sample it times runs
and gives a timing for each call."""
from tests.benchmark_module import load_benchmark


def test_the_server_side_measures_decodes_forwards_and_samples_of_both_models(app_checkpoints, app_models):
    from explorer.service.explorer import Explorer

    bench = load_benchmark("app_benchmark")
    ex = Explorer([app_checkpoints], log=lambda *a: None)
    out = bench.bench_server(ex, app_models.vae, app_models.vq, 3)
    want = {"decode_latent_ms", "vae_forward_ms", "vae_sample_ms", "decode_codes_ms", "vq_forward_ms", "vq_sample_ms"}
    assert set(out) == want
    for key in want:
        assert out[key]["n"] == 3 and 0 < out[key]["median"] <= out[key]["max"], (key, out[key])
