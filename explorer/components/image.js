// The decoded current latent (image.py): decodes 'vx-decode' requests from the map and the sliders directly.
let next = null, busy = false, generation = 0;

document.addEventListener('vx-decode', (e) => { next = e.detail; pump(); });
watch('value', () => { generation += 1; });  // Gradio sent a newer image: drop decodes under way

async function pump() {
  if (busy || next === null) return;
  const request = next, started = generation;
  next = null;
  busy = true;
  try {
    const uri = await server.decode(request);
    const img = element.querySelector('img');
    if (typeof uri === 'string' && img && started === generation) img.src = uri;
  } catch (err) {
    console.warn('direct decode failed; the event path still updates the image', err);
  } finally {
    busy = false;
    pump();  // the newest request that came meanwhile, if any
  }
}
