"""The code grid component at the sizes a VQ model may have: 7 x 7 up to 32 x 32."""
import re

from explorer.web.components.grid import grid_html


def test_every_cell_is_clickable_with_its_row_and_column_and_large_grids_get_small_cells():
    for n, size in ((7, ""), (16, "vx-grid-medium"), (32, "vx-grid-dense")):
        grid = [[(r * n + c) % 512 for c in range(n)] for r in range(n)]
        html = grid_html(grid, (n - 1, 2))
        cells = re.findall(r'<td data-row="(\d+)" data-col="(\d+)"', html)
        assert len(cells) == n * n and cells[-1] == (str(n - 1), str(n - 1))
        assert f'data-row="{n - 1}" data-col="2" class="sel"' in html
        assert (size in html) if size else ("vx-grid-medium" not in html and "vx-grid-dense" not in html)
        assert html.startswith('<div class="vx-grid-box">')
