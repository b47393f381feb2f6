// The VQ-VAE codes view, as the app's explorer/web/views/codes.py: a test image's code grid to edit cell by cell (a
// click on a cell selects it; a typed code or a click on the codebook map changes it) or paint whole, decoded at
// once; the codebook map by usage. Its components are the app's own, run by host.js over backend.js.
import {mount} from './host.js';
import {backend} from './backend.js';
import {dataUri, figureHtml, gridOf, open, pixelsOfImage} from './models.js';
import {suggestions} from './sampling.js';

const $ = (id) => document.getElementById(id);

export class CodesView {
  constructor(changed) {
    this.changed = changed;  // called when the view's address-bar state changes
    this.m = null;
    this.st = {index: 0, grid: null, original: null, cell: [0, 0]};
  }

  async mount() {
    [this.grid, this.image, this.plot, this.suggest] = await Promise.all([
      mount('code-grid', '<div class="vx-grid-host"></div>', 'components/grid.js', backend,
            (ev, d) => this.selectCell(d.row, d.col)),
      mount('vq-decoded', '<figure class="vx-img"><canvas role="img" data-target="vq-decoded"></canvas>'
            + '<figcaption>decoded code grid</figcaption></figure>', 'components/image.js', backend),
      mount('codebook-map', '<div class="vx-plot" data-decode="" data-height="380"></div>', 'components/plot.js',
            backend, (ev, d) => ev === 'click' && d.kind === 'point' && this.setCode(Number(d.index))),
      mount('code-suggestions', '<div class="vx-choices-host"></div>', 'components/choices.js', backend,
            (ev, d) => this.setCode(Number(d.code))),
    ]);
    const index = $('codes-index'), code = $('code-index');
    index.addEventListener('change', () => this.checked(() => this.select(this.wholeNumber(index.value, this.m.n,
                                                                                           'image index'))));
    code.addEventListener('change', () => this.checked(() => this.setCode(this.wholeNumber(code.value,
                                                                                           this.m.e.num_codes))));
    $('paint').addEventListener('click', () => this.checked(() => {
      const c = this.wholeNumber(code.value, this.m.e.num_codes);
      this.st.grid = this.st.grid.map((row) => row.map(() => c));
      this.draw();
    }));
    $('reset-grid').addEventListener('click', () => {
      this.st.grid = this.st.original.map((row) => row.slice());
      this.draw();
    });
  }

  wholeNumber(value, n, what = 'code index') {
    const v = Number(value);
    if (value === '' || !Number.isInteger(v) || v < 0 || v >= n) throw new Error(`${what} must be in 0..${n - 1}`);
    return v;
  }

  checked(act) {
    // run act; a bad value gets its message under the grid and changes nothing
    try {
      act();
      $('codes-note').textContent = '';
    } catch (err) {
      $('codes-note').textContent = err.message;
    }
  }

  async show(name, index = 0, cell = null) {
    this.plot.set(JSON.stringify({key: name, marker: null, points: null}));  // drawn while the rest loads
    this.m = await open(name);
    const u = this.m.e.usage;
    $('usage').textContent = `${this.m.e.description}. Code usage over the test split: perplexity `
      + `${u.perplexity.toFixed(1)}, ${(100 * u.codes_used).toFixed(1)}% of the ${this.m.e.num_codes} codes used, `
      + `${u.dead_codes} dead.`;
    this.select(index, cell);
  }

  query() {
    const q = {vq: this.m.e.name, tab: 'codes', cell: this.st.cell.join(',')};
    if (this.st.index !== null) q.codes = String(this.st.index);  // a sampled grid is no test image's
    return q;
  }

  showGrid(grid) {
    // a code grid no test image made (a sample from the prior), to edit
    this.st = {index: null, grid: grid.map((row) => row.slice()), original: grid.map((row) => row.slice()),
               cell: [0, 0]};
    $('codes-image').innerHTML = '<p>a sample from the prior: no test image</p>';
    this.draw();
  }

  select(index, cell = null) {
    // test image `index`'s code grid, as the encoder made it
    const g = gridOf(this.m, index);
    this.st = {index, grid: g, original: g.map((row) => row.slice()), cell: cell || [0, 0]};
    $('codes-index').value = String(index);
    $('codes-image').innerHTML = figureHtml(dataUri(pixelsOfImage(this.m, index)), `test image #${index}`);
    this.draw();
  }

  selectCell(r, c) {
    this.st.cell = [r, c];
    this.grid.set(JSON.stringify({grid: this.st.grid, cell: this.st.cell}));
    $('code-index').value = String(this.st.grid[r][c]);
    this.suggestFor();
    this.changed();
  }

  async suggestFor() {
    // the prior's most likely codes for the selected cell, as the app shows them (choices.js)
    const m = this.m, [r, c] = this.st.cell;
    if (!m.prior) {
      this.suggest.set(JSON.stringify({title: 'This VQ-VAE has no prior over code grids: no suggestions.', items: []}));
      return;
    }
    const top = await suggestions(m, this.st.grid, r, c);
    if (this.m !== m || this.st.cell[0] !== r || this.st.cell[1] !== c) return;  // another cell was picked meanwhile
    this.suggest.set(JSON.stringify({
      title: `The prior's most likely codes for cell (${r}, ${c}) given the cells above and to its left (click one `
        + 'to use it):',
      items: top.map(([code, p]) => ({code, label: `${(100 * p).toFixed(1)}%`, hint: `code ${code}: p = ${p.toFixed(3)}`,
                                      bar: p}))}));
    $('code-suggestions').dataset.cell = `${r},${c}`;
  }

  setCode(code) {
    const [r, c] = this.st.cell;
    this.st.grid[r][c] = code;
    this.draw();
  }

  draw() {
    // the grid, its decode (at once, in the page), the code input and the address bar
    const [r, c] = this.st.cell;
    this.grid.set(JSON.stringify({grid: this.st.grid, cell: this.st.cell}));
    $('code-index').value = String(this.st.grid[r][c]);
    document.dispatchEvent(new CustomEvent('vx-decode', {detail: {target: 'vq-decoded', checkpoint: this.m.e.name,
                                                                   grid: this.st.grid.map((row) => row.slice())}}));
    this.suggestFor();
    this.changed();
  }
}
