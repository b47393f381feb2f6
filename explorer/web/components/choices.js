// Clickable codes (choices.py). props.value: JSON {title, items: [{code, label, hint, bar}]}, drawn as a row of
// buttons (a bar of `bar` x 60 px when it is a number); a click on one triggers `click` with its code.
const host = element.querySelector('.vx-choices-host') || element;
const escape = (s) => String(s).replace(/[&<>"]/g, (ch) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;'}[ch]));

function render() {
  const v = props.value ? JSON.parse(props.value) : null;
  if (!v || (!v.title && !v.items.length)) { host.innerHTML = ''; return; }
  const buttons = v.items.map((i) => `<button class="vx-choice" data-code="${Number(i.code)}" title="`
    + `${escape(i.hint)}"><span class="vx-code">${Number(i.code)}</span>`
    + (typeof i.bar === 'number' ? `<span class="vx-bar" style="width:${Math.max(2, Math.round(60 * i.bar))}px">`
       + '</span>' : '')
    + `<span class="vx-p">${escape(i.label)}</span></button>`).join('');
  host.innerHTML = `<div class="vx-choices"><div class="vx-choices-title">${escape(v.title)}</div>${buttons}</div>`;
}

element.addEventListener('click', (e) => {
  const b = e.target.closest('button[data-code]');
  if (b) trigger('click', {code: Number(b.dataset.code)});
});
render();
watch('value', render);
