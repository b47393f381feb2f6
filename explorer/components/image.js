// The decoded current latent (image.py): decodes 'vx-decode' requests from the map and the sliders directly.
// A request's detail gets `shown`, a promise settled once it (or a newer request) has been shown or has failed, so
// that the sender can hold back its Gradio event until then: the two requests would otherwise share the server's CPU.
let next = null, busy = false, generation = 0, sequence = 0;
const waiting = [];  // [sequence number, resolve] of requests not yet settled

document.addEventListener('vx-decode', (e) => {
  const seq = ++sequence;
  e.detail.shown = new Promise((resolve) => waiting.push([seq, resolve]));
  next = {request: e.detail, seq};
  pump();
});
watch('value', () => { generation += 1; });  // Gradio sent a newer image: drop decodes under way

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
    const {shown, ...ask} = request;
    const uri = await server.decode(ask);
    const img = element.querySelector('img');
    if (typeof uri === 'string' && img && started === generation) img.src = uri;
  } catch (err) {
    console.warn('direct decode failed; the event path still updates the image', err);
  } finally {
    busy = false;
    settle(seq);
    pump();  // the newest request that came meanwhile, if any
  }
}
