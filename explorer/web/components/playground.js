// The playground's canvas (playground.py): props.value is a scene {frame, status, playing, waiting, steps, panels,
// curves} (explorer/playground/scenes.py), its numbers base64 binary arrays. A panel is a plane of layers, or (kind) a
// strip of grey images or bars. Each scene redraws every canvas and the status line. While a scene says playing, the
// next comes from the server function `tick`, the scene's pace a second at most (WAITING_PER_S while waiting in line),
// one in flight at a time; a Gradio event's scene (a button, a control) replaces the loop's when it comes, and a tick
// asked for before it is dropped when it answers. The element's data-frame, data-steps and data-draws (how many
// scenes it has drawn), each figure's data-kind, and a plane's data-layers (its layers' types, in order) and
// data-step-arrows (how many arrows of a step it draws) are for tests and benchmarks.
const root = element.querySelector('.vx-pg');
const statusLine = element.querySelector('.vx-pg-status');
const WAITING_PER_S = 2;
const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f',
                 '#bcbd22', '#17becf', '#393b79', '#637939', '#8c6d31', '#843c39', '#7b4173', '#3182bd'];
const SIDE = 330, CURVE_H = 170, ROW_LABEL = 14;
let draws = 0;

function decode(spec) {
  const raw = atob(spec.bdata), bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return spec.dtype === 'u1' ? bytes : new Float32Array(bytes.buffer);
}

function box(kind, i, height) {
  // the i-th figure of `kind` (panel or curve): a title, a canvas and a legend, made once
  const id = `vx-pg-${kind}-${i}`;
  let fig = root.querySelector('#' + id);
  if (!fig) {
    fig = document.createElement('figure');
    fig.id = id;
    fig.className = 'vx-pg-fig';
    fig.innerHTML = '<figcaption></figcaption><canvas></canvas><div class="vx-pg-legend"></div>';
    fig.querySelector('canvas').width = SIDE;
    root.querySelector(kind === 'panel' ? '.vx-pg-panels' : '.vx-pg-curves').appendChild(fig);
  }
  const c = fig.querySelector('canvas');
  if (c.height !== height) c.height = height;
  return fig;
}

function legend(fig, items) {
  const html = items.map(([name, color]) => `<span><i style="background:${color}"></i>${name}</span>`).join('');
  const el = fig.querySelector('.vx-pg-legend');
  if (el.innerHTML !== html) el.innerHTML = html;
}

function colouredPoints(g, xy, colour, r, sx, sy) {
  // point i as a square of half-side r in the palette's colour colour[i]
  g.globalAlpha = 0.7;
  for (let i = 0; i < colour.length; i++) {
    g.fillStyle = PALETTE[colour[i] % PALETTE.length];
    g.fillRect(sx(xy[2 * i]) - r, sy(xy[2 * i + 1]) - r, 2 * r, 2 * r);
  }
  g.globalAlpha = 1;
}

