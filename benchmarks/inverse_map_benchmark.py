"""The map <-> latent mapping (explorer.compute.inverse.LatentMap) against the alternatives, on a checkpoint's map.

    PYTHONPATH=$PWD python -m benchmarks.inverse_map_benchmark --checkpoint fashion-vae

Loads the checkpoint's cached projection through the Explorer (its test images' posterior means and their 2-D map
positions) and draws seeded random clicks, uniform over the map's bounding box; a click is in "empty space" when no
test image lies within r = 1% of the map's larger side of it. For each click p and each mapping: the round trip
|to_map(to_latent(p)) - p| (the marker's jump on the first slider move), median and p90, in map units; the share of
clicks whose k nearest images (those to_latent blends) are of more than one class; the median |to_latent(p_i) - z_i|
at 200 test images' own positions (0: a click on a point decodes its own latent); the time per to_latent and per
to_map call (p50/p95, one call at a time as the page makes them) and the one-off build. The reference row is the
previous LatentMap (inverse-distance blends both ways, k = 8), measured in the same run. A benchmark, not a test.
"""
import argparse
import time

import numpy as np

from benchmarks.machine import describe, machine
from explorer.compute.inverse import LatentMap
from explorer.service.explorer import Explorer


class BlendBothWays:
    """The previous LatentMap: both directions blend the k nearest known points with inverse-distance weights,
    f(q) = sum_i w_i v_i / sum_i w_i, w_i = 1 / (||q - p_i|| + eps)^2; to_map is not to_latent's inverse."""

    def __init__(self, latents, coords, k=8):
        self.latents, self.coords, self.k = np.asarray(latents, float), np.asarray(coords, float), k

    @staticmethod
    def _blend(points, values, query, k):
        d = np.sqrt(((points - query) ** 2).sum(1))
        nearest = np.argpartition(d, k - 1)[:k]
        w = 1.0 / (d[nearest] + 1e-6 * (1 + np.median(d[nearest]))) ** 2
        return (w[:, None] * values[nearest]).sum(0) / w.sum()

    def to_latent(self, x, y):
        return self._blend(self.coords, self.latents, np.array([x, y]), self.k)

    def to_map(self, z):
        return self._blend(self.latents, self.coords, np.asarray(z, float), self.k)


class GridBilinear(LatentMap):
    """(c) to_latent = bilinear interpolation of the precomputed grid of blends; to_map = its Gauss-Newton inverse."""

    def __init__(self, latents, coords, k=8, grid=64):
        self.g = grid
        super().__init__(latents, coords, k, grid)
        self._lo, self._hi = self._grid_p.min(0), self._grid_p.max(0)
        self._cells = self._grid_z.reshape(grid, grid, -1)  # [row = y, column = x]

    def latents_at(self, points):
        if not hasattr(self, "_cells"):
            return super().latents_at(points)  # building the grid itself
        u = np.clip((np.asarray(points, float).reshape(-1, 2) - self._lo) / (self._hi - self._lo), 0, 1) * (self.g - 1)
        i0 = np.minimum(u.astype(int), self.g - 2)
        t = u - i0  # fractions within the cell, x then y
        c = self._cells
        a, b = c[i0[:, 1], i0[:, 0]], c[i0[:, 1], i0[:, 0] + 1]
        cc, dd = c[i0[:, 1] + 1, i0[:, 0]], c[i0[:, 1] + 1, i0[:, 0] + 1]
        tx, ty = t[:, :1], t[:, 1:]
        return (a * (1 - tx) + b * tx) * (1 - ty) + (cc * (1 - tx) + dd * tx) * ty


class LocalAffine(LatentMap):
    """(d) to_latent = a weighted least-squares affine fit z ~ a + B (p - q) over the k nearest points, its value a
    at the click (weights as the blend's); to_map = its Gauss-Newton inverse."""

    def latents_at(self, points):
        q = np.asarray(points, float).reshape(-1, 2)
        d, nearest = self._map_tree.query(q, self.k)
        w = 1.0 / (d + 1e-6 * (1 + d[:, -1:])) ** 2
        x = np.concatenate([np.ones((len(q), self.k, 1)), self.coords[nearest] - q[:, None]], 2)  # n x k x 3
        xtw = x.transpose(0, 2, 1) * w[:, None]
        beta = np.linalg.solve(xtw @ x + 1e-9 * np.eye(3), xtw @ self.latents[nearest])  # (X'WX) b = X'W z
        return beta[:, 0]


