// Clickable choices (choices.py): a click on one triggers `click` with its code.
element.addEventListener('click', (e) => {
  const b = e.target.closest('button[data-code]');
  if (b) trigger('click', {code: Number(b.dataset.code)});
});
