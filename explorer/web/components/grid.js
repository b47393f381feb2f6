// The code grid (grid.py). props.value: JSON {grid: [[code, ...], ...], cell: [row, col]}, drawn as a table of
// clickable cells (the selected one outlined); a click on a cell triggers `click` with its row and column.
const host = element.querySelector('.vx-grid-host') || element;

function render() {
  const v = props.value ? JSON.parse(props.value) : null;
  if (!v || !v.grid || !v.grid.length) { host.innerHTML = '<p>No VQ-VAE loaded.</p>'; return; }
  const n = v.grid.length, size = n <= 12 ? '' : n <= 20 ? ' vx-grid-medium' : ' vx-grid-dense';
  const rows = v.grid.map((row, r) => '<tr>' + row.map((code, c) => {
    const sel = r === v.cell[0] && c === v.cell[1] ? 'sel' : '';
    return `<td data-row="${r}" data-col="${c}" class="${sel}">${Number(code)}</td>`;
  }).join('') + '</tr>');
  host.innerHTML = `<div class="vx-grid-box"><table class="vx-grid${size}">${rows.join('')}</table></div>`;
}

element.addEventListener('click', (e) => {
  const td = e.target.closest('td[data-row]');
  if (td) trigger('click', {row: Number(td.dataset.row), col: Number(td.dataset.col)});
});
render();
watch('value', render);