function drawPanel(fig, p) {
  fig.querySelector('figcaption').textContent = p.title;
  const c = fig.querySelector('canvas'), g = c.getContext('2d');
  const [x0, x1, y0, y1] = p.range;
  const sx = (x) => ((x - x0) / (x1 - x0)) * c.width, sy = (y) => c.height - ((y - y0) / (y1 - y0)) * c.height;
  const scale = c.width / (x1 - x0);
  g.clearRect(0, 0, c.width, c.height);
  g.strokeStyle = '#eee'; g.lineWidth = 1;
  g.beginPath(); g.moveTo(sx(0), 0); g.lineTo(sx(0), c.height); g.moveTo(0, sy(0)); g.lineTo(c.width, sy(0)); g.stroke();
  const items = [];
  fig.dataset.layers = p.layers.map((l) => l.type).join(',');
  fig.dataset.stepArrows = '0';
  for (const l of p.layers) {
    const xy = l.xy ? decode(l.xy) : null;
    if (l.type === 'grid') {  // a warped grid: the polylines through its rows, then through its columns
      const at = (i, j) => 2 * (i * l.cols + j);
      g.strokeStyle = l.color; g.lineWidth = 1; g.globalAlpha = 0.8;
      g.beginPath();
      for (let i = 0; i < l.rows; i++) {
        for (let j = 0; j < l.cols; j++) (j ? g.lineTo : g.moveTo).call(g, sx(xy[at(i, j)]), sy(xy[at(i, j) + 1]));
      }
      for (let j = 0; j < l.cols && l.rows > 1; j++) {
        for (let i = 0; i < l.rows; i++) (i ? g.lineTo : g.moveTo).call(g, sx(xy[at(i, j)]), sy(xy[at(i, j) + 1]));
      }
      g.stroke();
      g.globalAlpha = 1;
      items.push([l.name, l.color]);
    } else if (l.type === 'points') {
      g.fillStyle = l.color; g.globalAlpha = 0.6;
      for (let i = 0; i < xy.length; i += 2) g.fillRect(sx(xy[i]) - l.r, sy(xy[i + 1]) - l.r, 2 * l.r, 2 * l.r);
      g.globalAlpha = 1;
      items.push([l.name, l.color]);
    } else if (l.type === 'circles') {
      g.strokeStyle = l.color; g.setLineDash([4, 4]);
      l.r.forEach((r) => { g.beginPath(); g.arc(sx(0), sy(0), r * scale, 0, 2 * Math.PI); g.stroke(); });
      g.setLineDash([]);
      items.push([l.name, l.color]);
    } else if (l.type === 'ellipses') {
      const wh = decode(l.wh);
      g.strokeStyle = l.color; g.globalAlpha = 0.5;
      for (let i = 0; i < xy.length; i += 2) {
        g.beginPath();
        g.ellipse(sx(xy[i]), sy(xy[i + 1]), Math.max(0.5, wh[i] * scale), Math.max(0.5, wh[i + 1] * scale), 0, 0,
                  2 * Math.PI);
        g.stroke();
      }
      g.globalAlpha = 1;
      items.push([l.name, l.color]);
    } else if (l.type === 'labelled') {  // points coloured by class
      colouredPoints(g, xy, decode(l.label), 1.8, sx, sy);
      l.names.forEach((name, k) => items.push([name, PALETTE[k % PALETTE.length]]));
    } else if (l.type === 'coded') {  // points coloured by code
      colouredPoints(g, xy, decode(l.code), 1.6, sx, sy);
      items.push([l.name, PALETTE[0]]);
    } else if (l.type === 'arrows') {
      const d = decode(l.d);
      if (l.role === 'step') fig.dataset.stepArrows = String(xy.length / 2);
      g.strokeStyle = l.color; g.lineWidth = 1;
      g.beginPath();
      for (let i = 0; i < xy.length; i += 2) {
        const ax = sx(xy[i]), ay = sy(xy[i + 1]), bx = sx(xy[i] + d[i]), by = sy(xy[i + 1] + d[i + 1]);
        g.moveTo(ax, ay); g.lineTo(bx, by);
        const a = Math.atan2(by - ay, bx - ax), h = Math.min(5, Math.hypot(bx - ax, by - ay) / 2);
        g.moveTo(bx, by); g.lineTo(bx - h * Math.cos(a - 0.5), by - h * Math.sin(a - 0.5));
        g.moveTo(bx, by); g.lineTo(bx - h * Math.cos(a + 0.5), by - h * Math.sin(a + 0.5));
      }
      g.stroke();
      items.push([l.name, l.color]);
    } else if (l.type === 'codes') {
      const dead = decode(l.dead);
      for (let k = 0; k < dead.length; k++) {
        const x = sx(xy[2 * k]), y = sy(xy[2 * k + 1]);
        g.fillStyle = dead[k] ? '#ffffff' : PALETTE[k % PALETTE.length];
        g.strokeStyle = '#000'; g.lineWidth = 1.5;
        g.beginPath(); g.arc(x, y, 6, 0, 2 * Math.PI); g.fill(); g.stroke();
        if (dead[k]) { g.beginPath(); g.moveTo(x - 5, y - 5); g.lineTo(x + 5, y + 5); g.moveTo(x + 5, y - 5);
                       g.lineTo(x - 5, y + 5); g.stroke(); }
      }
      g.lineWidth = 1;
      items.push([l.name, '#000']);
    }
  }
  legend(fig, items);
}

function stripHeight(p) {
  return p.rows.reduce((h, r) => h + ROW_LABEL + Math.floor(SIDE / r.n) * Math.ceil(r.h / r.w), 0);
}

function drawStrip(fig, p) {
  // rows of grey images (uint8, n x h x w each), each put into an ImageData and drawn scaled up, unsmoothed
  fig.querySelector('figcaption').textContent = p.title;
  const c = fig.querySelector('canvas'), g = c.getContext('2d');
  g.clearRect(0, 0, c.width, c.height);
  g.imageSmoothingEnabled = false;
  let y = 0;
  for (const r of p.rows) {
    const px = decode(r.images), cell = Math.floor(SIDE / r.n), side = cell * Math.ceil(r.h / r.w);
    g.fillStyle = '#444'; g.font = '10px sans-serif';
    g.fillText(r.name, 2, y + 10);
    y += ROW_LABEL;
    const tile = document.createElement('canvas');
    tile.width = r.w; tile.height = r.h;
    const t = tile.getContext('2d'), im = t.createImageData(r.w, r.h);
    for (let i = 0; i < r.n; i++) {
      for (let j = 0; j < r.w * r.h; j++) {
        const v = px[i * r.w * r.h + j];
        im.data[4 * j] = v; im.data[4 * j + 1] = v; im.data[4 * j + 2] = v; im.data[4 * j + 3] = 255;
      }
      t.putImageData(im, 0, 0);
      g.drawImage(tile, i * cell + 1, y, cell - 2, side - 2);
    }
    y += side;
  }
  fig.querySelector('.vx-pg-legend').textContent = p.note || '';
}

