// The decoded current latent (image.py), drawn on a canvas from raw pixels. props.value: JSON {width, height,
// channels, data (base64 bytes), caption, pending}. It also decodes 'vx-decode' requests from the map and the sliders
// directly. A request's detail gets `shown`, a promise settled once it (or a newer request) has been drawn or has
// failed, so that the sender can hold back its Gradio event until then: the two requests would otherwise share the
// server's CPU.
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
  shown(JSON.parse(props.value));
}

function wantFull(request) {
  // the full decode the shown image stands in for (null: it is the full decode): asked for once it stays wanted
  clearTimeout(fullTimer);
  const key = request ? JSON.stringify(request) : null;
  if (key === fullKey) { full = null; return; }  // already under way (or drawn) for this very latent
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

async function pump() {
  if (busy || next === null) return;
  const {request, seq} = next, started = generation;
  next = null;
  busy = true;
  try {
    const {shown: _, target, ...ask} = request;
    const p = await server.decode(ask);
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
