"""pad2d: a ZeroPadding2D that is not merged into the conv after it (it feeds a pooling, an
Add, or several layers); and the zero insertion of a Conv2DTranspose (kinds/conv2d.py), which
writes its input pixels DH rows and DW columns apart with zeros between them (attrs dil_h,
dil_w; no border padding: its conv pads the borders)."""
from __future__ import annotations

import numpy as np

from .. import codes as C
from ..expr import Expr, all_of
from ..ir import Layer
from ..loops import LoopNest
from ..precision import requantize
from .base import Cost, LayerKind, no_accumulator, pixel_steps_cost
from .keras_reading import check_channels_last, image_shape
from .window import COL_PHASE, ROW_PHASE, X, Y

ROLES = ("result",)


def _zero_padding2d(klayer, shape, source):
    h, w, c = image_shape(klayer, shape, source)
    check_channels_last(klayer, source)
    (pt, pb), (pl, pr) = klayer.padding
    return Layer(name="", kind="pad2d", keras_name=klayer.name, in_shape=(h, w, c),
                 out_shape=(h + pt + pb, w + pl + pr, c),
                 attrs=dict(pad_top=pt, pad_bottom=pb, pad_left=pl, pad_right=pr))


def template(layer: Layer) -> str:
    return "pad2d"


def _dilation(layer: Layer) -> tuple[int, int]:
    return layer.attrs.get("dil_h", 1), layer.attrs.get("dil_w", 1)


def _inside(layer: Layer) -> Expr:
    """The output step (y, x) carries an input pixel (not padding, not an inserted zero)."""
    a = layer.attrs
    h, w, _ = layer.in_shape
    dh, dw = _dilation(layer)
    if dh > 1 or dw > 1:            # zero insertion: phase counters say which steps carry a pixel
        return all_of(ROW_PHASE.eq(0) if dh > 1 else None, COL_PHASE.eq(0) if dw > 1 else None)
    return all_of(Y >= a["pad_top"] if a["pad_top"] else None, Y < a["pad_top"] + h if a["pad_bottom"] else None,
                  X >= a["pad_left"] if a["pad_left"] else None, X < a["pad_left"] + w if a["pad_right"] else None)


def view(layer: Layer) -> dict:
    h, w, c = layer.in_shape
    a = layer.attrs
    dh, dw = _dilation(layer)
    if dh > 1 or dw > 1:
        return dict(h=h, w=w, c=c, oh=layer.out_shape[0], ow=layer.out_shape[1], dil_h=dh, dil_w=dw,
                    inside=_inside(layer), pad_top=0, pad_bottom=0, pad_left=0, pad_right=0,
                    keras_class="Conv2DTranspose", summary=f"zero insertion {dh}x{dw} of a Conv2DTranspose")
    return dict(h=h, w=w, c=c, oh=layer.out_shape[0], ow=layer.out_shape[1], inside=_inside(layer),
                pad_top=a["pad_top"], pad_bottom=a["pad_bottom"], pad_left=a["pad_left"],
                pad_right=a["pad_right"], keras_class="ZeroPadding2D", dil_h=1, dil_w=1,
                summary=f"ZeroPadding2D {a['pad_top']},{a['pad_bottom']} x {a['pad_left']},{a['pad_right']}")


def loop_nest(layer: Layer) -> LoopNest:
    """One step per output pixel, raster order: each writes, the ones inside the image read.
    The phase counters (zero insertion) count rows and columns modulo the dilation."""
    oh, ow = layer.out_shape[:2]
    dh, dw = _dilation(layer)
    counters = ((("row_phase", Y % dh),) if dh > 1 else ()) + ((("col_phase", X % dw),) if dw > 1 else ())
    return LoopNest((("y", oh), ("x", ow)), reads=_inside(layer), counters=counters)


def reference(layer: Layer, ins: list) -> np.ndarray:
    (codes, in_t), = ins
    a = layer.attrs
    dh, dw = _dilation(layer)
    if dh > 1 or dw > 1:
        n, h, w, c = codes.shape
        spread = np.zeros((n, (h - 1) * dh + 1, (w - 1) * dw + 1, c), dtype=np.int64)
        spread[:, ::dh, ::dw] = codes
        codes = spread
    padded = np.pad(codes, ((0, 0), (a["pad_top"], a["pad_bottom"]), (a["pad_left"], a["pad_right"]), (0, 0)))
    return requantize(padded, in_t.fractional, C.fixed_types(layer)["result"])


def cost(layer: Layer) -> Cost:
    """One output pixel per step, II 1."""
    return pixel_steps_cost(layer)



KIND = LayerKind(
    name="pad2d", keras={"ZeroPadding2D": _zero_padding2d},
    roles=ROLES, templates=("pad2d", "pad2d_stream"), template=template, view=view,
    reference=reference, cost=cost, default_accum=no_accumulator, loop_nest=loop_nest)
