"""Numbers for plotly.js as its binary arrays: {"dtype": "f4", "bdata": base64 of the little-endian bytes}.

plotly.js (2.28 and later) reads them wherever it reads a data array (x, y, customdata, marker.color). At 70,000
points a JSON list of rounded floats costs about 8 characters a number and a Python float per number to build;
base64 costs 4/3 of the 4 raw bytes, and numpy writes them at once. The page (components/plot.js) turns them into
JavaScript typed arrays before drawing, so its own loops (box selection) read plain arrays.
"""
import base64

import numpy as np

DTYPES = {"f4": "<f4", "i4": "<i4", "u1": "u1"}  # the plotly.js names this module writes, as numpy dtypes


def binary_array(values, dtype: str = "f4") -> dict:
    """values (any shape: flattened) as a plotly.js binary array of `dtype` ("f4", "i4" or "u1")."""
    raw = np.ascontiguousarray(np.asarray(values).ravel(), dtype=DTYPES[dtype]).tobytes()
    return {"dtype": dtype, "bdata": base64.b64encode(raw).decode("ascii")}


def decode_array(spec: dict) -> np.ndarray:
    """The numbers of a binary array (binary_array's inverse): for tests and benchmarks."""
    return np.frombuffer(base64.b64decode(spec["bdata"]), dtype=DTYPES[spec["dtype"]])
