// Compare, as the app's Compare tab: a VAE's and a VQ-VAE's reconstructions of the same image (a test image, or an
// image the visitor drops on the page, which never leaves the browser), each with its MSE and PSNR. A dropped image is
// fitted as the app fits an upload (explorer/figures/pictures.py load_upload): inside a square padded with black,
// resized to the models' size, made grey (ITU-R 601 luma, as Pillow's "L") for one-channel models.
import {dataUri, decodeGrid, decodeLatent, entries, figureHtml, open, pixelsOfFloats, pixelsOfImage} from './models.js';

const $ = (id) => document.getElementById(id);
const MAX_BYTES = 20e6, MAX_PIXELS = 40e6;  // as the app's uploads

function floatsOfPixels(p) {
  // the image component's 8-bit pixels -> (C, H, W) floats in [0, 1]
  const raw = atob(p.data), {width: w, height: h, channels: c} = p, x = new Float32Array(c * h * w);
  for (let y = 0; y < h; y++) {
    for (let i = 0; i < w; i++) {
      for (let k = 0; k < c; k++) x[(k * h + y) * w + i] = raw.charCodeAt((y * w + i) * c + k) / 255;
    }
  }
  return x;
}

export class CompareView {
  async mount() {
    const pick = (kind) => manifestNames(kind).map((n) => `<option>${n}</option>`).join('');
    $('cmp-vae').innerHTML = pick('vae');
    $('cmp-vq').innerHTML = pick('vqvae');
    $('cmp-index').addEventListener('change', () => this.fromIndex($('cmp-index').value));
    $('cmp-file').addEventListener('change', (e) => e.target.files[0] && this.fromFile(e.target.files[0]));
    const zone = $('cmp-drop');
    zone.addEventListener('dragover', (e) => e.preventDefault());
    zone.addEventListener('drop', (e) => {
      e.preventDefault();
      if (e.dataTransfer.files[0]) this.fromFile(e.dataTransfer.files[0]);
    });
    for (const id of ['cmp-vae', 'cmp-vq']) $(id).addEventListener('change', () => this.fromIndex($('cmp-index').value));
  }

  models() {
    return [$('cmp-vae').value, $('cmp-vq').value].filter(Boolean).map((n) => entries.get(n));
  }

  say(text) { $('cmp-note').textContent = text; }

  async fromIndex(value) {
    const [first] = this.models(), i = Number(value);
    if (!first) return this.say('no model to compare');
    if (value === '' || !Number.isInteger(i) || i < 0 || i >= first.n) {
      return this.say(`image index must be a whole number in 0..${first.n - 1}`);
    }
    const mo = await open(first.name), p = pixelsOfImage(mo, i);
    return this.reconstruct(floatsOfPixels(p), `test image #${i}`);
  }

  async fromFile(file) {
    // a dropped or chosen file: read here, fitted to the models' input; a file that is no image changes nothing
    const [first] = this.models();
    if (!first) return this.say('no model to compare');
    if (file.size > MAX_BYTES) return this.say(`the file is ${(file.size / 1e6).toFixed(1)} MB; the limit is 20 MB`);
    let bitmap;
    try {
      bitmap = await createImageBitmap(file);
    } catch {
      return this.say(`could not read ${file.name} as an image: drop a PNG or JPEG`);
    }
    if (bitmap.width * bitmap.height > MAX_PIXELS) {
      return this.say(`the image is ${bitmap.width}x${bitmap.height} pixels; the limit is 40 megapixels`);
    }
    const [c, h, w] = first.image_shape, side = Math.max(bitmap.width, bitmap.height);
    const canvas = document.createElement('canvas');
    canvas.width = w; canvas.height = h;
    const ctx = canvas.getContext('2d', {willReadFrequently: true});
    ctx.fillStyle = 'black';
    ctx.fillRect(0, 0, w, h);
    ctx.imageSmoothingQuality = 'high';
    const dw = (bitmap.width / side) * w, dh = (bitmap.height / side) * h;  // fitted inside the square, centred
    ctx.drawImage(bitmap, (w - dw) / 2, (h - dh) / 2, dw, dh);
    const rgba = ctx.getImageData(0, 0, w, h).data, x = new Float32Array(c * h * w);
    for (let i = 0; i < h * w; i++) {
      const [r, g, b] = [rgba[4 * i], rgba[4 * i + 1], rgba[4 * i + 2]];
      if (c === 1) x[i] = Math.round((r * 299 + g * 587 + b * 114) / 1000) / 255;  // L = R 299/1000 + G 587/1000 + B 114/1000
      else [r, g, b].forEach((v, k) => { x[k * h * w + i] = v / 255; });
    }
    return this.reconstruct(x, `${file.name}, converted from ${bitmap.width}x${bitmap.height} to ${w}x${h}`
      + `${c === 1 ? ' grey' : ''}${bitmap.width !== bitmap.height ? ' (padded to a square)' : ''}`);
  }

  async reconstruct(x, what) {
    const models = this.models(), shapes = new Set(models.map((e) => e.image_shape.join('x')));
    if (shapes.size > 1) return this.say('the two models take images of different shapes: pick two that match');
    const cells = [figureHtml(dataUri(pixelsOfFloats(await open(models[0].name), x)), what)];
    for (const e of models) {
      const mo = await open(e.name), shape = [1, ...e.image_shape], input = {x: new ort.Tensor('float32', x, shape)};
      const out = await mo.encoder.run(input);
      let xHat;
      if (e.kind === 'vae') xHat = await decodeLatent(mo, Array.from(out.mu.data));  // the decoder at z = mu(x)
      else {  // the decoder at the nearest code of each cell
        const codes = Array.from(out.grid.data, Number);
        xHat = await decodeGrid(mo, Array.from({length: mo.side}, (_, r) => codes.slice(r * mo.side, (r + 1) * mo.side)));
      }
      const mse = xHat.reduce((s, v, i) => s + (Math.min(1, Math.max(0, v)) - x[i]) ** 2, 0) / x.length;
      const psnr = 10 * Math.log10(1 / Math.max(mse, 1e-12));  // PSNR = 10 log10(1 / MSE), pixels in [0, 1]
      cells.push(figureHtml(dataUri(pixelsOfFloats(mo, xHat)), `${e.name}: MSE ${mse.toFixed(4)}, PSNR ${psnr.toFixed(2)} dB`));
    }
    $('cmp-images').innerHTML = cells.join('');
    this.say('');
    $('cmp-images').dataset.shown = String(Date.now());
  }
}

// the models that can encode an image here (a model shipped with its preview decoder only has no encoder in the page)
const manifestNames = (kind) => [...entries.values()].filter((e) => e.kind === kind && e.files.encoder)
  .map((e) => e.name);