def percentiles(seconds):
    return [1e3 * float(np.percentile(seconds, q)) for q in (50, 95)]


def measure(make, latents, coords, labels, clicks, own):
    t0 = time.perf_counter()
    m = make(latents, coords)
    build = time.perf_counter() - t0
    zs, t_latent, t_map, back = [], [], [], []
    for x, y in clicks:
        t0 = time.perf_counter()
        zs.append(m.to_latent(x, y))
        t_latent.append(time.perf_counter() - t0)
    for z in zs:
        t0 = time.perf_counter()
        back.append(m.to_map(z))
        t_map.append(time.perf_counter() - t0)
    err = np.linalg.norm(np.array(back) - clicks, axis=1)
    d = np.sqrt(((clicks[:, None] - coords[None]) ** 2).sum(2))
    near = np.argpartition(d, m.k - 1, axis=1)[:, :m.k]
    mixed = float((labels[near] != labels[near[:, :1]]).any(1).mean())
    own_err = float(np.median([np.linalg.norm(m.to_latent(*coords[i]) - latents[i]) for i in own]))
    return {"median": float(np.median(err)), "p90": float(np.percentile(err, 90)), "mixed": mixed, "own": own_err,
            "latent": percentiles(t_latent), "map": percentiles(t_map), "build": build}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default="fashion-vae")
    ap.add_argument("--root", default="checkpoints")
    ap.add_argument("--draws", type=int, default=4000, help="random clicks drawn (the empty-space ones are kept)")
    ap.add_argument("--radius", type=float, default=0.01, help="empty space: no image within this share of the span")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    proj = Explorer([a.root], log=lambda *_: None).store.latent_view(a.checkpoint).proj
    latents, coords, labels = (np.asarray(proj.latents, float), np.asarray(proj.coords, float),
                               np.asarray(proj.labels))
    lo, hi = coords.min(0), coords.max(0)
    r = a.radius * float((hi - lo).max())
    rng = np.random.default_rng(a.seed)
    drawn = rng.uniform(lo, hi, size=(a.draws, 2))
    gap = np.sqrt(((drawn[:, None] - coords[None]) ** 2).sum(2)).min(1)
    clicks, own = drawn[gap > r], rng.choice(len(coords), 200, replace=False)
    variants = [
        ("reference: IDW both ways, k=8", lambda z, p: BlendBothWays(z, p, 8)),
        ("(a) IDW both ways, k=4", lambda z, p: BlendBothWays(z, p, 4)),
        ("(a) IDW both ways, k=16", lambda z, p: BlendBothWays(z, p, 16)),
        ("(b) IDW + its inverse, k=4", lambda z, p: LatentMap(z, p, k=4)),
        ("(b) IDW + its inverse, k=8 [LatentMap]", lambda z, p: LatentMap(z, p)),
        ("(b) IDW + its inverse, k=16", lambda z, p: LatentMap(z, p, k=16)),
        ("(c) 64x64 grid, bilinear + inverse", lambda z, p: GridBilinear(z, p)),
        ("(d) local affine k=16 + inverse", lambda z, p: LocalAffine(z, p, k=16)),
    ]
    print(f"{a.checkpoint}: {len(coords)} test images, {latents.shape[1]}-D latents; map span {(hi - lo).max():.2f}; "
          f"{len(clicks)} of {a.draws} seeded clicks in empty space (no image within r = {r:.3f})")
    print(describe(machine()))
    head = (f"{'mapping':<40} {'round trip median':>17} {'p90':>6} {'mixed classes':>13} {'own-latent err':>14} "
            f"{'to_latent ms p50/p95':>20} {'to_map ms p50/p95':>18} {'build s':>8}")
    print(head)
    print("-" * len(head))
    for name, make in variants:
        s = measure(make, latents, coords, labels, clicks, own)
        print(f"{name:<40} {s['median']:>17.3f} {s['p90']:>6.3f} {s['mixed']:>13.0%} {s['own']:>14.2e} "
              f"{s['latent'][0]:>9.3f}/{s['latent'][1]:<10.3f} {s['map'][0]:>8.3f}/{s['map'][1]:<9.3f} "
              f"{s['build']:>8.3f}")


if __name__ == "__main__":
    main()
