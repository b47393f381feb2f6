// The static page: the app's latent map view over exported models (explorer/site/export.py), decoding in the
// browser with onnxruntime-web. The components are the app's own (host.js runs them); this file is their backend
// (figure, thumbnail, decode: what the app's server functions answer) and the view's logic (what the app's
// explorer/web/views/map.py does on a click, a slider release, a neighbour click). After the page has loaded, nothing
// here touches the network: every model's files are fetched when it is first opened.
import {mount} from './host.js';

const $ = (id) => document.getElementById(id);
const K_BLEND = 8;  // the inverse map blends the latents of this many nearest points (explorer/compute/inverse.py)
const NEIGHBOURS = 8;  // nearest test images shown
const GRID = 32;  // blends precomputed on a GRID x GRID lattice, where the marker's search starts (latent -> map)

ort.env.wasm.numThreads = 1;  // a plain static host is not cross-origin isolated: no threads
ort.env.wasm.wasmPaths = new URL('lib/', location.href).href;

const manifest = await (await fetch('manifest.json')).json();
const models = new Map(manifest.models.map((e) => [e.name, e]));
const loaded = new Map();  // name -> promise of the opened model
const atlases = new Map();  // file -> promise of its pixels
let m = null;  // the model shown
let st = {index: 0, latent: null};  // the selected image and the current latent
let plot, image, sliders, strip, url;

// --- the model's files ------------------------------------------------------------------------------------------
class Runner {  // one onnxruntime session, its runs one after another (a session runs one batch at a time)
  constructor(session) { this.session = session; this.chain = Promise.resolve(); }
  run(feeds) {
    const p = this.chain.then(() => this.session.run(feeds));
    this.chain = p.catch(() => {});
    return p;
  }
}

const bytes = async (u) => { const r = await fetch(u); if (!r.ok) throw new Error(`${u}: HTTP ${r.status}`); return r.arrayBuffer(); };

async function loadAtlas(a) {
  if (!atlases.has(a.file)) {
    atlases.set(a.file, (async () => {
      const img = new Image();
      img.src = a.file;
      await img.decode();
      const c = document.createElement('canvas');
      c.width = img.width; c.height = img.height;
      const ctx = c.getContext('2d', {willReadFrequently: true});
      ctx.drawImage(img, 0, 0);
      return ctx.getImageData(0, 0, c.width, c.height);
    })());
  }
  return atlases.get(a.file);
}

async function open(name) {
  if (!loaded.has(name)) {
    const e = models.get(name), base = `models/${e.folder}/`, f = e.files;
    const session = (file) => ort.InferenceSession.create(base + file, {executionProviders: ['wasm']});
    loaded.set(name, Promise.all([
      fetch(base + f.map).then((r) => r.text()), bytes(base + f.latents), bytes(base + f.coords),
      bytes(base + f.labels), loadAtlas(e.atlas), session(f.decoder), session(f.encoder),
    ]).then(([figure, latents, coords, labels, atlas, decoder, encoder]) => ({
      e, figure, atlas, latents: new Float32Array(latents), coords: new Float32Array(coords),
      labels: new Int16Array(labels), decoder: new Runner(decoder), encoder: new Runner(encoder),
      d: e.latent_dim, n: e.n, grid: null,
    })));
  }
  return loaded.get(name);
}

// --- computations (as explorer/compute/ does them) --------------------------------------------------------------
const latentOf = (mo, i) => Array.from(mo.latents.subarray(i * mo.d, (i + 1) * mo.d));

