// The page's shareable URL (views/url.py): props.value is the query string of what the page shows; each new value
// replaces the address bar's query (history.replaceState: no reload, no new history entry). The first, empty value
// leaves the URL the page was opened with alone (the server restores the view from it).
function apply() {
  if (!props.value) return;
  const q = '?' + props.value;
  if (location.search !== q) history.replaceState(history.state, '', location.pathname + q + location.hash);
}
apply();
watch('value', apply);
