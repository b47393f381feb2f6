// The static page: the app's latent map view (a VAE) and codes view (a VQ-VAE) over the exported models
// (explorer/site/export.py), decoding in the browser with onnxruntime-web. This file picks the model, reads the view
// the address bar asks for (checked as the app checks it) and writes it back. After the page has loaded, nothing
// touches the network: the model shown is fetched first, then every other model's files.
import {mount} from './host.js';
import {backend} from './backend.js';
import {CodesView} from './codes_view.js';
import {CompareView} from './compare_view.js';
import {GenerateView} from './generate_view.js';
import {MapView} from './map_view.js';
import {priorSteps} from './sampling.js';
import {decodeGrid, decodeLatent, entries, manifest, open} from './models.js';

const $ = (id) => document.getElementById(id);
let url, shown = null;  // the address-bar component; the view showing
const views = {vae: new MapView(changed), vqvae: new CodesView(changed)};
const compare = new CompareView();
const generate = new GenerateView((mo, sample) => (mo.e.kind === 'vae' ? views.vae.setLatent(sample, true)
  : views.vqvae.showGrid(sample)));

function changed() {
  if (url && shown) url.set(new URLSearchParams(shown.query()).toString());
}

function wanted() {
  // the model and view the address bar asks for; what does not fit is dropped with a warning, as in the app
  const q = new URLSearchParams(location.search), warnings = [];
  let name = q.get('vq') && q.get('tab') === 'codes' ? q.get('vq') : q.get('vae');
  if (name !== null && !entries.has(name)) { warnings.push(`no model named "${name}" here`); name = null; }
  const e = entries.get(name || manifest.models[0].name);
  const key = e.kind === 'vae' ? 'index' : 'codes';
  let index = q.has(key) ? Number(q.get(key)) : 0;
  if (!(Number.isInteger(index) && index >= 0 && index < e.n)) {
    warnings.push(`${key} must be a whole number in 0..${e.n - 1}, got "${q.get(key)}"`);
    index = 0;
  }
  let z = null, cell = null;
  if (e.kind === 'vae' && q.has('z')) {
    z = q.get('z').split(',').map(Number);
    if (z.length !== e.latent_dim || !z.every((v) => Number.isFinite(v) && Math.abs(v) <= 50)) {
      warnings.push(`z must be ${e.latent_dim} numbers of at most 50 in size`);
      z = null;
    }
  }
  if (e.kind === 'vqvae' && q.has('cell')) {
    cell = q.get('cell').split(',').map(Number);
    if (cell.length !== 2 || !cell.every((v) => Number.isInteger(v) && v >= 0 && v < e.grid_size)) {
      warnings.push(`cell must be a row and a column in 0..${e.grid_size - 1}`);
      cell = null;
    }
  }
  if (warnings.length) {
    $('warning').hidden = false;
    $('warning').textContent = `The address asked for what this page cannot show (${warnings.join('; ')}); it shows `
      + 'the rest.';
  }
  return {name: e.name, index, extra: e.kind === 'vae' ? z : cell};
}

async function show(name, index = 0, extra = null) {
  const e = entries.get(name);
  $('status').textContent = `opening ${name}…`;
  $('map-view').hidden = e.kind !== 'vae';
  $('codes-view').hidden = e.kind !== 'vqvae';
  shown = views[e.kind];
  await shown.show(name, index, extra);
  generate.show(await open(name));
  changed();
  $('checks').textContent = 'Checked against PyTorch on the model\'s first images: ' + Object.entries(e.checks).map(
    ([part, r]) => (r.measure === 'share of code cells'
      ? `${part}.onnx gives another code in ${(100 * r.max_difference).toFixed(1)}% of the cells`
      : `${part}.onnx differs by at most ${r.max_difference.toExponential(1)} (${r.measure})`)
      + ` on ${r.images} images`).join('; ') + '.';
  $('status').textContent = e.kind === 'vae'
    ? `${name}: ${e.n} images, ${e.latent_dim}-D latent, decoded in this browser`
      + (e.preview ? ` by a small stand-in for its decoder (${e.preview}; the model's own is too large for a page)` : '')
    : `${name}: ${e.n} images, ${e.grid_size} x ${e.grid_size} codes of ${e.num_codes}, decoded in this browser`;
}

async function main() {
  document.title = $('title').textContent = manifest.title;
  const picker = $('model');
  for (const e of manifest.models) picker.add(new Option(`${e.name} (${e.kind === 'vae' ? 'VAE' : 'VQ-VAE'})`, e.name));
  const want = wanted();
  picker.value = want.name;
  [url] = await Promise.all([mount('url-state', '', 'components/url.js', backend),
                             views.vae.mount(), views.vqvae.mount(), generate.mount(),
                             compare.mount()]);
  picker.addEventListener('change', () => show(picker.value));
  await show(want.name, want.index, want.extra);
  window.vxSite = {  // for tests and benchmarks: the page's own decode of a latent, as floats
    decodeFloats: async (name, z) => Array.from(await decodeLatent(await open(name), z)),
    decodeGridFloats: async (name, grid) => Array.from(await decodeGrid(await open(name), grid)),
    priorLogits: async (name, inputs) => {  // the prior's logits (N, K) for one sequence (BOS, c_0, ..., c_{N-2})
      const got = [];
      await priorSteps(await open(name), (t) => [inputs[t]], (t, logits) => got.push(...logits[0]));
      return got;
    },
  };
  document.body.dataset.ready = '1';
  // the other models' files next, so that switching to one makes no request (and works offline from here on)
  await Promise.all(manifest.models.map((e) => open(e.name)));
  document.body.dataset.loaded = 'all';
}

main().catch((err) => {
  $('status').textContent = `the page could not start: ${err.message || err}`;
  console.error(err);
});
