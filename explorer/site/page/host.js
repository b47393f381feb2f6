// The host that runs the app's own components (explorer/web/components/*.js) in a page without Gradio. Each
// component is the body of Gradio's gr.HTML `js_on_load`: it gets `element`, `props` (its value), `watch` (a
// callback when the value changes), `trigger` (an event with data, for whoever hosts it) and `server` (the
// functions it calls: the backend it is given). Here the backend is the page's own (site.js).

export async function mount(elementId, template, script, server, onTrigger = () => {}) {
  // Run component `script` (a URL) in the element with id `elementId`; the returned object sets its value.
  const element = document.getElementById(elementId);
  element.innerHTML = template;
  const code = await (await fetch(script)).text();
  const watchers = [];
  let value = '';
  const props = {};
  Object.defineProperty(props, 'value', {get: () => value});
  const watch = (key, fn) => { if (key === 'value') watchers.push(fn); };
  const trigger = (event, data) => onTrigger(event, data);
  new Function('element', 'props', 'trigger', 'watch', 'server', code)(element, props, trigger, watch, server);
  return {
    set(v) { value = v; for (const fn of watchers) fn(); },
    get value() { return value; },
  };
}
