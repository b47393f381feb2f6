"""The inverse-map benchmark's measurement on a small synthetic map: the reference's blends are not inverses, the
package's LatentMap round-trips, and the grid and affine variants give finite answers."""
import numpy as np

from explorer.compute.inverse import LatentMap
from tests.benchmark_module import load_benchmark
from tests.explorer.compute.test_inverse_map import smooth_map


def test_measure_separates_the_reference_from_the_inverse():
    bench = load_benchmark("inverse_map_benchmark")
    z, p, labels = smooth_map(n=300)
    rng = np.random.default_rng(2)
    q = rng.uniform(0, 10, size=(400, 2))
    clicks = q[np.sqrt(((q[:, None] - p[None]) ** 2).sum(2)).min(1) > 0.1][:60]
    own = rng.choice(len(p), 20, replace=False)
    ref = bench.measure(lambda a, b: bench.BlendBothWays(a, b, 8), z, p, labels, clicks, own)
    new = bench.measure(LatentMap, z, p, labels, clicks, own)
    assert new["median"] < 0.1 * ref["median"] and ref["median"] > 0.05
    assert 0 < new["mixed"] <= 1 and new["mixed"] == ref["mixed"]  # the same k nearest images
    assert new["own"] < 1e-6 and len(new["latent"]) == 2 and new["build"] >= 0
    for make in (bench.GridBilinear, bench.LocalAffine):
        s = bench.measure(make, z, p, labels, clicks, own)
        assert np.isfinite([s["median"], s["p90"], s["own"]]).all()
