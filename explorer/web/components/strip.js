// A strip of thumbnails (strip.py): a click on one triggers `click` with its test image index.
element.addEventListener('click', (e) => {
  const b = e.target.closest('button[data-index]');
  if (b) trigger('click', {index: Number(b.dataset.index)});
});
