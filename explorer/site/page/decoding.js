// Decoding in the page with onnxruntime-web (the global `ort`), and images as the app's components take them: what
// the static site (models.js) and the app's own page (explorer/web/components/image.js, decoding where it can) share.
// A model here is {decoder: Runner, d (latent size) or side (grid size), e: {image_shape}}.

export class Runner {  // one onnxruntime session, its runs one after another (a session runs one batch at a time)
  constructor(session) { this.session = session; this.chain = Promise.resolve(); }
  run(feeds) {
    const p = this.chain.then(() => this.session.run(feeds));
    this.chain = p.catch(() => {});
    return p;
  }
}

export async function session(url) {
  return new Runner(await ort.InferenceSession.create(url, {executionProviders: ['wasm']}));
}

// --- decodes ----------------------------------------------------------------------------------------------------
const images = (mo, data, n) => {  // (n, C, H, W) floats -> n images of (C, H, W)
  const size = mo.e.image_shape.reduce((a, b) => a * b, 1);
  return Array.from({length: n}, (_, i) => data.subarray(i * size, (i + 1) * size));
};

export async function decodeLatents(mo, zs) {
  // the decoder's images for latents zs (n arrays of d): n (C, H, W) floats in [0, 1]
  const out = await mo.decoder.run({z: new ort.Tensor('float32', Float32Array.from(zs.flat()), [zs.length, mo.d])});
  return images(mo, out.image.data, zs.length);
}

export async function decodeGrids(mo, grids) {
  // the decoder's images for code grids (n nested side x side arrays of code indices)
  const flat = BigInt64Array.from(grids.flat(2), (c) => BigInt(c));
  const out = await mo.decoder.run({grid: new ort.Tensor('int64', flat, [grids.length, mo.side, mo.side])});
  return images(mo, out.image.data, grids.length);
}

export const decodeLatent = async (mo, z) => (await decodeLatents(mo, [z]))[0];
export const decodeGrid = async (mo, grid) => (await decodeGrids(mo, [grid]))[0];

// --- images, as the components take them ------------------------------------------------------------------------
export function toBase64(u8) {
  let s = '';
  for (let i = 0; i < u8.length; i += 0x8000) s += String.fromCharCode.apply(null, u8.subarray(i, i + 0x8000));
  return btoa(s);
}

export function pixelsOfFloats(mo, floats) {
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

export function dataUri(p) {
  // the image component's pixels as a PNG data URI (for <img>: thumbnails, strips)
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

export const figureHtml = (uri, caption) =>
  `<figure class="vx-img"><img src="${uri}" alt="${caption}"><figcaption>${caption}</figcaption></figure>`;
