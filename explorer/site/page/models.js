// The exported models in the page: each model's files loaded once (its onnxruntime sessions, its map data, its
// images' atlas), and what runs on them: decodes of a latent or a code grid (decoding.js), and images as the
// components take them.
import {session, toBase64} from './decoding.js';

export {dataUri, decodeGrid, decodeGrids, decodeLatent, decodeLatents, figureHtml, pixelsOfFloats} from './decoding.js';
export const manifest = await (await fetch('manifest.json')).json();
export const entries = new Map(manifest.models.map((e) => [e.name, e]));

ort.env.wasm.numThreads = 1;  // a plain static host is not cross-origin isolated: no threads
ort.env.wasm.wasmPaths = new URL('lib/', location.href).href;

const loaded = new Map();  // name -> promise of the opened model
const figures = new Map();  // name -> promise of its map's figure JSON (drawn before the rest has loaded)
const atlases = new Map();  // file -> promise of its pixels (ImageData)

export async function bytes(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r.arrayBuffer();
}

function loadAtlas(a) {
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

export function figureOf(name) {
  // the figure of model `name`'s map (its latent map or its codebook map), as JSON text
  if (!figures.has(name)) {
    const e = entries.get(name);
    figures.set(name, fetch(`models/${e.folder}/${e.files.map}`).then((r) => r.text()));
  }
  return figures.get(name);
}

export function open(name) {
  // the model `name` with its files: {e (its manifest entry), figure, atlas, decoder, encoder, n, and for a VAE
  // latents, coords, labels, d, mixture (its fitted prior, or null); for a VQ-VAE grids, side, prior (or null)}
  if (!loaded.has(name)) {
    const e = entries.get(name), base = `models/${e.folder}/`, f = e.files;
    const common = Promise.all([figureOf(name), loadAtlas(e.atlas), session(base + f.decoder),
                                f.encoder ? session(base + f.encoder) : null, f.prior ? session(base + f.prior) : null,
                                f.mixture ? bytes(base + f.mixture) : null]);
    const own = e.kind === 'vae'
      ? Promise.all([bytes(base + f.latents), bytes(base + f.coords), bytes(base + f.labels)]).then(([z, xy, y]) => ({
        latents: new Float32Array(z), coords: new Float32Array(xy), labels: new Int16Array(y), d: e.latent_dim}))
      : bytes(base + f.grids).then((g) => ({grids: new Uint16Array(g), side: e.grid_size}));
    loaded.set(name, Promise.all([common, own]).then(([[figure, atlas, decoder, encoder, prior, mixture], more]) => ({
      e, figure, atlas, decoder, encoder, prior, mixture: mixture && new Float32Array(mixture), n: e.n, ...more})));
  }
  return loaded.get(name);
}

export function gridOf(mo, i) {
  // test image i's code grid, as the encoder made it
  const s = mo.side, g = mo.grids.subarray(i * s * s, (i + 1) * s * s);
  return Array.from({length: s}, (_, r) => Array.from(g.subarray(r * s, (r + 1) * s)));
}

export const latentOf = (mo, i) => Array.from(mo.latents.subarray(i * mo.d, (i + 1) * mo.d));
export const labelName = (mo, i) => mo.e.label_names[mo.labels ? mo.labels[i] : -1] ?? 'unlabelled';

// --- images, as the components take them ------------------------------------------------------------------------
export function pixelsOfImage(mo, i) {
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

