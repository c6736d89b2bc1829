"""concatenate: a Concatenate of two or more images along the channel axis. Each output pixel
is the inputs' pixels side by side, each value converted to the result type."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import codes as C
from ..ir import Layer
from ..loops import LoopNest
from ..precision import requantize
from .base import Cost, LayerKind, Sample, View, no_accumulator, pixel_steps_cost
from .keras_reading import unsupported

ROLES = ("result",)


def _concatenate(klayer, shapes, source):
    shapes = [tuple(s) for s in shapes]
    if any(len(s) != 3 for s in shapes):
        raise unsupported(klayer, source, f"inputs of shapes {', '.join(map(str, shapes))} "
                          "(only (H, W, C) images, joined along the channels)")
    if klayer.axis not in (-1, 3):
        raise unsupported(klayer, source, f"axis={klayer.axis} (only the channel axis, -1 or 3)")
    if len({s[:2] for s in shapes}) > 1:
        raise unsupported(klayer, source, f"inputs of shapes {', '.join(map(str, shapes))} "
                          "(the images must have the same height and width)")
    h, w = shapes[0][:2]
    c = sum(s[2] for s in shapes)
    return Layer(name="", kind="concatenate", keras_name=klayer.name, in_shape=(h, w, c), out_shape=(h, w, c),
                 input_shapes=shapes)


def channels(layer: Layer) -> list:
    return [int(layer.input_shape(k)[-1]) for k in range(len(layer.inputs))]


def template(layer: Layer) -> str:
    return "concatenate"


@dataclass(frozen=True, kw_only=True)
class ConcatenateView(View):
    """concatenate.h.j2: the inputs' channels side by side, pixel by pixel."""
    h: int
    w: int
    c: int
    pixels: int
    channels: list
    offsets: list


def view(layer: Layer) -> ConcatenateView:
    h, w, c = layer.out_shape
    cs = channels(layer)
    offsets = [int(sum(cs[:k])) for k in range(len(cs))]
    return ConcatenateView(h=h, w=w, c=c, pixels=h * w, channels=cs, offsets=offsets, keras_class="Concatenate",
                summary=f"Concatenate of {len(cs)} inputs ({' + '.join(map(str, cs))} channels)")


def loop_nest(layer: Layer) -> LoopNest:
    """One step per pixel: each reads a pixel of every input and writes one."""
    return LoopNest((("p", layer.out_shape[0] * layer.out_shape[1]),))


def reference(layer: Layer, ins: list) -> np.ndarray:
    result_t = C.fixed_types(layer)["result"]
    return np.concatenate([requantize(codes, t.fractional, result_t) for codes, t in ins], axis=-1)


def cost(layer: Layer) -> Cost:
    """One output pixel per step, II 1: wires and type conversions, no storage."""
    return pixel_steps_cost(layer)



SAMPLES = {"Concatenate": Sample(lambda L: L.Concatenate(), [(6, 6, 2), (6, 6, 3)])}

KIND = LayerKind(
    samples=SAMPLES,
    name="concatenate", keras={"Concatenate": _concatenate}, multi_input=frozenset({"Concatenate"}),
    roles=ROLES, templates=("concatenate", "concatenate_stream"), template=template, view=view,
    reference=reference, cost=cost, default_accum=no_accumulator, loop_nest=loop_nest)
