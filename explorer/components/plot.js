// A clickable Plotly chart (plot.py). props.value: JSON {key, marker: [x, y] | null, points: {name, xy} | null}.
// Public APIs only: Plotly's react/relayout (the marker and the points are layout shapes: moving them redraws no
// WebGL trace), its plotly_click/plotly_hover/plotly_selected events and layout axis ranges; Gradio's
// props/watch/trigger/server. Box or lasso selection (modebar; pan stays the default drag) triggers `select` with
// {indices: [customdata of every selected point]}.
const gd = element.querySelector('.vx-plot');
const target = gd.dataset.decode;  // the elem_id of the latent image a click asks to decode, or ''
gd.style.height = gd.dataset.height + 'px';
const HOVER_MS = 150;
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
const DRAG_PX = 5;

const current = () => (props.value ? JSON.parse(props.value) : null);
const dot = (x, y, r, style) => ({type: 'circle', xref: 'x', yref: 'y', xsizemode: 'pixel', ysizemode: 'pixel',
  xanchor: x, yanchor: y, x0: -r, x1: r, y0: -r, y1: r, ...style});
const markerShapes = (m) => (m ? [dot(m[0], m[1], 9, {name: 'current latent', line: {color: 'black', width: 3}})] : []);
// extra points (the Maths tab's Monte Carlo samples) as small filled dots, one legend entry for all of them
const POINT_STYLE = {fillcolor: 'rgba(255, 140, 0, 0.9)', line: {color: 'black', width: 1}, legendgroup: 'points'};
const pointShapes = (p) => (p && p.xy ? p.xy.map(([x, y], k) => dot(x, y, 4, {
  ...POINT_STYLE, name: p.name, showlegend: k === 0})) : []);
const shapesOf = (v) => [...pointShapes(v.points), ...markerShapes(v.marker)];

async function update() {
  const v = current();
  if (!v || !v.key) return;
  if (v.key !== shown) {
    const fig = JSON.parse(await server.figure(v.key));
    const now = current();
    if (!now || now.key !== v.key) return;  // another figure was asked for meanwhile
    await Plotly.react(gd, fig.data, {...fig.layout, shapes: shapesOf(now)}, CONFIG);
    if (shown === null) bind();
    shown = v.key;
    gd.dataset.ready = String(Date.now());
  } else {
    await Plotly.relayout(gd, {shapes: shapesOf(v)});
  }
  const last = current();
  if (last.marker) gd.dataset.marker = JSON.stringify(last.marker);
  gd.dataset.points = String(last.points && last.points.xy ? last.points.xy.length : 0);  // for tests and benchmarks
}

async function send(click) {
  // the decode first: the image follows the pointer without waiting for the click event's round trip, which
  // follows once the image is shown (or after HOLD_MS), so the two do not share the server's CPU
  if (target) {
    const detail = {target, key: shown, ...click};
    document.dispatchEvent(new CustomEvent('vx-decode', {detail}));
    await Promise.race([detail.shown, new Promise((resolve) => setTimeout(resolve, HOLD_MS))]);
  }
  trigger('click', click);
}

function dataAt(evt) {
  // data coordinates under the pointer: the plot area is Plotly's drag layer, its axes' ranges are in the layout
  const area = gd.querySelector('.nsewdrag');
  if (!area) return null;
  const r = area.getBoundingClientRect(), u = (evt.clientX - r.left) / r.width, w = (evt.clientY - r.top) / r.height;
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
  gd.on('plotly_selected', (d) => {
    if (!d || !d.points) return;  // a click that clears the selection
    const indices = [];
    for (const p of d.points) {
      const c = p.customdata !== undefined ? p.customdata : (gd.data[p.curveNumber].customdata || [])[p.pointNumber];
      if (c !== undefined) indices.push(Number(c));
    }
    trigger('select', {indices});
  });
  bindThumbnails();
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