function drawBars(fig, p) {
  // a bar per code, its height the count; dead codes (count 0) crossed in red under the axis
  fig.querySelector('figcaption').textContent = p.title;
  const c = fig.querySelector('canvas'), g = c.getContext('2d');
  const counts = decode(p.counts), dead = decode(p.dead), n = counts.length;
  const top = Math.max(1, ...counts), base = c.height - 14, w = (c.width - 4) / n;
  g.clearRect(0, 0, c.width, c.height);
  g.fillStyle = '#666'; g.font = '10px monospace';
  g.textAlign = 'right'; g.fillText(String(Math.round(top)), c.width - 2, 10); g.textAlign = 'left';
  g.strokeStyle = '#bbb'; g.beginPath(); g.moveTo(0, base + 0.5); g.lineTo(c.width, base + 0.5); g.stroke();
  for (let k = 0; k < n; k++) {
    const x = 2 + k * w, h = (counts[k] / top) * (base - 14);
    g.fillStyle = p.legend[0][1];
    g.fillRect(x + 0.5, base - h, Math.max(1, w - 1), h);
    if (dead[k]) {
      g.strokeStyle = p.legend[1][1]; g.lineWidth = 1.5; g.beginPath();
      const m = x + w / 2, r = Math.min(4, w / 2);
      g.moveTo(m - r, base + 3); g.lineTo(m + r, base + 3 + 2 * r); g.moveTo(m + r, base + 3); g.lineTo(m - r, base + 3 + 2 * r);
      g.stroke(); g.lineWidth = 1;
    }
  }
  legend(fig, p.legend);
}

function drawAny(p, i) {
  const height = p.kind === 'strip' ? stripHeight(p) : SIDE;
  const fig = box('panel', i, height);
  fig.dataset.kind = p.kind || 'plane';
  if (p.kind === 'strip') drawStrip(fig, p);
  else if (p.kind === 'bars') drawBars(fig, p);
  else drawPanel(fig, p);
}

function drawCurve(fig, cv) {
  fig.querySelector('figcaption').textContent = cv.title;
  const c = fig.querySelector('canvas'), g = c.getContext('2d');
  const series = cv.series.map((s) => ({...s, y: decode(s.y)}));
  let lo = Infinity, hi = -Infinity, n = 0;
  for (const s of series) {
    n = Math.max(n, s.y.length);
    for (const v of s.y) if (Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  }
  if (cv.fixed) [lo, hi] = cv.fixed;
  if (!(hi > lo)) { lo -= 1; hi += 1; }
  g.clearRect(0, 0, c.width, c.height);
  const px = (i) => (n > 1 ? (i / (n - 1)) * (c.width - 4) + 2 : 2), py = (v) => c.height - 4 - ((v - lo) / (hi - lo)) * (c.height - 8);
  g.fillStyle = '#666'; g.font = '10px monospace';
  g.fillText(hi.toPrecision(3), 2, 10); g.fillText(lo.toPrecision(3), 2, c.height - 2);
  for (const s of series) {
    g.strokeStyle = s.color; g.lineWidth = 1.5; g.beginPath();
    s.y.forEach((v, i) => (i ? g.lineTo(px(i), py(v)) : g.moveTo(px(i), py(v))));
    g.stroke();
  }
  legend(fig, series.map((s) => [`${s.name}${s.y.length ? ' ' + s.y[s.y.length - 1].toPrecision(4) : ''}`, s.color]));
}

function draw(v) {
  const panels = v.panels || [], curves = v.curves || [];
  root.querySelectorAll('.vx-pg-fig').forEach((f) => {
    const [kind, i] = f.id.split('-').slice(2);
    if (Number(i) >= (kind === 'panel' ? panels : curves).length) f.remove();
  });
  panels.forEach(drawAny);
  curves.forEach((cv, i) => drawCurve(box('curve', i, CURVE_H), cv));
  statusLine.textContent = v.status || '';
  draws += 1;
  root.dataset.frame = String(v.frame);
  root.dataset.steps = String(v.steps || 0);
  root.dataset.draws = String(draws);
}

let playing = false, waiting = false, looping = false, pace = 12;
// Each Gradio event's scene (pause, play, a control) starts a new generation: a tick asked for in an earlier one is
// stale when it comes (the event's scene is newer: a tick still in flight when pause is pressed says "training") and
// is dropped, drawn or not, so only an event or a tick of the current generation sets playing.
let generation = 0;

function show(v) {
  draw(v);
  playing = Boolean(v.playing);
  waiting = Boolean(v.waiting);
  pace = v.pace || 12;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function loop() {
  if (looping) return;
  looping = true;
  try {
    while (playing) {
      const t0 = performance.now(), asked = generation;
      let answer, failed = null;
      try {
        answer = JSON.parse(await server.tick(null));
      } catch (err) {
        failed = err;
      }
      if (asked === generation) {  // else stale: an event's scene came meanwhile and stands
        if (failed) {
          statusLine.textContent = 'paused: the server did not answer (' + failed + '); press play to go on';
          playing = false;
          break;
        }
        show(answer);
      }
      await sleep(Math.max(0, 1000 / (waiting ? WAITING_PER_S : pace) - (performance.now() - t0)));
    }
  } finally {
    looping = false;
  }
}

function fromEvent() {
  if (!props.value) return;
  generation += 1;
  show(JSON.parse(props.value));
  if (playing) loop();
}

fromEvent();
watch('value', fromEvent);
