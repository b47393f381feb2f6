"""A model's parts as ONNX graphs, for a page that runs them in the browser (onnxruntime-web), each checked against
PyTorch on the same inputs.

    LatentModel   decoder: z (B, d) float32 -> image (B, C, H, W) in [0, 1]     decode_location(z)
                  encoder: x (B, C, H, W) in [0, 1] -> mu (B, d)                 the mean of q(z|x)
    CodeModel     decoder: grid (B, h, w) int64 -> image (B, C, H, W) in [0, 1]  decode_indices(grid)
                  encoder: x (B, C, H, W) in [0, 1] -> grid (B, h, w) int64      the nearest code of each cell
                  prior:   token (B,) int64, pos () int64, keys, values        a prior's sampling step (if it has a
                           -> logits (B, K), next_keys, next_values               prior): log p(c_pos | c_<pos) up to a
                                                                                  constant, and the cache with pos in

Any model behind the interface exports this way: a part is the interface's own method traced into a graph, so a new
kind of model needs nothing here. The batch size is free (dynamic axis 0).

`check` runs the graph with onnxruntime beside PyTorch and gives the largest difference: images in [0, 1] units,
latents, logits, keys and values in their own units, code grids as the share of cells that differ.
"""
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from explorer.models.interface import CodeModel, LatentModel, Model

TOLERANCE = 1e-4  # the most an ONNX part may differ from PyTorch (image units in [0, 1]; latent or logit units;
#                   for code grids, the share of cells whose code differs)
MAX_MB = 50  # a part larger than this is too large for a page (every visitor downloads it)


class PartMismatch(ValueError):
    """An ONNX part whose outputs differ from PyTorch's by more than TOLERANCE."""


@dataclass
class Part:
    name: str  # "decoder", "encoder" or "prior"
    example: dict[str, torch.Tensor]  # each input's name (as the page feeds it) and a batch to trace and check it on
    outputs: tuple[str, ...]  # its outputs' names: ("image",), ("mu",), ("grid",) or ("logits", "next_keys", ...)
    run: object  # (*inputs) -> its output or outputs: the PyTorch function the graph is traced from
    weights: object  # () -> the tensors it computes with (the tracer writes them into the graph)
    free: dict[str, tuple[int, ...]] = field(default_factory=dict)  # name -> its axes of free size; default: axis 0

    def reference(self, inputs: dict[str, torch.Tensor]) -> list[np.ndarray]:
        with torch.no_grad():
            out = self.run(*inputs.values())
        return [t.cpu().numpy() for t in (out if isinstance(out, tuple) else (out,))]

    def axes(self, name: str) -> tuple[int, ...]:
        return self.free.get(name, (0,))


class _Traced(torch.nn.Module):
    """One method of a model as a module torch.onnx can trace; its weights come along as constants."""

    def __init__(self, run):
        super().__init__()
        self.run = run

    def forward(self, *inputs):
        return self.run(*inputs)


def one(name: str, input_name: str, output: str, run, example: torch.Tensor, weights) -> Part:
    """A part of one input and one output."""
    return Part(name, {input_name: example}, (output,), run, weights)


def parts(model: Model, images: torch.Tensor) -> list[Part]:
    """The decoder and encoder of `model` (and a VQ-VAE's prior's sampling step), with example inputs made from
    `images` (B, C, H, W) in [0, 1]."""
    x = images.float()
    with torch.no_grad():
        if isinstance(model, LatentModel):
            mu = model.encode(x)[0]
            return [one("decoder", "z", "image", model.decode_location, mu, model.parameters),
                    one("encoder", "x", "mu", lambda im: model.encode(im)[0], x, model.parameters)]
        if isinstance(model, CodeModel):
            grid = model.encode_indices(x)
            found = [one("decoder", "grid", "image", lambda g: model.decode_indices(g), grid.long(), model.parameters),
                     one("encoder", "x", "grid", lambda im: model.encode_indices(im).long(), x, model.parameters)]
            if model.prior is not None:
                found.append(prior_step(model.prior, grid))
            return found
    raise TypeError(f"{type(model).__name__} is neither a LatentModel nor a CodeModel")


def prior_step(prior, grid: torch.Tensor) -> Part:
    """A prior's sampling step (vae_core's CodePrior.step): token (B,), pos (), keys and values (layers, B, heads, N,
    C / heads) -> logits (B, K), keys, values. The example is the step at the middle cell of `grid`'s images, with
    the keys and values of the cells before it."""
    inputs, t = prior.inputs(grid), prior.num_cells // 2
    with torch.no_grad():
        cache = prior.new_cache(len(grid))  # (layers, 2, B, heads, N, hd): the sampler's cache after t steps
        prior.logits(inputs[:, :t], cache)
    keys, values = cache[:, 0].clone(), cache[:, 1].clone()
    keys[:, :, :, t:] = values[:, :, :, t:] = 0
    example = {"token": inputs[:, t], "pos": torch.tensor(t), "keys": keys, "values": values}
    return Part("prior", example, ("logits", "next_keys", "next_values"), prior.step, prior.parameters,
                {"pos": (), "keys": (1,), "values": (1,), "next_keys": (1,), "next_values": (1,)})


def export(part: Part, path: str | Path) -> int:
    """Write `part` as an ONNX file at `path`; its size in bytes."""
    weights = [w for w in part.weights() if w.requires_grad]
    names = [*part.example, *part.outputs]
    try:
        for w in weights:  # the tracer takes the weights as constants, which must not ask for gradients
            w.requires_grad_(False)
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the tracer's notes on Python values it froze (shapes, constants)
            torch.onnx.export(_Traced(part.run).eval(), tuple(part.example.values()), str(path),
                              input_names=list(part.example), output_names=list(part.outputs), opset_version=17,
                              dynamo=False, dynamic_axes={n: {a: f"{n}{a}" for a in part.axes(n)} for n in names
                                                          if part.axes(n)})
    finally:
        for w in weights:
            w.requires_grad_(True)
    return os.path.getsize(path)


def difference(part: Part, path: str | Path, inputs: dict[str, torch.Tensor] | None = None) -> float:
    """The largest difference between the ONNX graph at `path` and PyTorch on `inputs` (its example by default),
    over its outputs: a code grid's share of cells that differ, else the largest absolute difference."""
    import onnxruntime

    inputs = part.example if inputs is None else inputs
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {name: t.cpu().numpy() for name, t in inputs.items()})
    worst = 0.0
    for name, g, want in zip(part.outputs, got, part.reference(inputs)):
        if g.shape != want.shape:
            raise PartMismatch(f"the {part.name}'s ONNX output {name} has shape {g.shape}, PyTorch's {want.shape}")
        diff = (g != want).mean() if name == "grid" else np.abs(g.astype(np.float64) - want.astype(np.float64)).max()
        worst = max(worst, float(diff))
    return worst


def check(part: Part, path: str | Path, tolerance: float = TOLERANCE) -> float:
    """difference(), refusing a part over `tolerance` with which part and by how much."""
    diff = difference(part, path)
    if not diff <= tolerance:
        what = "of its code cells differ" if part.outputs == ("grid",) else "at most"
        raise PartMismatch(f"the {part.name}'s ONNX graph disagrees with PyTorch: {diff:.3g} {what} (tolerance "
                           f"{tolerance:g}) on {len(next(iter(part.example.values())))} images. The model uses an "
                           "operation that exports differently; run the app for this model instead of the static "
                           "page.")
    return diff
