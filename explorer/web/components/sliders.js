// The latent sliders (sliders.py). props.value: JSON {checkpoint, latent, dims, labels, values, limit, rev}.
const box = element.querySelector('.vx-sliders');
let state = null;  // the parsed value, its latent updated as sliders move

function render() {
  if (!props.value) return;
  state = JSON.parse(props.value);
  const key = state.dims.join(',') + '|' + state.labels.join(',');
  if (box.dataset.key !== key) {  // other dimensions: new rows; else only new values
    const limit = (i) => (state.limits ? state.limits[i] : state.limit);
    box.innerHTML = state.dims.map((d, i) => `<div class="vx-slider" id="slider-${i}">
      <label>${state.labels[i]}<input type="number" step="0.01" data-dim="${d}" data-row="${i}"></label>
      <input type="range" min="${-limit(i)}" max="${limit(i)}" step="0.01" data-dim="${d}" data-row="${i}">
      </div>`).join('');
    box.dataset.key = key;
  }
  box.querySelectorAll('.vx-slider').forEach((row, i) => {
    for (const inp of row.querySelectorAll('input')) inp.value = state.values[i];
  });
}

function read(inp) {
  // the input's value, copied to its twin (range <-> number) and into the latent; null when not a number
  const v = Number(inp.value);
  if (inp.value === '' || !Number.isFinite(v)) return null;
  for (const other of inp.closest('.vx-slider').querySelectorAll('input')) if (other !== inp) other.value = v;
  if (state && state.vectors) {  // a principal direction: z' = z + (a - v.(z - m)) v
    const u = state.vectors[Number(inp.dataset.row)];
    const a = u.reduce((s, ui, j) => s + ui * (state.latent[j] - state.mean[j]), 0);
    state.latent = state.latent.map((zj, j) => zj + (v - a) * u[j]);
  } else if (state) state.latent[Number(inp.dataset.dim)] = v;
  return v;
}

const HOLD_MS = 250;  // the longest a commit waits for the direct decode
let decoding = Promise.resolve();  // settled once the last decode asked for is shown (image.js)

function decode() {  // the image follows at once (image.js), without the event's round trip
  if (!state || !state.checkpoint) return;
  const detail = {target: box.dataset.target, checkpoint: state.checkpoint, latent: state.latent.slice()};
  document.dispatchEvent(new CustomEvent('vx-decode', {detail}));
  decoding = detail.shown || Promise.resolve();
}

async function commit(inp, v) {
  // the session, the marker and the image follow through Gradio's event, once the direct decode is shown: the two
  // would otherwise share the server's CPU
  await Promise.race([decoding, new Promise((resolve) => setTimeout(resolve, HOLD_MS))]);
  trigger('input', {dim: Number(inp.dataset.dim), value: v});
}

box.addEventListener('input', (e) => {
  if (e.target.type === 'range' && read(e.target) !== null) decode();
});
box.addEventListener('change', (e) => {
  if (e.target.type !== 'range') return;
  const v = read(e.target);
  if (v !== null) commit(e.target, v);
});
box.addEventListener('keydown', (e) => {
  if (e.target.type !== 'number' || e.key !== 'Enter') return;
  const v = read(e.target);
  if (v === null) return;
  decode();
  commit(e.target, v);
});
render();
watch('value', render);
