// The map <-> latent computations the app's explorer/compute/inverse.py and neighbours.py make, on a VAE's exported
// latents and map positions (`mo` from models.js).
export const K_BLEND = 8;  // the inverse map blends the latents of this many nearest points
const GRID = 32;  // blends precomputed on a GRID x GRID lattice, where the marker's search starts (latent -> map)

export function blendOf(mo, x, y) {
  // to_latent(q) = sum_i w_i z_i / sum_i w_i, w_i = 1 / (||q - p_i|| + eps)^2 over the K_BLEND nearest p_i;
  // {z, near: [[index, share of the weight], ...] nearest first}
  const k = Math.min(K_BLEND, mo.n), best = [];  // [distance, index], sorted
  for (let i = 0; i < mo.n; i++) {
    const dist = Math.hypot(mo.coords[2 * i] - x, mo.coords[2 * i + 1] - y);
    if (best.length < k || dist < best[best.length - 1][0]) {
      let j = best.length < k ? best.length : k - 1;
      best[j] = [dist, i];
      while (j > 0 && best[j - 1][0] > best[j][0]) { [best[j - 1], best[j]] = [best[j], best[j - 1]]; j--; }
    }
  }
  const eps = 1e-6 * (1 + best[best.length - 1][0]), z = new Float64Array(mo.d);
  const w = best.map(([dist]) => 1 / (dist + eps) ** 2), total = w.reduce((a, b) => a + b, 0);
  best.forEach(([, i], n) => { for (let j = 0; j < mo.d; j++) z[j] += w[n] * mo.latents[i * mo.d + j]; });
  return {z: Array.from(z, (v) => v / total), near: best.map(([, i], n) => [i, w[n] / total])};
}

export const blend = (mo, x, y) => blendOf(mo, x, y).z;
const sq = (a, b) => a.reduce((s, v, j) => s + (v - b[j]) ** 2, 0);

export function nearest(mo, z, k, exclude = -1) {
  // the k images whose latents are nearest to z (Euclidean): [index, distance], nearest first
  const out = [];
  for (let i = 0; i < mo.n; i++) {
    if (i === exclude) continue;
    let s = 0;
    for (let j = 0; j < mo.d; j++) s += (mo.latents[i * mo.d + j] - z[j]) ** 2;
    if (out.length < k || s < out[out.length - 1][1]) {
      out.push([i, s]);
      out.sort((a, b) => a[1] - b[1]);
      if (out.length > k) out.pop();
    }
  }
  return out.map(([i, s]) => [i, Math.sqrt(s)]);
}

function lattice(mo) {
  // blends on a GRID x GRID lattice over the map, once per model
  if (!mo.lattice) {
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (let j = 0; j < mo.n; j++) {
      x0 = Math.min(x0, mo.coords[2 * j]); x1 = Math.max(x1, mo.coords[2 * j]);
      y0 = Math.min(y0, mo.coords[2 * j + 1]); y1 = Math.max(y1, mo.coords[2 * j + 1]);
    }
    const points = [];
    for (let a = 0; a < GRID; a++) {
      for (let b = 0; b < GRID; b++) {
        const p = [x0 + (x1 - x0) * b / (GRID - 1), y0 + (y1 - y0) * a / (GRID - 1)];
        points.push([p, blend(mo, ...p)]);
      }
    }
    mo.lattice = {points, h: 1e-3 * Math.max(x1 - x0, y1 - y0)};
  }
  return mo.lattice;
}

export function toMap(mo, z) {
  // to_map(z) = argmin_p ||to_latent(p) - z||^2: a known latent's own point, else the nearest blend of the lattice
  // refined by Gauss-Newton steps, each halved until it lowers the error
  const [[i, dist]] = nearest(mo, z, 1);
  if (dist <= 1e-6 * (1 + Math.max(...z.map(Math.abs)))) return [mo.coords[2 * i], mo.coords[2 * i + 1]];
  const {points, h} = lattice(mo);
  let [p, f] = points.reduce((b, c) => (sq(c[1], z) < sq(b[1], z) ? c : b));
  let err = sq(f, z);
  for (let step = 0; step < 8; step++) {  // (J'J) s = J'(z - f), J = d to_latent / dp by finite differences
    const fx = blend(mo, p[0] + h, p[1]), fy = blend(mo, p[0], p[1] + h), r = z.map((v, j) => v - f[j]);
    const jx = fx.map((v, j) => (v - f[j]) / h), jy = fy.map((v, j) => (v - f[j]) / h);
    const dot = (a, b) => a.reduce((s, v, j) => s + v * b[j], 0);
    const a = dot(jx, jx) + 1e-12, b = dot(jx, jy), c = dot(jy, jy) + 1e-12, det = a * c - b * b;
    if (!(Math.abs(det) > 0)) break;
    const gx = dot(jx, r), gy = dot(jy, r), s = [(c * gx - b * gy) / det, (a * gy - b * gx) / det];
    let moved = false;
    for (const t of [1, 0.5, 0.25]) {
      const q = [p[0] + t * s[0], p[1] + t * s[1]], fq = blend(mo, ...q), e = sq(fq, z);
      if (e < err) { [p, f, err, moved] = [q, fq, e, true]; break; }
    }
    if (!moved) break;
  }
  return p;
}
