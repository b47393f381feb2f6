// Drawing from a model's priors in the page, as vae_core does: z from a VAE's fitted Gaussian mixture or from
// N(0, I), and code grids from a VQ-VAE's prior cell by cell. Seeded: the same seed draws the same samples in this
// page (not the same numbers as PyTorch's generator).

export function random(seed) {
  // a uniform draw in [0, 1) per call, from a 32-bit seed (mulberry32)
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const normal = (rand) => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());  // Box-Muller

export function sampleLatents(mo, n, rand, temperature, prior) {
  // n draws of z: z = m_k + T L_k eps, k ~ Categorical(w) (the fitted prior), or z = T eps (N(0, T^2 I))
  const d = mo.d, eps = () => Array.from({length: d}, () => temperature * normal(rand));
  if (prior !== 'fitted' || !mo.mixture) return Array.from({length: n}, eps);
  const k = mo.e.fitted_prior.components, w = mo.mixture.subarray(0, k), means = mo.mixture.subarray(k, k + k * d);
  const tril = mo.mixture.subarray(k + k * d);
  return Array.from({length: n}, () => {
    let u = rand(), c = 0;
    while (c < k - 1 && u >= w[c]) { u -= w[c]; c++; }
    const e = eps(), z = Array.from(means.subarray(c * d, (c + 1) * d));
    for (let i = 0; i < d; i++) {
      for (let j = 0; j <= i; j++) z[i] += tril[(c * d + i) * d + j] * e[j];  // z = m + L eps
    }
    return z;
  });
}

function draw(logits, rand, temperature, topK) {
  // c ~ softmax(logits / T), restricted to the top_k codes when topK is set
  const scaled = Array.from(logits, (v) => v / temperature);
  let keep = scaled;
  if (topK) {
    const kth = [...scaled].sort((a, b) => b - a)[Math.min(topK, scaled.length) - 1];
    keep = scaled.map((v) => (v >= kth ? v : -Infinity));
  }
  const top = Math.max(...keep), p = keep.map((v) => Math.exp(v - top)), total = p.reduce((a, b) => a + b, 0);
  let u = rand() * total, c = 0;
  while (c < p.length - 1 && u >= p[c]) { u -= p[c]; c++; }
  return c;
}

export async function priorSteps(mo, columns, pick, last = null) {
  // run the prior's sampling step (its ONNX graph, with its key-value cache) over n sequences cell by cell, up to
  // cell `last` (default: every cell): columns(t) gives the n input tokens at cell t, pick(t, logits of the n
  // sequences) what to keep; keys and values start at zero, (layers, n, heads, N, C / heads)
  const [layers, heads, cells, perHead] = mo.e.prior.cache, k = mo.e.num_codes;
  const n = columns(0).length, shape = [layers, n, heads, cells, perHead], size = shape.reduce((a, b) => a * b, 1);
  let keys = new ort.Tensor('float32', new Float32Array(size), shape);
  let values = new ort.Tensor('float32', new Float32Array(size), shape);
  for (let t = 0; t <= (last ?? cells - 1); t++) {
    const token = new ort.Tensor('int64', BigInt64Array.from(columns(t), (c) => BigInt(c)), [n]);
    const pos = new ort.Tensor('int64', BigInt64Array.from([BigInt(t)]), []);
    const out = await mo.prior.run({token, pos, keys, values});
    [keys, values] = [out.next_keys, out.next_values];
    pick(t, Array.from({length: n}, (_, b) => out.logits.data.subarray(b * k, (b + 1) * k)));
  }
}

export async function sampleGrids(mo, n, rand, temperature, topK) {
  // n code grids drawn cell by cell in raster order: c_t ~ p(c_t | c_<t), the input at cell t being BOS or c_{t-1}
  const cells = mo.side * mo.side, codes = Array.from({length: n}, () => new Array(cells).fill(0));
  await priorSteps(mo, (t) => codes.map((c) => (t === 0 ? mo.e.prior.bos : c[t - 1])), (t, logits) => {
    logits.forEach((l, b) => { codes[b][t] = draw(l, rand, temperature, topK); });
  });
  return codes.map((c) => Array.from({length: mo.side}, (_, r) => c.slice(r * mo.side, (r + 1) * mo.side)));
}

export async function suggestions(mo, grid, row, col, k = 8) {
  // the prior's k most likely codes for cell (row, col) given the cells before it in raster order: [code, p]
  const flat = grid.flat(), t = row * mo.side + col;
  let p = null;
  await priorSteps(mo, (s) => [s === 0 ? mo.e.prior.bos : flat[s - 1]], (s, logits) => {
    if (s !== t) return;
    const top = Math.max(...logits[0]), e = Array.from(logits[0], (v) => Math.exp(v - top));
    const total = e.reduce((a, b) => a + b, 0);
    p = e.map((v) => v / total);  // p(c_t = k | c_<t) = softmax(logits)_k
  }, t);
  return p.map((v, code) => [code, v]).sort((a, b) => b[1] - a[1]).slice(0, k);
}
