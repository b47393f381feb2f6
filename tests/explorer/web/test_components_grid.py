"""The code grid component's value: the grid's codes as integers and the selected cell; no grid, no rows (its
drawing at the sizes a VQ model may have is tests/browser/test_components.py)."""
import json

import numpy as np

from explorer.web.components.grid import grid_value


def test_the_value_holds_the_codes_as_integers_and_the_selected_cell():
    grid = np.arange(49, dtype=np.int64).reshape(7, 7)
    v = json.loads(grid_value(grid, (6, np.int64(2))))
    assert v == {"grid": grid.tolist(), "cell": [6, 2]}
    assert json.loads(grid_value(None, (0, 0))) == {"grid": [], "cell": [0, 0]}
