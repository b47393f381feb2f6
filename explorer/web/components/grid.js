// The code grid (grid.py): a click on a cell triggers `click` with its row and column.
element.addEventListener('click', (e) => {
  const td = e.target.closest('td[data-row]');
  if (td) trigger('click', {row: Number(td.dataset.row), col: Number(td.dataset.col)});
});