function blendOf(mo, x, y) {
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

const blend = (mo, x, y) => blendOf(mo, x, y).z;

const sq = (a, b) => a.reduce((s, v, j) => s + (v - b[j]) ** 2, 0);

function nearest(mo, z, k, exclude = -1) {
  // the k images whose latents are nearest to z (Euclidean), [index, distance]
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

function toMap(mo, z) {
  // the map position whose blend is nearest to z: a known latent's own point, else the nearest of a grid of
  // blends refined by Gauss-Newton steps (explorer/compute/inverse.py's to_map)
  const [[i, dist]] = nearest(mo, z, 1);
  if (dist <= 1e-6 * (1 + Math.max(...z.map(Math.abs)))) return [mo.coords[2 * i], mo.coords[2 * i + 1]];
  if (!mo.grid) {
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
    mo.grid = {points, h: 1e-3 * Math.max(x1 - x0, y1 - y0)};
  }
  let [p, f] = mo.grid.points.reduce((b, c) => (sq(c[1], z) < sq(b[1], z) ? c : b));
  let err = sq(f, z);
  for (let step = 0; step < 8; step++) {  // (J'J) s = J'(z - f), J = d to_latent / dp by finite differences
    const h = mo.grid.h, fx = blend(mo, p[0] + h, p[1]), fy = blend(mo, p[0], p[1] + h);
    const jx = fx.map((v, j) => (v - f[j]) / h), jy = fy.map((v, j) => (v - f[j]) / h), r = z.map((v, j) => v - f[j]);
    const a = jx.reduce((s, v) => s + v * v, 0) + 1e-12, b = jx.reduce((s, v, j) => s + v * jy[j], 0);
    const c = jy.reduce((s, v) => s + v * v, 0) + 1e-12, gx = jx.reduce((s, v, j) => s + v * r[j], 0);
    const gy = jy.reduce((s, v, j) => s + v * r[j], 0), det = a * c - b * b;
    if (!(Math.abs(det) > 0)) break;
    const s = [(c * gx - b * gy) / det, (a * gy - b * gx) / det];
    let moved = false;
    for (const t of [1, 0.5, 0.25]) {
      const q = [p[0] + t * s[0], p[1] + t * s[1]], fq = blend(mo, ...q), e = sq(fq, z);
      if (e < err) { [p, f, err, moved] = [q, fq, e, true]; break; }
    }
    if (!moved) break;
  }
  return p;
}

// --- images -----------------------------------------------------------------------------------------------------
function toBase64(u8) {
  let s = '';
  for (let i = 0; i < u8.length; i += 0x8000) s += String.fromCharCode.apply(null, u8.subarray(i, i + 0x8000));
  return btoa(s);
}

function pixelsOfFloats(mo, floats) {
  // (C, H, W) floats in [0, 1] -> the image component's {width, height, channels, data}: 8-bit, row by row
  const [c, h, w] = mo.e.image_shape, u8 = new Uint8Array(c * h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let k = 0; k < c; k++) {
        u8[(y * w + x) * c + k] = Math.round(Math.min(1, Math.max(0, floats[(k * h + y) * w + x])) * 255);
      }
    }
  }
  return {width: w, height: h, channels: c, data: toBase64(u8)};
}

function pixelsOfImage(mo, i) {
  // test image i, cut out of the atlas
  const a = mo.e.atlas, {width, data} = mo.atlas, c = a.channels, u8 = new Uint8Array(a.width * a.height * c);
  const r0 = Math.floor(i / a.cols) * a.height, c0 = (i % a.cols) * a.width;
  for (let y = 0; y < a.height; y++) {
    for (let x = 0; x < a.width; x++) {
      const at = ((r0 + y) * width + c0 + x) * 4;
      for (let k = 0; k < c; k++) u8[(y * a.width + x) * c + k] = data[at + k];
    }
  }
  return {width: a.width, height: a.height, channels: c, data: toBase64(u8)};
}

function dataUri(p) {
  const c = document.createElement('canvas'), raw = atob(p.data), n = p.width * p.height;
  c.width = p.width; c.height = p.height;
  const rgba = new Uint8ClampedArray(n * 4);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < 3; k++) rgba[4 * i + k] = raw.charCodeAt(p.channels === 1 ? i : 3 * i + k);
    rgba[4 * i + 3] = 255;
  }
  c.getContext('2d').putImageData(new ImageData(rgba, p.width, p.height), 0, 0);
  return c.toDataURL();
}

async function decodeFloats(mo, z) {
  const out = await mo.decoder.run({z: new ort.Tensor('float32', Float32Array.from(z), [1, mo.d])});
  return out.image.data;
}

