// A clickable Plotly chart (plot.py). props.value: JSON {key, marker: [x, y] | null, points: {name, xy} | null}.
// Public APIs only: Plotly's react/relayout (the marker and the points are layout shapes: moving them redraws no
// WebGL trace), its plotly_click/plotly_hover/plotly_selected events and layout axis ranges; Gradio's
// props/watch/trigger/server. Box or lasso selection (modebar; pan stays the default drag) triggers `select` with
// {indices: [customdata of every selected point]}: a box as soon as the mouse is released (its points found here,
// in the shown traces' data), a lasso on Plotly's plotly_selected (which waits up to 100 ms for its own throttled
// selection pass to finish). Figures come with their numbers as plotly.js binary arrays ({dtype, bdata}: base64 of
// little-endian bytes, figures/binary_arrays.py), turned into typed arrays here before drawing; a box looks its
// points up in each trace's x-sorted order (binary search on x, then a test on y over that slice only).
const gd = element.querySelector('.vx-plot');
const note = element.querySelector('.vx-plot-note');  // what a pending map waits for (server.status)
const target = gd.dataset.decode;  // the elem_id of the latent image a click asks to decode, or ''
gd.style.height = gd.dataset.height + 'px';
const HOVER_MS = 150;
const STATUS_MS = 1000;  // how often a pending map asks how it goes
const HOLD_MS = 250;  // the longest a click event waits for the direct decode
// WebGL canvases at the screen's own pixel ratio (Plotly's default, 2, draws 4x the pixels on a plain screen and makes
// every compositor frame after a click copy them). doubleClickDelay: Plotly's default (500 ms) takes two quick clicks
// on different points for a double click, which resets the zoom and redraws every WebGL point.
const CONFIG = {responsive: true, displaylogo: false, scrollZoom: true, doubleClickDelay: 300,
                modeBarButtonsToAdd: ['select2d', 'lasso2d'],
                plotGlPixelRatio: Math.min(2, Math.max(1, window.devicePixelRatio || 1))};
let shown = null;  // the key of the figure drawn now
let queue = Promise.resolve();  // value changes are applied one after another, in order
let pointClicked = false;  // this press hit a point: plotly_click has sent it
let pressedAt = null;  // where the press began: a release far from it ends a drag (pan, box, lasso), not a click
let pressing = false;  // a press that began on the plot has not been released yet
let boxSent = false;  // this drag's box selection was sent on release: Plotly's plotly_selected repeats it
const DRAG_PX = 5;
const BOX_MIN_PX = 12;  // a smaller box is a click for Plotly (no selection)

const current = () => (props.value ? JSON.parse(props.value) : null);
const dot = (x, y, r, style) => ({type: 'circle', xref: 'x', yref: 'y', xsizemode: 'pixel', ysizemode: 'pixel',
  xanchor: x, yanchor: y, x0: -r, x1: r, y0: -r, y1: r, ...style});
const markerShapes = (m) => (m ? [dot(m[0], m[1], 9, {name: 'current latent', line: {color: 'black', width: 3}})] : []);
// extra points (the Maths tab's Monte Carlo samples) as small filled dots; no legend entry of their own (a shape's
// legend entry makes every relayout redraw the legend and the plot, ~50 ms with 10,000 WebGL points): the figure
// names them with a trace of its own
const pointShapes = (p) => (p && p.xy ? p.xy.map(([x, y]) => dot(x, y, 4, {
  name: p.name, fillcolor: p.color, line: {color: 'black', width: 1}})) : []);
const shapesOf = (v) => [...pointShapes(v.points), ...markerShapes(v.marker)];

async function update() {
  const v = current();
  if (!v || !v.key) return;
  if (v.key !== shown) {
    const fig = decodeArrays(JSON.parse(await server.figure(v.key)));
    const now = current();
    if (!now || now.key !== v.key) return;  // another figure was asked for meanwhile
    await Plotly.react(gd, fig.data, {...fig.layout, shapes: shapesOf(now)}, CONFIG);
    if (shown === null) bind();
    shown = v.key;
    byX = new Map();
    gd.dataset.ready = String(Date.now());
    gd.dataset.key = shown;  // for tests and benchmarks
    const meta = (fig.layout && fig.layout.meta) || {};
    if (note) note.textContent = meta.note || '';
    if (meta.pending && gd.dataset.status === '1') follow(++following);
  } else {
    await Plotly.relayout(gd, {shapes: shapesOf(v)});
  }
  const last = current();
  if (last.marker) gd.dataset.marker = JSON.stringify(last.marker);
  gd.dataset.points = String(last.points && last.points.xy ? last.points.xy.length : 0);  // for tests and benchmarks
}

