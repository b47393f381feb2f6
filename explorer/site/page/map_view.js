// The latent map view of a VAE, as the app's explorer/web/views/map.py: a click on a point selects it, a click in
// empty space decodes the blend there, the sliders edit the latent, the marker follows, the nearest images update,
// a box or lasso selection gives its CSV. Its components are the app's own, run by host.js over backend.js.
import {mount} from './host.js';
import {backend} from './backend.js';
import {K_BLEND, blendOf, nearest, toMap} from './latent_maths.js';
import {dataUri, decodeLatent, figureHtml, labelName, latentOf, open, pixelsOfFloats, pixelsOfImage} from './models.js';

const $ = (id) => document.getElementById(id);
const NEIGHBOURS = 8;  // nearest test images shown

function gaussian() {  // one draw of N(0, 1) (Box-Muller)
  return Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random());
}

export class MapView {
  constructor(changed) {
    this.changed = changed;  // called when the view's address-bar state changes
    this.m = null;  // the model shown
    this.st = {index: 0, latent: null};  // the selected image and the current latent
  }

  async mount() {
    [this.plot, this.image, this.sliders] = await Promise.all([
      mount('latent-map', '<div class="vx-plot" data-decode="decoded-image" data-height="560"></div>',
            'components/plot.js', backend, (ev, d) => this.onPlot(ev, d)),
      mount('decoded-image', '<figure class="vx-img"><canvas role="img" data-target="decoded-image"></canvas>'
            + '<figcaption>decoded current latent</figcaption></figure>', 'components/image.js', backend),
      mount('latent-sliders', '<div class="vx-sliders" data-target="decoded-image"></div>', 'components/sliders.js',
            backend, (ev, d) => this.onSlider(ev, d)),
      mount('neighbours', '', 'components/strip.js', backend, (ev, d) => this.select(Number(d.index))),
    ]);
    $('reset').addEventListener('click', () => this.select(this.st.index));
    $('prior').addEventListener('click', () => this.setLatent(Array.from({length: this.m.d}, gaussian), true));
  }

  async show(name, index = 0, z = null) {
    this.plot.set(JSON.stringify({key: name, marker: null, points: null}));  // drawn while the rest loads
    this.m = await open(name);
    await this.select(index, z === null);
    if (z) this.setLatent(z, true);
  }

  query() {
    const {m, st} = this, q = {vae: m.e.name, index: String(st.index)}, known = latentOf(m, st.index);
    if (st.latent.some((v, j) => Math.abs(v - known[j]) > 1e-6)) q.z = st.latent.map((v) => +v.toFixed(4)).join(',');
    return q;
  }

  askDecode() {
    document.dispatchEvent(new CustomEvent('vx-decode', {detail: {target: 'decoded-image', checkpoint: this.m.e.name,
                                                                   latent: this.st.latent.slice()}}));
  }

  showLatent(xy) {
    const [x, y] = xy || toMap(this.m, this.st.latent);
    this.plot.set(JSON.stringify({key: this.m.e.name, marker: [x, y], points: null}));
    this.changed();
  }

  slidersValue() {
    const {m, st} = this, s = m.e.sliders;
    const values = s.vectors
      ? s.vectors.map((u) => u.reduce((a, uj, j) => a + uj * (st.latent[j] - s.mean[j]), 0))  // a = v.(z - m)
      : s.dims.map((d) => st.latent[d]);
    return JSON.stringify({checkpoint: m.e.name, latent: st.latent, dims: s.dims, labels: s.labels,
                           values: values.map((v) => Math.round(v * 100) / 100), limit: s.limit, rev: Date.now(),
                           ...(s.vectors ? {mean: s.mean, vectors: s.vectors, limits: s.limits} : {})});
  }