const figureHtml = (uri, caption) => `<figure class="vx-img"><img src="${uri}" alt="${caption}"><figcaption>${caption}</figcaption></figure>`;
const escape = (s) => String(s).replace(/[&<>"]/g, (ch) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;'}[ch]));

// --- the backend the components call ----------------------------------------------------------------------------
const backend = {
  figure: async (key) => (await open(key)).figure,
  thumbnail: async ({key, index}) => dataUri(pixelsOfImage(await open(key), Number(index))),
  decode: async (request) => {
    // {key, kind, index | x, y} (a map click) or {checkpoint, latent} (a slider)
    const mo = await open(request.latent ? request.checkpoint : request.key);
    const z = request.latent ? request.latent
      : request.kind === 'point' ? latentOf(mo, Number(request.index)) : blend(mo, Number(request.x), Number(request.y));
    return pixelsOfFloats(mo, await decodeFloats(mo, z));
  },
};

// --- the view ---------------------------------------------------------------------------------------------------
const labelName = (mo, i) => mo.e.label_names[mo.labels[i]] ?? 'unlabelled';

function slidersValue(mo, latent) {
  const s = mo.e.sliders;
  const values = s.vectors
    ? s.vectors.map((u) => u.reduce((a, uj, j) => a + uj * (latent[j] - s.mean[j]), 0))  // a = v.(z - m)
    : s.dims.map((d) => latent[d]);
  return JSON.stringify({checkpoint: mo.e.name, latent, dims: s.dims, labels: s.labels,
                         values: values.map((v) => Math.round(v * 100) / 100), limit: s.limit, rev: Date.now(),
                         ...(s.vectors ? {mean: s.mean, vectors: s.vectors, limits: s.limits} : {})});
}

function showLatent(xy) {
  const [x, y] = xy || toMap(m, st.latent);
  plot.set(JSON.stringify({key: m.e.name, marker: [x, y], points: null}));
  url.set(query());
}

function askDecode() {
  document.dispatchEvent(new CustomEvent('vx-decode', {detail: {target: 'decoded-image', checkpoint: m.e.name,
                                                                 latent: st.latent.slice()}}));
}

function showNeighbours(exclude) {
  const items = nearest(m, st.latent, NEIGHBOURS, exclude).map(([i, dist]) =>
    `<button class="vx-strip-item" data-index="${i}" title="test image #${i}"><img src="${dataUri(pixelsOfImage(m, i))}" alt="test image ${i}"><span>#${i} d=${dist.toFixed(2)}</span></button>`);
  $('neighbours').innerHTML = `<div class="vx-strip"><div class="vx-strip-title">The ${items.length} test images nearest to this latent (latent space, Euclidean; click one to select it):</div>${items.join('')}</div>`;
}

async function select(index, decode = true) {
  st = {index, latent: latentOf(m, index)};
  if (decode) askDecode();
  $('selected-image').innerHTML = figureHtml(dataUri(pixelsOfImage(m, index)), 'selected image');
  $('selection-info').textContent = `Selected test image #${index}: ${labelName(m, index)} (decoded: its own latent mu(x))`;
  showLatent([m.coords[2 * index], m.coords[2 * index + 1]]);
  sliders.set(slidersValue(m, st.latent));
  showNeighbours(index);
  const recon = pixelsOfFloats(m, await decodeFloats(m, st.latent));
  $('reconstruction').innerHTML = figureHtml(dataUri(recon), 'its reconstruction');
}

function onPlot(event, data) {
  if (event === 'select') return showSelection(data.indices || []);
  if (event !== 'click') return;
  if (data.kind === 'point') return select(Number(data.index), false);
  const {z, near} = blendOf(m, data.x, data.y);
  st = {index: st.index, latent: z};
  const parts = near.slice(0, 4).map(([i, w]) => `#${i} ${labelName(m, i)} ${Math.round(100 * w)}%`).join(', ');
  $('selection-info').textContent = `Clicked at (${data.x.toFixed(2)}, ${data.y.toFixed(2)}): blended from ${parts}`
    + (near.length > 4 ? ` and ${near.length - 4} more` : '');
  showLatent([data.x, data.y]);
  sliders.set(slidersValue(m, st.latent));
  showNeighbours(-1);
}

function onSlider(event, data) {
  if (event !== 'input') return;
  const s = m.e.sliders, d = Number(data.dim), v = Number(data.value), z = st.latent.slice();
  if (s.vectors) {  // along direction d alone: z' = z + (a - v.(z - m)) v
    const u = s.vectors[s.dims.indexOf(d)], a = u.reduce((acc, uj, j) => acc + uj * (z[j] - s.mean[j]), 0);
    for (let j = 0; j < z.length; j++) z[j] += (v - a) * u[j];
  } else z[d] = v;
  st = {index: st.index, latent: z};
  showLatent();
}

function showSelection(indices) {
  const box = $('selection');
  box.hidden = indices.length === 0;
  if (!indices.length) return;
  const head = ['index', 'label', 'label_name', 'x', 'y', ...Array.from({length: m.d}, (_, k) => `z${k}`)];
  const field = (s) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const rows = indices.map((i) => [i, m.labels[i], field(labelName(m, i)), m.coords[2 * i], m.coords[2 * i + 1],
                                   ...latentOf(m, i)].join(','));
  const csv = [head.join(','), ...rows].join('\n') + '\n';
  const a = $('selection-csv');
  if (a.href) URL.revokeObjectURL(a.href);
  a.href = URL.createObjectURL(new Blob([csv], {type: 'text/csv'}));
  a.download = `${m.e.name.replace(/\//g, '-')}-selection-${indices.length}.csv`;
  $('selection-note').textContent = `${indices.length} images selected`;
}

function query() {
  const q = new URLSearchParams({vae: m.e.name, index: String(st.index)});
  const known = latentOf(m, st.index);
  if (st.latent.some((v, j) => Math.abs(v - known[j]) > 1e-6)) q.set('z', st.latent.map((v) => +v.toFixed(4)).join(','));
  return q.toString();
}

function wanted() {
  // the view the address bar asks for, checked as the app checks it: what does not fit is dropped with a warning
  const q = new URLSearchParams(location.search), warnings = [];
  let name = q.get('vae');
  if (name !== null && !models.has(name)) { warnings.push(`no model named "${name}" here`); name = null; }
  name = name || manifest.models[0].name;
  const e = models.get(name);
  let index = q.has('index') ? Number(q.get('index')) : 0;
  if (!(Number.isInteger(index) && index >= 0 && index < e.n)) {
    warnings.push(`index must be a whole number in 0..${e.n - 1}, got "${q.get('index')}"`); index = 0;
  }
  let z = null;
  if (q.has('z')) {
    z = q.get('z').split(',').map(Number);
    if (z.length !== e.latent_dim || !z.every((v) => Number.isFinite(v) && Math.abs(v) <= 50)) {
      warnings.push(`z must be ${e.latent_dim} numbers of at most 50 in size`); z = null;
    }
  }
  if (warnings.length) { $('warning').hidden = false; $('warning').textContent = `The address asked for what this page cannot show (${warnings.join('; ')}); it shows the rest.`; }
  return {name, index, z};
}

async function show(name, index = 0, z = null) {
  $('status').textContent = `opening ${name}…`;
  m = await open(name);
  plot.set(JSON.stringify({key: name, marker: null, points: null}));
  await select(index, z === null);
  if (z) {
    st = {index, latent: z};
    askDecode();
    showLatent();
    sliders.set(slidersValue(m, st.latent));
    showNeighbours(-1);
  }
  const c = m.e.checks;
  $('checks').textContent = Object.entries(c).map(([part, r]) => `${part}.onnx differs from PyTorch by at most `
    + `${r.max_difference.toExponential(1)} on ${r.images} images`).join('; ') + '.';
  $('status').textContent = `${name}: ${m.n} images, ${m.d}-D latent, decoded in this browser`;
}

async function main() {
  document.title = $('title').textContent = manifest.title;
  const select_ = $('model');
  select_.innerHTML = manifest.models.map((e) => `<option>${escape(e.name)}</option>`).join('');
  if (manifest.app_only.length) $('app-only').textContent = `Only in the app: ${manifest.app_only.join(', ')}.`;
  const want = wanted();
  select_.value = want.name;
  [plot, image, sliders, strip, url] = await Promise.all([
    mount('latent-map', '<div class="vx-plot" data-decode="decoded-image" data-height="560"></div>',
          'components/plot.js', backend, onPlot),
    mount('decoded-image', '<figure class="vx-img"><canvas role="img" data-target="decoded-image"></canvas>'
          + '<figcaption>decoded current latent</figcaption></figure>', 'components/image.js', backend),
    mount('latent-sliders', '<div class="vx-sliders" data-target="decoded-image"></div>', 'components/sliders.js',
          backend, onSlider),
    mount('neighbours', '', 'components/strip.js', backend, (ev, d) => select(Number(d.index))),
    mount('url-state', '', 'components/url.js', backend),
  ]);
  select_.addEventListener('change', () => show(select_.value));
  $('reset').addEventListener('click', () => select(st.index));
  $('prior').addEventListener('click', () => {
    st = {index: st.index, latent: Array.from({length: m.d}, () => gaussian())};
    askDecode(); showLatent(); sliders.set(slidersValue(m, st.latent)); showNeighbours(-1);
  });
  await show(want.name, want.index, want.z);
  window.vxSite = {decodeFloats: async (name, z) => Array.from(await decodeFloats(await open(name), z)), backend};
  document.body.dataset.ready = '1';
}

function gaussian() {  // Box-Muller
  return Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random());
}

main().catch((err) => {
  $('status').textContent = `the page could not start: ${err.message || err}`;
  console.error(err);
});
