// The page's shareable URL (views/url.py): props.value is the query string of what the page shows; each new value
// replaces the address bar's query (history.replaceState: no reload, no new history entry) once the page has shown
// no newer value for IDLE_MS: Chromium fetches the page's new URL after each replaceState (a full page from the
// server), which would otherwise share the CPU with the next click. The first, empty value leaves the URL the page
// was opened with alone (the server restores the view from it).
const IDLE_MS = 1000;
let timer = null;

function apply() {
  timer = null;
  if (!props.value) return;
  const q = '?' + props.value;
  if (location.search !== q) history.replaceState(history.state, '', location.pathname + q + location.hash);
}
apply();
watch('value', () => { clearTimeout(timer); timer = setTimeout(apply, IDLE_MS); });
addEventListener('pagehide', () => { if (timer !== null) { clearTimeout(timer); apply(); } });
