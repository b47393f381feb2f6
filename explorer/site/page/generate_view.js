// Generate, as the app's Generate tab: samples of the model shown, decoded in the page. A VAE draws z from its
// fitted prior or from N(0, I); a VQ-VAE draws code grids from its prior, cell by cell. A click on a sample opens it
// in the model's view (its latent on the map, or its grid in the codes view).
import {mount} from './host.js';
import {backend} from './backend.js';
import {dataUri, decodeGrids, decodeLatents, pixelsOfFloats} from './models.js';
import {random, sampleGrids, sampleLatents} from './sampling.js';

const $ = (id) => document.getElementById(id);

export class GenerateView {
  constructor(openSample) {
    this.openSample = openSample;  // (model, latent or grid) -> shows it in the model's view
    this.m = null;
    this.samples = [];
  }

  async mount() {
    await mount('gen-samples', '', 'components/strip.js', backend,
                (ev, d) => this.openSample(this.m, this.samples[Number(d.index)]));
    $('gen-go').addEventListener('click', () => this.generate());
  }

  show(mo) {
    this.m = mo;
    const vae = mo.e.kind === 'vae';
    $('gen-prior-label').hidden = !vae;
    $('gen-topk-label').hidden = vae;
    $('gen-prior').querySelector('option[value=fitted]').disabled = vae && !mo.mixture;
    if (vae && !mo.mixture) $('gen-prior').value = 'standard';
    $('gen-samples').innerHTML = '';
    $('gen-note').textContent = !vae && !mo.prior
      ? `This VQ-VAE has no prior over code grids, so it cannot generate${mo.e.prior_problem ? ` (${mo.e.prior_problem})` : ''}: train one with python -m vae_core.train_prior.`
      : '';
    $('gen-go').disabled = !vae && !mo.prior;
  }

  settings() {
    const n = Number($('gen-n').value), seed = Number($('gen-seed').value), t = Number($('gen-temperature').value);
    const topK = $('gen-topk').value === '' ? null : Number($('gen-topk').value);
    if (!(Number.isInteger(n) && n >= 1 && n <= 64)) throw new Error('samples must be a whole number in 1..64');
    if (!Number.isInteger(seed)) throw new Error('seed must be a whole number');
    if (!(t > 0 && t <= 10)) throw new Error('temperature must be above 0 and at most 10');
    if (topK !== null && !(Number.isInteger(topK) && topK >= 1 && topK <= (this.m.e.num_codes || 1))) {
      throw new Error(`top-k must be empty or a whole number in 1..${this.m.e.num_codes}`);
    }
    return {n, seed, t, topK};
  }

  async generate() {
    let s;
    try {
      s = this.settings();
    } catch (err) {
      $('gen-note').textContent = err.message;
      return;
    }
    const mo = this.m, rand = random(s.seed), started = performance.now();
    let what, images;
    if (mo.e.kind === 'vae') {
      const prior = $('gen-prior').value;
      this.samples = sampleLatents(mo, s.n, rand, s.t, prior);
      images = await decodeLatents(mo, this.samples);
      what = prior === 'fitted' && mo.mixture
        ? `z from its fitted prior (a Gaussian mixture of ${mo.e.fitted_prior.components} components)` : 'z ~ N(0, I)';
    } else {
      this.samples = await sampleGrids(mo, s.n, rand, s.t, s.topK);
      images = await decodeGrids(mo, this.samples);
      what = `code grids from its prior, cell by cell${s.topK ? `, top-${s.topK}` : ''}`;
    }
    const ms = performance.now() - started;
    $('gen-samples').innerHTML = '<div class="vx-strip">' + images.map((im, i) =>
      `<button class="vx-strip-item" data-index="${i}" title="sample ${i}: click to open it"><img src="`
      + `${dataUri(pixelsOfFloats(mo, im))}" alt="sample ${i}"><span>#${i}</span></button>`).join('') + '</div>';
    $('gen-note').textContent = `${s.n} samples of ${mo.e.name}: ${what}, temperature ${s.t}, seed ${s.seed}; drawn `
      + `and decoded in this browser in ${ms.toFixed(0)} ms. Click one to open it.`;
    document.getElementById('generate').dataset.ms = String(ms);
  }
}