  showNeighbours(exclude) {
    const m = this.m, items = nearest(m, this.st.latent, NEIGHBOURS, exclude).map(([i, dist]) =>
      `<button class="vx-strip-item" data-index="${i}" title="test image #${i}"><img src="`
      + `${dataUri(pixelsOfImage(m, i))}" alt="test image ${i}"><span>#${i} d=${dist.toFixed(2)}</span></button>`);
    $('neighbours').innerHTML = `<div class="vx-strip"><div class="vx-strip-title">The ${items.length} test images `
      + `nearest to this latent (latent space, Euclidean; click one to select it):</div>${items.join('')}</div>`;
  }

  setLatent(z, decode, xy = null) {
    // a latent that is no test image's own: decoded, on the map, on the sliders, with its nearest images
    this.st = {index: this.st.index, latent: z};
    if (decode) this.askDecode();
    this.showLatent(xy);
    this.sliders.set(this.slidersValue());
    this.showNeighbours(-1);
  }

  async select(index, decode = true) {
    // test image `index`: its latent mu(x), its image, its reconstruction
    const m = this.m;
    this.st = {index, latent: latentOf(m, index)};
    if (decode) this.askDecode();
    $('selected-image').innerHTML = figureHtml(dataUri(pixelsOfImage(m, index)), 'selected image');
    $('selection-info').textContent = `Selected test image #${index}: ${labelName(m, index)} (decoded: its own latent`
      + ' mu(x))';
    this.showLatent([m.coords[2 * index], m.coords[2 * index + 1]]);
    this.sliders.set(this.slidersValue());
    this.showNeighbours(index);
    const recon = pixelsOfFloats(m, await decodeLatent(m, this.st.latent));
    const by = m.e.preview ? ` (${m.e.preview})` : '';  // decoded by a preview decoder in place of the model's own
    $('reconstruction').innerHTML = figureHtml(dataUri(recon), `its reconstruction${by}`);
  }

  onPlot(event, data) {
    if (event === 'select') return this.showSelection(data.indices || []);
    if (event !== 'click') return;
    if (data.kind === 'point') return this.select(Number(data.index), false);
    const {z, near} = blendOf(this.m, data.x, data.y), named = near.slice(0, 4);
    this.setLatent(z, false, [data.x, data.y]);  // the plot asked for the decode already
    $('selection-info').textContent = `Clicked at (${data.x.toFixed(2)}, ${data.y.toFixed(2)}): blended from `
      + named.map(([i, w]) => `#${i} ${labelName(this.m, i)} ${Math.round(100 * w)}%`).join(', ')
      + (near.length > named.length ? ` and ${near.length - named.length} more` : '')
      + ` (the ${Math.min(K_BLEND, this.m.n)} nearest images, by inverse squared distance)`;
  }

  onSlider(event, data) {
    if (event !== 'input') return;
    const s = this.m.e.sliders, d = Number(data.dim), v = Number(data.value), z = this.st.latent.slice();
    if (s.vectors) {  // along direction d alone: z' = z + (a - v.(z - m)) v
      const u = s.vectors[s.dims.indexOf(d)], a = u.reduce((acc, uj, j) => acc + uj * (z[j] - s.mean[j]), 0);
      for (let j = 0; j < z.length; j++) z[j] += (v - a) * u[j];
    } else z[d] = v;
    this.st = {index: this.st.index, latent: z};
    this.showLatent();  // the sliders show the value already, and the image follows the drag
  }

  showSelection(indices) {
    const m = this.m, box = $('selection');
    box.hidden = indices.length === 0;
    if (!indices.length) return;
    const head = ['index', 'label', 'label_name', 'x', 'y', ...Array.from({length: m.d}, (_, k) => `z${k}`)];
    const field = (s) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
    const rows = indices.map((i) => [i, m.labels[i], field(labelName(m, i)), m.coords[2 * i], m.coords[2 * i + 1],
                                     ...latentOf(m, i)].join(','));
    const a = $('selection-csv');
    if (a.href) URL.revokeObjectURL(a.href);
    a.href = URL.createObjectURL(new Blob([[head.join(','), ...rows].join('\n') + '\n'], {type: 'text/csv'}));
    a.download = `${m.e.name.replace(/\//g, '-')}-selection-${indices.length}.csv`;
    $('selection-note').textContent = `${indices.length} images selected`;
  }
}
