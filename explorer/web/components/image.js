// The decoded current latent (image.py), drawn on a canvas from raw pixels. props.value: JSON {width, height,
// channels, data (base64 bytes), caption, pending}. It also decodes 'vx-decode' requests from the map and the sliders
// directly. A request's detail gets `shown`, a promise settled once it (or a newer request) has been drawn or has
// failed, so that the sender can hold back its Gradio event until then: the two requests would otherwise share the
// server's CPU.
// Where the server offers the model's decoder to the page (server.page_decoder, web/page_decoder.py), a request is
// decoded here with onnxruntime-web, as the static site decodes (its decoding.js and latent_maths.js): no request at
// all. Until the offer is ready, for a map whose positions differ from those the page holds, and if a decode here
// fails, the server decodes. canvas.dataset.decoder says which decoded last ('page' or 'server'). A map's key is
// "<model>|<method>" (views/map.py): the model's name is what comes before the last '|'. When a click is on other
// positions than those held here (the map moved on: UMAP's after the linear one), the server is asked again (at most
// every ASK_MS), and it prepares the decoder with the new positions.
// A slow model answers with a preview (or nothing) and `pending`, the request of its full decode: that is asked for
// once the latent has stood still for FULL_DELAY_MS, one at a time (the newest next), and drawn only if nothing newer
// was shown meanwhile, so a drag starts few full decodes and a stale one never covers a newer image.
const canvas = element.querySelector('canvas');
const caption = element.querySelector('figcaption');
const ctx = canvas.getContext('2d');
const FULL_DELAY_MS = 250;
let next = null, busy = false, generation = 0, sequence = 0, frames = 0;
let full = null, fullBusy = false, fullTimer = null, fullKey = null, fullsStarted = 0;
const waiting = [];  // [sequence number, resolve] of requests not yet settled

function draw(p) {
  if (typeof p.caption === 'string') {
    caption.textContent = p.caption;
    canvas.setAttribute('aria-label', p.caption || 'decoded image');
  }
  if (typeof p.data !== 'string') return;  // a caption only: the full decode is under way
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

function shown(p) {  // an image (and caption) now on the canvas; its full decode asked for later, if it has one
  draw(p);
  wantFull(p.pending || null);
}

function render() {
  if (!props.value) return;
  const v = JSON.parse(props.value);
  shown(v);
  if (typeof v.checkpoint === 'string') modelHere(v.checkpoint);  // its decoder for this page, asked for at once
}

function wantFull(request) {
  // the full decode the shown image stands in for (null: it is the full decode): asked for once it stays wanted
  const key = request ? JSON.stringify(request) : null;
  // this very latent's full decode already asked for (its timer set) or under way: leave it be (the click's event
  // brings the same request soon after the direct decode did, and must not cancel its timer)
  if (key !== null && key === fullKey) return;
  clearTimeout(fullTimer);
  fullKey = key;
  full = request;
  if (request) fullTimer = setTimeout(pumpFull, FULL_DELAY_MS);
}

async function pumpFull() {
  if (fullBusy || full === null) return;
  const request = full, key = fullKey;
  full = null;
  fullBusy = true;
  canvas.dataset.fulls = String(++fullsStarted);
  try {
    const p = await server.decode({...request, full: true});
    if (p && key === fullKey) { draw(p); fullKey = null; }  // still the image wanted: drawn
  } catch (err) {
    console.warn('full decode failed; the preview stays', err);
  } finally {
    fullBusy = false;
    pumpFull();  // the newest full decode wanted meanwhile, if any
  }
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

function modelOf(ask) {
  // the model a request is for: its checkpoint (a latent asked for), else its map key's model
  if (ask.checkpoint != null) return String(ask.checkpoint);
  const key = String(ask.key ?? ''), bar = key.lastIndexOf('|');
  return bar < 0 ? key : key.slice(0, bar);
}

function modelHere(name, version) {
  // the page's own decoder of model `name` when it is ready, else null (and the server is asked for it); a click on
  // map positions `version` other than those held asks the server again: it offers the map shown now
  if (!name || typeof server.page_decoder !== 'function') return null;  // a host that decodes in the page anyway
  const h = here.get(name) || {};
  const stale = h.model && version !== undefined && version !== h.model.version;
  if ((h.model && !stale) || h.off || h.busy || (h.at && performance.now() - h.at < ASK_MS)) return h.model || null;
  here.set(name, {model: h.model, busy: true});
  server.page_decoder(name).then(async (offer) => {
    const same = offer && offer.base && h.model && offer.entry.version === h.model.version;
    if (offer && offer.base) {
      here.set(name, {model: same ? h.model : await openHere(offer), at: performance.now()});
      canvas.dataset.pageDecoder = name;  // for tests and benchmarks: the page decodes this model itself
    } else if (offer && offer.off) here.set(name, {off: true});
    else {  // being prepared: asked again in a while, so that it loads before the next click
      here.set(name, {model: h.model, at: performance.now()});
      setTimeout(() => modelHere(name), ASK_MS + 50);
    }
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
    const {shown: _, target, ...ask} = request;
    const mo = modelHere(modelOf(ask), ask.latent ? undefined : ask.version);
    let p = null, where = 'page';
    if (usable(mo, ask)) {
      try { p = await decodeHere(mo, ask); } catch (err) {
        console.warn('a decode in the page failed; the server decodes from now on', err);
        here.set(modelOf(ask), {off: true});
      }
    }
    if (p === null) { p = await server.decode(ask); where = 'server'; }
    if (p && started === generation) canvas.dataset.decoder = where;
    if (p && started === generation && seq === sequence) shown(p);
    else if (p && started === generation && typeof p.data === 'string') draw({data: p.data, width: p.width,
      height: p.height, channels: p.channels});  // an older request's image, while the newest is under way
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