let following = 0;  // the newest figure followed by follow(); an older loop stops

async function follow(mine) {
  // while the figure shown is pending (a linear map while UMAP's is computed): show its note; once the server names
  // another key, trigger `submit`: the view answers with a value holding it (and the marker on the new map)
  const key = shown;
  while (mine === following && shown === key) {
    await new Promise((resolve) => setTimeout(resolve, STATUS_MS));
    if (mine !== following || shown !== key) return;
    const s = await server.status(key);
    if (!s || typeof s !== 'object') return;  // the server said why in its log
    if (note) note.textContent = s.note || '';
    if (s.key !== key) { trigger('submit', {key: s.key}); return; }
    if (!s.pending) return;
  }
}

async function send(click) {
  click = {...click, key: shown};  // the map it was made on: read there even after a newer map replaced it
  // the decode first: the image follows the pointer without waiting for the click event's round trip, which
  // follows once the image is shown (or after HOLD_MS), so the two do not share the server's CPU
  if (target) {
    const meta = (gd.layout && gd.layout.meta) || {};  // `coords`: which map positions the click is on
    const detail = {target, key: shown, version: meta.coords, ...click};
    document.dispatchEvent(new CustomEvent('vx-decode', {detail}));
    await Promise.race([detail.shown, new Promise((resolve) => setTimeout(resolve, HOLD_MS))]);
  }
  trigger('click', click);
}

function dataAt(evt, clamp = false) {
  // data coordinates under the pointer: the plot area is Plotly's drag layer, its axes' ranges are in the layout;
  // outside the area: null, or with `clamp` its nearest edge (where a box selection stops)
  const area = gd.querySelector('.nsewdrag');
  if (!area) return null;
  const r = area.getBoundingClientRect(), in01 = (v) => (clamp ? Math.min(1, Math.max(0, v)) : v);
  const u = in01((evt.clientX - r.left) / r.width), w = in01((evt.clientY - r.top) / r.height);
  if (!(u >= 0 && u <= 1 && w >= 0 && w <= 1)) return null;
  const [x0, x1] = gd.layout.xaxis.range, [y0, y1] = gd.layout.yaxis.range;
  return {x: x0 + u * (x1 - x0), y: y1 - w * (y1 - y0)};
}

function bind() {
  gd.on('plotly_click', (d) => {
    const p = d.points && d.points[0];
    if (!p || p.customdata === undefined) return;
    pointClicked = true;
    send({kind: 'point', index: Number(p.customdata), x: p.x, y: p.y});
  });
  gd.addEventListener('pointerdown', (evt) => { pointClicked = false; pressedAt = [evt.clientX, evt.clientY]; },
                      true);
  gd.addEventListener('click', (evt) => {
    const dragged = pressedAt && Math.hypot(evt.clientX - pressedAt[0], evt.clientY - pressedAt[1]) > DRAG_PX;
    setTimeout(() => {  // after Plotly's own click handling, which may find a point under the pointer
      if (pointClicked || dragged) return;
      const at = dataAt(evt);
      if (at) send({kind: 'space', ...at});
    }, 0);
  });
  gd.addEventListener('pointerdown', () => { pressing = true; boxSent = false; }, true);
  document.addEventListener('pointerup', (evt) => {  // on the page: Plotly's drag cover gets the release
    const was = pressing;
    pressing = false;
    if (!was || gd.layout.dragmode !== 'select' || !pressedAt) return;
    if (Math.hypot(evt.clientX - pressedAt[0], evt.clientY - pressedAt[1]) < BOX_MIN_PX) return;
    const a = dataAt({clientX: pressedAt[0], clientY: pressedAt[1]}, true), b = dataAt(evt, true);
    if (!a || !b) return;
    boxSent = true;
    trigger('select', {indices: inBox(a, b)});
  }, true);
  gd.on('plotly_selected', (d) => {
    if (!d || !d.points) return;  // a click that clears the selection
    if (boxSent) { boxSent = false; return; }  // sent on release already
    const indices = [];
    for (const p of d.points) {
      const c = p.customdata !== undefined ? p.customdata : (gd.data[p.curveNumber].customdata || [])[p.pointNumber];
      if (c !== undefined) indices.push(Number(c));
    }
    trigger('select', {indices});
  });
  bindThumbnails();
}

