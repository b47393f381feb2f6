// The decoded current latent (image.py), drawn on a canvas from raw pixels. props.value: JSON {width, height,
// channels, data (base64 bytes), caption}. It also decodes 'vx-decode' requests from the map and the sliders
// directly. A request's detail gets `shown`, a promise settled once it (or a newer request) has been drawn or has
// failed, so that the sender can hold back its Gradio event until then: the two requests would otherwise share the
// server's CPU.
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

async function pump() {
  if (busy || next === null) return;
  const {request, seq} = next, started = generation;
  next = null;
  busy = true;
  try {
    const {shown, target, ...ask} = request;
    const p = await server.decode(ask);
    if (p && typeof p.data === 'string' && started === generation) draw(p);
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
