// The decoded current latent (image.py), drawn on a canvas from raw pixels. props.value: JSON {width, height,
// channels, data (base64 bytes), caption}. It also decodes 'vx-decode' requests from the map and the sliders
// directly. A request's detail gets `shown`, a promise settled once it (or a newer request) has been drawn or has
// failed, so that the sender can hold back its Gradio event until then: the two requests would otherwise share the
// server's CPU.
// Where the server offers the model's decoder to the page (server.page_decoder, web/page_decoder.py), a request is
// decoded here with onnxruntime-web, as the static site decodes (its decoding.js and latent_maths.js): no request at
// all. Until the offer is ready, for a map whose positions differ from those the page holds, and if a decode here
// fails, the server decodes. canvas.dataset.decoder says which decoded last ('page' or 'server').
const canvas = element.querySelector('canvas');
const caption = element.querySelector('figcaption');
const ctx = canvas.getContext('2d');
let next = null, busy = false, generation = 0, sequence = 0, frames = 0;
const waiting = [];  // [sequence number, resolve] of requests not yet settled

function draw(p) {
  const {width, height, channels} = p, bytes = atob(p.data), n = width * height;
  if (canvas.width !== width || canvas.height !== height) { canvas.width = width; canvas.height = height; }
  const rgba = new Uint8ClampedArray(n * 4);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) rgba[4 * i + c] = bytes.charCodeAt(channels === 1 ? i : 3 * i + c);
    rgba[4 * i + 3] = 255;
  }
  ctx.putImageData(new ImageData(rgba, width, height), 0, 0);
  canvas.dataset.frame = String(++frames);
}

function render() {
  if (!props.value) return;
  const p = JSON.parse(props.value);
  caption.textContent = p.caption || '';
  canvas.setAttribute('aria-label', p.caption || 'decoded image');
  draw(p);
}

document.addEventListener('vx-decode', (e) => {
  if (e.detail.target !== canvas.dataset.target) return;  // a request for another latent image on the page
  const seq = ++sequence;
  e.detail.shown = new Promise((resolve) => waiting.push([seq, resolve]));
  next = {request: e.detail, seq};
  pump();
});

function settle(seq) {
  for (let i = waiting.length - 1; i >= 0; i--) {
    if (waiting[i][0] <= seq) waiting.splice(i, 1)[0][1]();
  }
}

const ASK_MS = 2000;  // while the server prepares a model's decoder, ask again after this long
const here = new Map();  // model name -> {model (ready), off: true, or at: when last asked}

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const s = document.createElement('script');
    Object.assign(s, {src, onload: resolve, onerror: () => reject(new Error(`could not load ${src}`))});
    document.head.appendChild(s);
  });
}

async function openHere(offer) {
  // the offered decoder as the static site's modules take a model: {e, d, n, decoder, latents, coords, version}
  if (!window.ort) await loadScript(offer.ort + 'ort.wasm.min.js');
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.wasmPaths = new URL(offer.ort, location.href).href;
  const [decoding, maths] = await Promise.all([import(offer.lib + 'decoding.js'), import(offer.lib + 'latent_maths.js')]);
  const floats = async (file) => new Float32Array(await (await fetch(offer.base + file)).arrayBuffer());
  const [decoder, latents, coords] = await Promise.all([decoding.session(offer.base + 'decoder.onnx'),
                                                        floats('latents.bin'), floats('coords.bin')]);
  const e = offer.entry;
  return {e, d: e.latent_dim, n: e.n, version: e.version, decoder, latents, coords, decoding, maths};
}

function modelHere(name) {
  // the page's own decoder of model `name` when it is ready, else null (and the server is asked for it)
  if (!name || typeof server.page_decoder !== 'function') return null;  // a host that decodes in the page anyway
  const h = here.get(name) || {};
  if (h.model || h.off || h.busy || (h.at && performance.now() - h.at < ASK_MS)) return h.model || null;
  here.set(name, {busy: true});
  server.page_decoder(name).then(async (offer) => {
    if (offer && offer.base) here.set(name, {model: await openHere(offer)});
    else here.set(name, offer && offer.off ? {off: true} : {at: performance.now()});
  }).catch((err) => {
    console.warn('decoding in the page is off; the server decodes', err);
    here.set(name, {off: true});
  });
  return null;
}

async function decodeHere(mo, ask) {
  // what server.decode answers, computed here: the latent asked for, a map point's latent, or the inverse map's blend
  const z = ask.latent ? ask.latent : ask.kind === 'point' ? Array.from(mo.latents.subarray(
    Number(ask.index) * mo.d, (Number(ask.index) + 1) * mo.d)) : mo.maths.blend(mo, Number(ask.x), Number(ask.y));
  return mo.decoding.pixelsOfFloats(mo, await mo.decoding.decodeLatent(mo, z));
}

function usable(mo, ask) {
  if (!mo) return false;
  if (ask.latent) return Array.isArray(ask.latent) && ask.latent.length === mo.d;
  if (ask.version !== mo.version) return false;  // a map with other positions than those held here
  return ask.kind === 'point' ? Number.isInteger(Number(ask.index)) && ask.index >= 0 && ask.index < mo.n
    : Number.isFinite(Number(ask.x)) && Number.isFinite(Number(ask.y));
}

async function pump() {
  if (busy || next === null) return;
  const {request, seq} = next, started = generation;
  next = null;
  busy = true;
  try {
    const {shown, target, ...ask} = request;
    const mo = modelHere(ask.checkpoint ?? ask.key);
    let p = null, where = 'page';
    if (usable(mo, ask)) {
      try { p = await decodeHere(mo, ask); } catch (err) {
        console.warn('a decode in the page failed; the server decodes from now on', err);
        here.set(ask.checkpoint ?? ask.key, {off: true});
      }
    }
    if (p === null) { p = await server.decode(ask); where = 'server'; }
    if (p && typeof p.data === 'string' && started === generation) { draw(p); canvas.dataset.decoder = where; }
  } catch (err) {
    console.warn('direct decode failed; the event path still updates the image', err);
  } finally {
    busy = false;
    settle(seq);
    pump();  // the newest request that came meanwhile, if any
  }
}

render();
watch('value', () => { generation += 1; render(); });  // Gradio sent a newer image: drop decodes under way
