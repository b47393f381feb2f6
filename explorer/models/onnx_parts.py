"""A model's parts as ONNX graphs, for a page that runs them in the browser (onnxruntime-web), each checked against
PyTorch on the same inputs.

    LatentModel   decoder: z (B, d) float32 -> image (B, C, H, W) in [0, 1]     decode_location(z)
                  encoder: x (B, C, H, W) in [0, 1] -> mu (B, d)                 the mean of q(z|x)
    CodeModel     decoder: grid (B, h, w) int64 -> image (B, C, H, W) in [0, 1]  decode_indices(grid)
                  encoder: x (B, C, H, W) in [0, 1] -> grid (B, h, w) int64      the nearest code of each cell
                  prior:   inputs (B, T) int64 -> logits (B, T, K)               log p(c_t | c_<t) up to a constant,
                           inputs (BOS, c_0, ..., c_{T-2}) in raster order        (with a prior over code grids)

Any model behind the interface exports this way: a part is the interface's own method traced into a graph, so a new
kind of model needs nothing here. The batch size is free (dynamic axis 0).

`check` runs the graph with onnxruntime beside PyTorch and gives the largest difference: images in [0, 1] units,
latents in their own units, code grids as the share of cells that differ.
"""
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from explorer.models.interface import CodeModel, LatentModel, Model

TOLERANCE = 1e-4  # the most an ONNX part may differ from PyTorch (image units in [0, 1]; latent units; for code
#                   grids, the share of cells whose code differs)
MAX_MB = 50  # a part larger than this is too large for a page (every visitor downloads it)


class PartMismatch(ValueError):
    """An ONNX part whose outputs differ from PyTorch's by more than TOLERANCE."""


@dataclass
class Part:
    name: str  # "decoder" or "encoder"
    input_name: str  # what the page feeds it: "z", "grid" or "x"
    output_name: str  # "image", "mu" or "grid"
    run: object  # the PyTorch function the graph is traced from (a method of the model)
    example: torch.Tensor  # a batch of inputs it is traced and checked on
    weights: object  # () -> the tensors it computes with (the tracer writes them into the graph)
    free: tuple[int, ...] = (0,)  # the input's axes whose size the graph leaves free (the output's first ones too)

    def reference(self, inputs: torch.Tensor) -> np.ndarray:
        with torch.no_grad():
            return self.run(inputs).cpu().numpy()


class _Traced(torch.nn.Module):
    """One method of a model as a module torch.onnx can trace; its weights come along as constants."""

    def __init__(self, run):
        super().__init__()
        self.run = run

    def forward(self, inputs):
        return self.run(inputs)


def parts(model: Model, images: torch.Tensor) -> list[Part]:
    """The decoder and encoder of `model`, with example inputs made from `images` (B, C, H, W) in [0, 1]."""
    x = images.to(model.device, torch.float32)
    with torch.no_grad():
        if isinstance(model, LatentModel):
            mu = model.encode(x)[0]
            return [Part("decoder", "z", "image", model.decode_location, mu, model.parameters),
                    Part("encoder", "x", "mu", lambda im: model.encode(im)[0], x, model.parameters)]
        if isinstance(model, CodeModel):
            grid = model.encode_indices(x)
            found = [Part("decoder", "grid", "image", lambda g: model.decode_indices(g), grid.long(), model.parameters),
                     Part("encoder", "x", "grid", lambda im: model.encode_indices(im).long(), x, model.parameters)]
            if model.prior is not None:
                prior = model.prior
                found.append(Part("prior", "inputs", "logits", prior.logits, prior.inputs(grid), prior.parameters,
                                  (0, 1)))
            return found
    raise TypeError(f"{type(model).__name__} is neither a LatentModel nor a CodeModel")


def export(part: Part, path: str | Path) -> int:
    """Write `part` as an ONNX file at `path`; its size in bytes."""
    weights = [w for w in part.weights() if w.requires_grad]
    try:
        for w in weights:  # the tracer takes the weights as constants, which must not ask for gradients
            w.requires_grad_(False)
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the tracer's notes on Python values it froze (shapes, constants)
            torch.onnx.export(_Traced(part.run).eval(), (part.example,), str(path), input_names=[part.input_name],
                              output_names=[part.output_name], opset_version=17, dynamo=False,
                              dynamic_axes={name: {a: f"axis{a}" for a in part.free}
                                            for name in (part.input_name, part.output_name)})
    finally:
        for w in weights:
            w.requires_grad_(True)
    return os.path.getsize(path)


def difference(part: Part, path: str | Path, inputs: torch.Tensor | None = None) -> float:
    """The largest difference between the ONNX graph at `path` and PyTorch on `inputs` (its example by default)."""
    import onnxruntime

    inputs = part.example if inputs is None else inputs
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {part.input_name: inputs.cpu().numpy()})[0]
    want = part.reference(inputs)
    if got.shape != want.shape:
        raise PartMismatch(f"the {part.name}'s ONNX output has shape {got.shape}, PyTorch's {want.shape}")
    if part.output_name == "grid":
        return float((got != want).mean())
    return float(np.abs(got.astype(np.float64) - want.astype(np.float64)).max())


def check(part: Part, path: str | Path, tolerance: float = TOLERANCE) -> float:
    """difference(), refusing a part over `tolerance` with which part and by how much."""
    diff = difference(part, path)
    if not diff <= tolerance:
        what = "of its code cells differ" if part.output_name == "grid" else "at most"
        raise PartMismatch(f"the {part.name}'s ONNX graph disagrees with PyTorch: {diff:.3g} {what} (tolerance "
                           f"{tolerance:g}) on {len(part.example)} images. The model uses an operation that exports "
                           "differently; run the app for this model instead of the static page.")
    return diff