const TYPED = {f4: Float32Array, f8: Float64Array, i4: Int32Array, u4: Uint32Array, i2: Int16Array, u2: Uint16Array,
               i1: Int8Array, u1: Uint8Array};

function decodeArrays(value) {
  // every {dtype, bdata} in the figure as a typed array (the bytes are little-endian, as every browser's)
  if (Array.isArray(value)) return value.map(decodeArrays);
  if (!value || typeof value !== 'object') return value;
  if (typeof value.bdata === 'string' && TYPED[value.dtype]) {
    const bytes = Uint8Array.from(atob(value.bdata), (c) => c.charCodeAt(0));
    return new TYPED[value.dtype](bytes.buffer);
  }
  for (const k of Object.keys(value)) value[k] = decodeArrays(value[k]);
  return value;
}

let byX = new Map();  // trace -> {order, xs}: its point numbers sorted by x, and their x (built on a trace's first box)

function sortedByX(t) {
  if (!byX.has(t)) {
    const order = Uint32Array.from({length: t.customdata.length}, (_, k) => k).sort((i, j) => t.x[i] - t.x[j]);
    byX.set(t, {order, xs: Float64Array.from(order, (k) => t.x[k])});
  }
  return byX.get(t);
}

function firstAtLeast(xs, v) {
  let lo = 0, hi = xs.length;  // binary search: the first k with xs[k] >= v
  while (lo < hi) { const mid = (lo + hi) >> 1; if (xs[mid] < v) lo = mid + 1; else hi = mid; }
  return lo;
}

function inBox(a, b) {
  // customdata of every point of a shown trace inside the box with corners a, b (data coordinates), edges included
  const [x0, x1] = [Math.min(a.x, b.x), Math.max(a.x, b.x)], [y0, y1] = [Math.min(a.y, b.y), Math.max(a.y, b.y)];
  const indices = [];
  for (const t of gd.data) {
    if (!t.customdata || t.visible === false || t.visible === 'legendonly') continue;
    const {order, xs} = sortedByX(t);
    for (let s = firstAtLeast(xs, x0); s < xs.length && xs[s] <= x1; s++) {
      const k = order[s];
      if (t.y[k] >= y0 && t.y[k] <= y1) indices.push(Number(t.customdata[k]));
    }
  }
  return indices;
}

function bindThumbnails() {
  // hovering a point for HOVER_MS shows its image beside the pointer; a press cancels (no work on the click path)
  const tip = document.createElement('img');
  tip.className = 'vx-thumb';
  element.appendChild(tip);
  const cache = new Map();
  let timer = null, want = null;
  const hide = () => { clearTimeout(timer); want = null; tip.style.display = 'none'; };
  gd.on('plotly_hover', (d) => {
    const p = d.points && d.points[0];
    if (!p || p.customdata === undefined || !d.event) return;
    hide();
    const key = shown + '#' + p.customdata, x = d.event.clientX, y = d.event.clientY;
    want = key;
    timer = setTimeout(async () => {
      if (!cache.has(key)) {
        const uri = await server.thumbnail({key: shown, index: Number(p.customdata)});
        if (typeof uri !== 'string') return;  // the server said why in its log
        cache.set(key, uri);
      }
      if (want !== key) return;
      tip.src = cache.get(key);
      tip.style.left = (x + 16) + 'px';
      tip.style.top = (y + 16) + 'px';
      tip.style.display = 'block';
    }, HOVER_MS);
  });
  gd.on('plotly_unhover', hide);
  gd.addEventListener('pointerdown', hide, true);
}

const schedule = () => { queue = queue.then(update).catch((e) => console.warn('plot update failed', e)); };
schedule();
watch('value', schedule);
