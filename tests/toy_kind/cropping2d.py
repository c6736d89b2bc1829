"""A toy layer kind, Cropping2D, written the way docs/adding_a_kind.md says a new kind is
added: this module and its two templates (templates/firmware/layers/cropping2d.h.j2 and
cropping2d_stream.h.j2), nothing else. tests/test_new_kind.py registers it for a test and
converts models that use it, in both io forms, against Keras and the numpy reference.

One step per input pixel in raster order: every step reads a pixel, the steps inside the kept
window write it (converted to the result type); no storage, no multiplier.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ikr_hls import codes as C
from ikr_hls.attributes import Attributes, attributes_of, not_negative
from ikr_hls.expr import Expr, Var, all_of
from ikr_hls.hardware import Cost, chain
from ikr_hls.ir import Layer
from ikr_hls.kinds.base import LayerKind, Sample, View, no_accumulator
from ikr_hls.kinds.keras_reading import check_channels_last, image_shape, unsupported
from ikr_hls.loops import LoopNest
from ikr_hls.precision import requantize

Y, X = Var("y"), Var("x")


@dataclass(frozen=True)
class CropAttributes(Attributes):
    """Rows and columns cut from each side."""
    top: int
    bottom: int
    left: int
    right: int

    def check(self) -> None:
        not_negative(self, "top", "bottom", "left", "right")


def _attributes(layer: Layer) -> CropAttributes:
    return attributes_of(layer, CropAttributes)


def _cropping2d(klayer, shape, source):
    h, w, c = image_shape(klayer, shape, source)
    check_channels_last(klayer, source)
    (top, bottom), (left, right) = klayer.cropping
    if top + bottom >= h or left + right >= w:
        raise unsupported(klayer, source, f"cropping {klayer.cropping} of a {h}x{w} image (nothing left)")
    return Layer(name="", kind="cropping2d", keras_name=klayer.name, in_shape=(h, w, c),
                 out_shape=(h - top - bottom, w - left - right, c),
                 attrs=CropAttributes(top=top, bottom=bottom, left=left, right=right))


def template(layer: Layer) -> str:
    return "cropping2d"


def _kept(layer: Layer) -> Expr:
    """The input pixel (y, x) is inside the kept window: the step writes it."""
    a = _attributes(layer)
    h, w, _ = layer.in_shape
    return all_of(Y >= a.top if a.top else None, Y < h - a.bottom if a.bottom else None,
                  X >= a.left if a.left else None, X < w - a.right if a.right else None)


@dataclass(frozen=True, kw_only=True)
class CropView(View):
    """cropping2d.h.j2 and cropping2d_stream.h.j2: the image, the kept window and its condition."""
    h: int
    w: int
    c: int
    oh: int
    ow: int
    top: int
    left: int
    kept: Expr


def view(layer: Layer) -> CropView:
    h, w, c = layer.in_shape
    oh, ow, _ = layer.out_shape
    a = _attributes(layer)
    return CropView(h=h, w=w, c=c, oh=oh, ow=ow, top=a.top, left=a.left, kept=_kept(layer),
                    keras_class="Cropping2D",
                    summary=f"Cropping2D {a.top},{a.bottom} x {a.left},{a.right}")


def loop_nest(layer: Layer) -> LoopNest:
    """Every step reads a pixel; the kept ones write it."""
    h, w, _ = layer.in_shape
    return LoopNest((("y", h), ("x", w)), writes=_kept(layer))


def reference(layer: Layer, ins: list) -> np.ndarray:
    (codes, in_t), = ins
    a = _attributes(layer)
    h, w, _ = layer.in_shape
    kept = codes[:, a.top:h - a.bottom, a.left:w - a.right]
    return requantize(kept, in_t.fractional, C.fixed_types(layer)["result"])


def cost(layer: Layer) -> Cost:
    """One input pixel per step at II 1: wires and type conversions."""
    steps = layer.in_shape[0] * layer.in_shape[1]
    return Cost(ii=1, iterations=steps, chain=chain(("read", 1), ("write", 1)))


KIND = LayerKind(
    name="cropping2d", keras={"Cropping2D": _cropping2d}, attributes=CropAttributes,
    samples={"Cropping2D": Sample(lambda L: L.Cropping2D(((1, 0), (2, 1))), (6, 6, 2))},
    roles=("result",), templates=("cropping2d", "cropping2d_stream"), template=template, view=view,
    reference=reference, cost=cost, default_accum=no_accumulator, loop_nest=loop_nest)
