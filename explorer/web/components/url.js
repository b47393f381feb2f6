// The page's shareable URL (views/url.py), or one view's part of it: props.value is the query string of what the page
// (or the view) shows; each new value replaces its keys in the address bar's query (history.replaceState: no reload,
// no new history entry) once the page has shown no newer value for IDLE_MS: Chromium fetches the page's new URL after
// each replaceState (a full page from the server), which would otherwise share the CPU with the next click.
// An element marked data-url-prefix (the Playground's: pg_) owns the keys with that prefix; the page's own element
// owns every other key. Each keeps the other's keys as they are. The first, empty value leaves the URL the page was
// opened with alone (the server restores the view from it).
const IDLE_MS = 1000;
const VIEW_PREFIXES = ['pg_'];
const mark = element.querySelector('[data-url-prefix]');
const prefix = mark ? mark.dataset.urlPrefix : null;
const keyOf = (part) => decodeURIComponent(part.split('=')[0].replace(/\+/g, ' '));
const mine = (key) => (prefix ? key.startsWith(prefix) : !VIEW_PREFIXES.some((p) => key.startsWith(p)));
let timer = null, shown = false;

function apply() {
  timer = null;
  if (!props.value && (!prefix || !shown)) return;  // a view's later empty value clears its keys
  shown = true;
  const others = location.search.replace(/^\?/, '').split('&').filter((part) => part && !mine(keyOf(part)));
  const parts = prefix ? [...others, ...(props.value ? [props.value] : [])] : [props.value, ...others];
  const q = parts.length ? '?' + parts.join('&') : '';
  if (location.search !== q) history.replaceState(history.state, '', location.pathname + q + location.hash);
}
apply();
watch('value', () => { shown = true; clearTimeout(timer); timer = setTimeout(apply, IDLE_MS); });
addEventListener('pagehide', () => { if (timer !== null) { clearTimeout(timer); apply(); } });
